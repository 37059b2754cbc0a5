// Runs of one task side by side (issue: metrics "comparable across runs"). Each run's metrics on
// its own labelled targets differ in what they cover (a Classify of 10 studies vs one of 1,000),
// so the comparison also measures every run on the targets they all predicted.
import { CleftError } from '../../common/errors';
import type { MetricsSummary, Prediction, Run, RunComparison } from '../../common/runs';
import type { TasksRepo } from '../db/tasks-repo';
import { evaluate, type ClassificationReport } from '../../native/cleft/metrics';
import { patientCluster, selectEvaluationSet, type LineageSources } from './evaluation-set';

const DEFAULT_RUNS = 12;

/** One key per target at a scope: an image, a study's breast, or an exam. */
function targetKey(p: Prediction): string {
  if (p.scope === 'image') return `i${p.instanceId}`;
  if (p.scope === 'breast') return `b${p.studyId}${p.laterality}`;
  return `e${p.studyId}`;
}

function summary(r: ClassificationReport): MetricsSummary {
  return { n: r.n, accuracy: r.accuracy, balancedAccuracy: r.balancedAccuracy, macroAuc: r.macroAuc, ece: r.ece };
}

export function compareRuns(
  repos: LineageSources & { tasks: TasksRepo },
  input: {
    taskId: number;
    scope: 'image' | 'breast' | 'exam';
    runIds?: number[] | undefined;
    bootstrapSamples: number;
    seed: number;
    /** Also count the studies a run's lineage trained or validated on (default: held out only). */
    includeTraining?: boolean | undefined;
  },
): RunComparison {
  const { runs, tasks } = repos;
  const task = tasks.get(input.taskId);
  const classes = task.classes.map((c) => c.name);
  let chosen: Run[];
  if (input.runIds) {
    chosen = input.runIds.map((id) => runs.getRun(id));
    const other = chosen.find((r) => r.taskId !== input.taskId);
    if (other) throw new CleftError('invalid_input', `run ${other.id} is not a run of "${task.name}"`);
  } else {
    chosen = runs
      .listRuns({ taskId: input.taskId })
      .filter((r) => r.predictions > 0)
      .slice(0, DEFAULT_RUNS);
  }
  // Each run's labelled predictions at the scope on its evaluation set, by target.
  const selections = chosen.map((run) =>
    selectEvaluationSet(
      repos,
      run,
      runs.allPredictions(run.id, input.scope).filter((p) => p.label !== null && classes.includes(p.label)),
      input.includeTraining ?? false,
    ),
  );
  const labelled = selections.map((s) => new Map(s.rows.map((p) => [targetKey(p), p] as const)));
  const withTargets = labelled.filter((m) => m.size > 0);
  const common = withTargets.length ? [...withTargets[0]!.keys()].filter((k) => withTargets.every((m) => m.has(k))).sort() : [];
  const options = { bootstrapSamples: input.bootstrapSamples, seed: input.seed };
  const measure = (preds: Prediction[]): MetricsSummary | null =>
    preds.length === 0
      ? null
      : summary(
          evaluate(
            preds.map((p) => classes.indexOf(p.label!)),
            preds.map((p) => classes.map((c) => p.probabilities[c] ?? 0)),
            classes,
            { ...options, clusters: preds.map(patientCluster) },
          ),
        );
  return {
    scope: input.scope,
    commonTargets: common.length,
    rows: chosen.map((run, i) => {
      const byTarget = labelled[i]!;
      return {
        run,
        // both in key order, so a run whose targets are all shared gets the same figures twice
        own: measure([...byTarget.keys()].sort().map((k) => byTarget.get(k)!)),
        common: byTarget.size ? measure(common.map((k) => byTarget.get(k)!)) : null,
        evaluationSet: selections[i]!.set,
      };
    }),
  };
}
