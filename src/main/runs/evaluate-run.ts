// Evaluates a run's predictions against the labels of its task at one scope, stores the report
// with the run (runs.metrics_json keyed by scope) and returns it. By default only the studies its
// lineage never trained or validated on count (evaluation-set.ts); intervals resample patients.
import { CleftError } from '../../common/errors';
import type { ClassificationReport } from '../../common/runs';
import type { RunsRepo } from '../db/runs-repo';
import type { SplitsRepo } from '../db/splits-repo';
import type { TasksRepo } from '../db/tasks-repo';
import { evaluate } from '../../native/cleft/metrics';
import { patientCluster, selectEvaluationSet } from './evaluation-set';

export function evaluateRun(
  repos: { runs: RunsRepo; tasks: TasksRepo; splits: SplitsRepo },
  runId: number,
  scope: 'image' | 'breast' | 'exam',
  options: { bootstrapSamples: number; seed: number; includeTraining?: boolean },
): ClassificationReport {
  const { runs, tasks, splits } = repos;
  const run = runs.getRun(runId);
  if (run.taskId === null) throw new CleftError('conflict', `run ${runId} has no task to evaluate against`);
  const task = tasks.get(run.taskId);
  const classes = task.classes.map((c) => c.name);
  const all = runs.allPredictions(runId, scope).filter((p) => p.label !== null && classes.includes(p.label));
  if (all.length === 0) {
    throw new CleftError(
      'conflict',
      `no ${scope}-level labels for "${task.name}" match this run's predictions; label some ${scope}s first`,
    );
  }
  const { rows: labelled, set } = selectEvaluationSet(runs, splits, run, all, options.includeTraining ?? false);
  if (labelled.length === 0) {
    throw new CleftError(
      'conflict',
      `none of this run's labelled ${scope}s is held out (${set.description}: every labelled study was used in training or validation); ` +
        'evaluate on all studies (--include-training) to see figures that include training data',
    );
  }
  const yTrue = labelled.map((p) => classes.indexOf(p.label!));
  const probs = labelled.map((p) => classes.map((c) => p.probabilities[c] ?? 0));
  const report: ClassificationReport = {
    ...evaluate(yTrue, probs, classes, { ...options, clusters: labelled.map(patientCluster) }),
    evaluationSet: set,
  };
  const stored = (run.metrics ?? {}) as Record<string, unknown>;
  runs.setMetrics(runId, { ...stored, [scope]: report });
  return report;
}
