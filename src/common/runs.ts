// Runs (classification, training, evaluation) and their predictions, as the UI sees them.
import { z } from 'zod';
import { TrainingSplitRecord } from './splits';

export const RunKind = z.enum(['zero-shot', 'prompt-learning', 'contrastive-lora', 'adaptor', 'evaluation']);
export type RunKind = z.infer<typeof RunKind>;

/** What ran, so a result can be traced and reproduced. */
export const RunRecord = z.object({
  modelSha256: z.string().nullable(),
  adapters: z.record(z.string(), z.string()).default({}),
  promptSetSha256: z.string().nullable(),
  preprocessSha256: z.string().nullable(),
  selectionSha256: z.string().nullable(),
  /** The execution provider that actually ran (cpu, cuda:0). */
  executionProvider: z.string().nullable(),
  appVersion: z.string(),
  params: z.record(z.string(), z.unknown()).default({}),
  /** Trainings: the split used and the studies trained and validated on (absent in runs recorded before splits existed). */
  split: TrainingSplitRecord.optional(),
});
export type RunRecord = z.infer<typeof RunRecord>;

export const Run = z.object({
  id: z.number().int(),
  kind: RunKind,
  name: z.string(),
  jobId: z.number().int().nullable(),
  modelId: z.number().int().nullable(),
  taskId: z.number().int().nullable(),
  promptSetId: z.number().int().nullable(),
  /** The learned prompt set's name; null for the task's prompt templates. */
  promptSet: z.string().nullable(),
  record: RunRecord,
  metrics: z.unknown().nullable(),
  predictions: z.number().int(),
  createdAt: z.string(),
});
export type Run = z.infer<typeof Run>;

export const PredictionScope = z.enum(['image', 'breast', 'exam']);

export const Prediction = z.object({
  id: z.number().int(),
  runId: z.number().int().nullable(),
  scope: PredictionScope,
  studyId: z.number().int(),
  instanceId: z.number().int().nullable(),
  laterality: z.string().nullable(),
  view: z.string().nullable(),
  predictedClass: z.string(),
  confidence: z.number(),
  probabilities: z.record(z.string(), z.number()),
  /** The label at the same target and task, if any. */
  label: z.string().nullable(),
  patientId: z.string(),
  accession: z.string().nullable(),
  studyDate: z.string().nullable(),
});
export type Prediction = z.infer<typeof Prediction>;

export const PredictionFilter = z
  .object({
    scope: PredictionScope.optional(),
    predictedClass: z.string().optional(),
    minConfidence: z.number().min(0).max(1).optional(),
    maxConfidence: z.number().min(0).max(1).optional(),
    /** true: only where a label exists and differs; false: only where they agree. */
    disagreement: z.boolean().optional(),
    labelled: z.boolean().optional(),
  })
  .strict();
export type PredictionFilter = z.infer<typeof PredictionFilter>;

const Interval = z.object({ estimate: z.number(), low: z.number(), high: z.number() });

/** Metrics of predictions against labels (src/native/cleft/metrics.ts `evaluate`). */
export const ClassificationReport = z.object({
  n: z.number().int(),
  classes: z.array(z.string()),
  accuracy: Interval,
  balancedAccuracy: z.number(),
  macroAuc: Interval.nullable(),
  perClass: z.array(
    z.object({
      name: z.string(),
      support: z.number().int(),
      sensitivity: z.number().nullable(),
      specificity: z.number().nullable(),
      auc: z.number().nullable(),
    }),
  ),
  confusion: z.array(z.array(z.number().int())),
  ece: z.number(),
  reliability: z.array(
    z.object({ lower: z.number(), upper: z.number(), count: z.number().int(), confidence: z.number(), accuracy: z.number() }),
  ),
  roc: z.array(z.object({ fpr: z.array(z.number()), tpr: z.array(z.number()), auc: z.number() }).nullable()),
  bootstrap: z.object({ samples: z.number().int(), seed: z.number().int() }),
});
export type ClassificationReport = z.infer<typeof ClassificationReport>;

/** The headline numbers of a report, for tables of many runs. */
export const MetricsSummary = z.object({
  n: z.number().int(),
  accuracy: Interval,
  balancedAccuracy: z.number(),
  macroAuc: Interval.nullable(),
  ece: z.number(),
});
export type MetricsSummary = z.infer<typeof MetricsSummary>;

/**
 * Runs of one task side by side at one scope. `common` is measured on the labelled targets every
 * compared run predicted (the same images, breasts or exams for all: the fair comparison); `own` on
 * each run's own labelled targets. Runs without a labelled target at that scope are listed with nulls.
 */
export const RunComparison = z.object({
  scope: PredictionScope,
  /** Labelled targets every compared run has a prediction for. */
  commonTargets: z.number().int(),
  rows: z.array(
    z.object({
      run: Run,
      own: MetricsSummary.nullable(),
      common: MetricsSummary.nullable(),
    }),
  ),
});
export type RunComparison = z.infer<typeof RunComparison>;
