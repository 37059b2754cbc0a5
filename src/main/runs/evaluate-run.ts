// Evaluates a run's predictions against the labels of its task at one scope, stores the report
// with the run (runs.metrics_json keyed by scope) and returns it.
import { CleftError } from '../../common/errors';
import type { ClassificationReport } from '../../common/runs';
import type { RunsRepo } from '../db/runs-repo';
import type { TasksRepo } from '../db/tasks-repo';
import { evaluate } from '../../native/cleft/metrics';

export function evaluateRun(
  runs: RunsRepo,
  tasks: TasksRepo,
  runId: number,
  scope: 'image' | 'breast' | 'exam',
  options: { bootstrapSamples: number; seed: number },
): ClassificationReport {
  const run = runs.getRun(runId);
  if (run.taskId === null) throw new CleftError('conflict', `run ${runId} has no task to evaluate against`);
  const task = tasks.get(run.taskId);
  const classes = task.classes.map((c) => c.name);
  const labelled = runs.allPredictions(runId, scope).filter((p) => p.label !== null && classes.includes(p.label));
  if (labelled.length === 0) {
    throw new CleftError(
      'conflict',
      `no ${scope}-level labels for "${task.name}" match this run's predictions; label some ${scope}s first`,
    );
  }
  const yTrue = labelled.map((p) => classes.indexOf(p.label!));
  const probs = labelled.map((p) => classes.map((c) => p.probabilities[c] ?? 0));
  const report = evaluate(yTrue, probs, classes, options);
  const stored = (run.metrics ?? {}) as Record<string, unknown>;
  runs.setMetrics(runId, { ...stored, [scope]: report });
  return report;
}
