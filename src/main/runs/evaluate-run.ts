// Evaluates a run's predictions against the labels of its task at one scope, stores the report
// with the run (runs.metrics_json keyed by scope) and returns it. By default only the studies its
// lineage never trained or validated on count (evaluation-set.ts); intervals resample patients.
// Nothing held out is a normal answer: an empty report that says why.
import { CleftError } from '../../common/errors';
import type { ClassificationReport, EvaluationSet } from '../../common/runs';
import type { TasksRepo } from '../db/tasks-repo';
import { evaluate } from '../../native/cleft/metrics';
import { patientCluster, selectEvaluationSet, type LineageSources } from './evaluation-set';

export function evaluateRun(
  repos: LineageSources & { tasks: TasksRepo },
  runId: number,
  scope: 'image' | 'breast' | 'exam',
  options: { bootstrapSamples: number; seed: number; includeTraining?: boolean },
): ClassificationReport {
  const { runs, tasks } = repos;
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
  const { rows: labelled, set, emptyReason } = selectEvaluationSet(repos, run, all, options.includeTraining ?? false);
  const yTrue = labelled.map((p) => classes.indexOf(p.label!));
  const probs = labelled.map((p) => classes.map((c) => p.probabilities[c] ?? 0));
  const report: ClassificationReport =
    labelled.length === 0
      ? emptyReport(classes, options, set, emptyReason ?? `no labelled ${scope} among the held-out predictions`)
      : { ...evaluate(yTrue, probs, classes, { ...options, clusters: labelled.map(patientCluster) }), evaluationSet: set };
  const stored = (run.metrics ?? {}) as Record<string, unknown>;
  runs.setMetrics(runId, { ...stored, [scope]: report });
  return report;
}

/** A report with nothing measured (no labelled target held out): the figures null, the reason said. */
function emptyReport(
  classes: string[],
  options: { bootstrapSamples: number; seed: number },
  set: EvaluationSet,
  reason: string,
): ClassificationReport {
  return {
    n: 0,
    classes,
    accuracy: null,
    balancedAccuracy: null,
    macroAuc: null,
    perClass: classes.map((name) => ({ name, support: 0, sensitivity: null, specificity: null, auc: null })),
    confusion: classes.map(() => classes.map(() => 0)),
    ece: null,
    reliability: [],
    roc: classes.map(() => null),
    bootstrap: { samples: options.bootstrapSamples, seed: options.seed, clusters: 0 },
    evaluationSet: set,
    emptyReason: reason,
  };
}
