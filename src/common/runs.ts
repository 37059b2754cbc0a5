// Runs (classification, training, evaluation) and their predictions, as the UI sees them.
import { WeightPrecision } from './precision';
import { z } from 'zod';
import { TrainingSplitRecord } from './splits';
import { DeviceRunRecord } from './device';

export const RunKind = z.enum(['zero-shot', 'prompt-learning', 'contrastive-lora', 'adaptor', 'evaluation']);
export type RunKind = z.infer<typeof RunKind>;

/** What ran, so a result can be traced and reproduced. */
export const RunRecord = z.object({
  modelSha256: z.string().nullable(),
  adapters: z.record(z.string(), z.string()).default({}),
  promptSetSha256: z.string().nullable(),
  preprocessSha256: z.string().nullable(),
  selectionSha256: z.string().nullable(),
  /** The execution provider that actually ran (cpu, webgpu, cuda:0). */
  executionProvider: z.string().nullable(),
  /** Per graph the provider that ran it, whether every node was on it, whether it is deterministic; why this provider (absent in runs recorded before it existed; null when nothing ran on the engine, e.g. every feature cached). */
  device: DeviceRunRecord.nullable().optional(),
  appVersion: z.string(),
  /** The frozen encoders' weight precision (absent in runs recorded before it existed: float32). */
  weights: WeightPrecision.optional(),
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
  /** DICOM identity, so an export joins back to the archive (series and SOP at image scope only). */
  studyUid: z.string(),
  seriesUid: z.string().nullable(),
  sopInstanceUid: z.string().nullable(),
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

/**
 * The studies an evaluation of a run covered. By default the held-out ones: the test part of the
 * split a training in the model's lineage used, else every study outside the training and
 * validation studies of those trainings (the LoRA run that made the bundle, the prompt-learning
 * run that made the prompt set, the adaptor run).
 */
export const EvaluationSet = z.object({
  /** false: the user asked for all studies. */
  heldOutOnly: z.boolean(),
  /** e.g. 'test part of split "site-A"' or 'studies outside the training and validation of prompt set "p1"'. */
  description: z.string(),
  /** Studies with a labelled target in the evaluation. */
  studies: z.number().int(),
  /** Whether any evaluated study was trained or validated on by the lineage: its figures are optimistic. */
  includesTrainingData: z.boolean(),
  /** Studies left out because a training in the lineage used them (0 when all are included). */
  excludedStudies: z.number().int(),
  /** The trainings of the lineage, e.g. 'prompt-learning run #4 (split "site-A")'. */
  lineage: z.array(z.string()),
  /**
   * Something in the lineage (a bundle, prompt set or adaptor brought in from elsewhere) does not
   * say which studies it was trained on: nothing could be left out for it, so "held out" is not
   * claimed (the description starts with "training data unknown").
   */
  trainingDataUnknown: z.boolean().default(false),
});
export type EvaluationSet = z.infer<typeof EvaluationSet>;

const Interval = z.object({ estimate: z.number(), low: z.number(), high: z.number() });

/**
 * Metrics of predictions against labels (src/native/cleft/metrics.ts `evaluate`). An evaluation
 * with nothing to measure (no labelled target held out) is an empty report: `n` 0, the figures
 * null, the matrix zeros, and `emptyReason` saying why.
 */
export const ClassificationReport = z.object({
  n: z.number().int(),
  classes: z.array(z.string()),
  accuracy: Interval.nullable(),
  balancedAccuracy: z.number().nullable(),
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
  ece: z.number().nullable(),
  reliability: z.array(
    z.object({ lower: z.number(), upper: z.number(), count: z.number().int(), confidence: z.number(), accuracy: z.number() }),
  ),
  roc: z.array(z.object({ fpr: z.array(z.number()), tpr: z.array(z.number()), auc: z.number() }).nullable()),
  /** `clusters`: patients (or studies without a PatientID) the bootstrap resampled; absent when it resampled rows. */
  bootstrap: z.object({ samples: z.number().int(), seed: z.number().int(), clusters: z.number().int().optional() }),
  /** Which studies a run's evaluation covered (runs.evaluate); absent in reports stored before it existed. */
  evaluationSet: z.lazy(() => EvaluationSet).optional(),
  /** Set on an empty report (n 0): why nothing was measured, e.g. "no labelled breast among the held-out predictions: …". */
  emptyReason: z.string().optional(),
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
      /** The studies this run's figures cover (held out from its lineage unless includeTraining). */
      evaluationSet: EvaluationSet,
    }),
  ),
});
export type RunComparison = z.infer<typeof RunComparison>;
