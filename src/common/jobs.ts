// Job records as the UI sees them. Jobs are rows in SQLite; the back end streams `job.updated`
// events as they progress.
import { z } from 'zod';
import { SplitName, TrainingSplitRecord } from './splits';
import { ArchiveName } from './archives';
import { DeviceChoice, DeviceRunRecord } from './device';
import { WeightPrecision } from './precision';

export const JobStatus = z.enum(['queued', 'running', 'done', 'failed', 'cancelled', 'interrupted']);
export type JobStatus = z.infer<typeof JobStatus>;

/** Job kinds and their parameters. Each kind's worker implementation lives in src/main/jobs/kinds. */
export const HashFolderParams = z.object({
  folder: z.string().min(1, 'folder is required'),
});
export type HashFolderParams = z.infer<typeof HashFolderParams>;

export const HashFolderResult = z.strictObject({
  folder: z.string(),
  files: z.number().int(),
  bytes: z.number().int(),
  /** sha256 over the manifest lines "sha256  size  path\n" in path order. */
  digest: z.string(),
  manifestPath: z.string(),
});
export type HashFolderResult = z.infer<typeof HashFolderResult>;

export const ImportParams = z.object({
  /** Files, folders or DICOMDIR files; folders are searched recursively. */
  paths: z.array(z.string().min(1)).min(1, 'choose at least one file or folder'),
});
export type ImportParams = z.infer<typeof ImportParams>;

/** File counts of one import (the skipped and refused files themselves are in `library.problems`). */
export const ImportResult = z.strictObject({
  scanned: z.number().int(),
  imported: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int(),
  duplicates: z.number().int(),
  refused: z.number().int(),
  skipped: z.number().int(),
  studies: z.number().int(),
  /** Files holding a SOP instance met twice: the one kept and the ones skipped (at most 100 instances). */
  duplicateFiles: z.array(z.strictObject({ kept: z.string(), skipped: z.array(z.string()) })).optional(),
  seconds: z.number(),
  filesPerSecond: z.number(),
});
export type ImportResult = z.infer<typeof ImportResult>;

export const ClassifyParams = z.object({
  /** A registered CLEFT bundle. */
  modelId: z.number().int().positive(),
  taskId: z.number().int().positive(),
  studyIds: z.array(z.number().int().positive()).min(1, 'choose at least one study').max(100_000),
  /** A learned prompt set of the bundle instead of the task's prompt templates. */
  promptSet: z.string().max(64).nullable().default(null),
  /** A trained adaptor/linear-probe head of the bundle instead of zero-shot text embeddings. */
  adaptor: z.string().max(64).nullable().default(null),
  /** An execution provider (auto, cpu, webgpu, cuda:N) and intra-op threads instead of the Settings' (`cleft classify --device/--threads`). */
  device: DeviceChoice.optional(),
  threads: z.number().int().positive().max(1024).optional(),
  /** The encoders' weights instead of the Settings' (`cleft classify --weights`): float32 or int8. */
  weights: WeightPrecision.optional(),
});
export type ClassifyParams = z.infer<typeof ClassifyParams>;

export const ClassifyResult = z.strictObject({
  runId: z.number().int(),
  /** The bundle's name and id, so a result reads on its own (the viewer names what ran). */
  model: z.string(),
  modelId: z.number().int(),
  /** The learned prompt set used, or null for the task's templates. */
  promptSet: z.string().nullable(),
  studies: z.number().int(),
  images: z.number().int(),
  skipped: z.array(z.strictObject({ instanceId: z.number().int(), reason: z.string() })),
  featureCacheHits: z.number().int(),
  /**
   * Where the class text embeddings came from: the library's cache (the text encoder did not run) or
   * computed now; null with an adaptor (no text side); absent in results of older versions.
   */
  classEmbeddings: z.enum(['cache', 'computed']).nullable().optional(),
  executionProvider: z.string(),
  /** Where it ran: the provider per graph, whether every node was on it, whether it is deterministic, and why (absent in older results; null when nothing ran on the engine). */
  device: DeviceRunRecord.nullable().optional(),
  /** The encoders' weight precision used (absent in older results: float32). */
  weights: WeightPrecision.optional(),
  seconds: z.number(),
});
export type ClassifyResult = z.infer<typeof ClassifyResult>;

export const PromptLearnParams = z.object({
  /** A registered CLEFT bundle; the learned prompt set is added to it. */
  modelId: z.number().int().positive(),
  taskId: z.number().int().positive(),
  /** Name of the prompt set to create (letters, digits, '.', '_', '-'). */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "use letters, digits, '.', '_' and '-' (at most 64)"),
  /** Limit training to these studies (default: every labelled study). */
  studyIds: z.array(z.number().int().positive()).max(100_000).optional(),
  /** A named split of the library: train on its train part, validate on its val part, never touch its test part. Default: a seeded split by patient. */
  split: SplitName.nullable().default(null),
  nCtx: z.number().int().min(1).max(30).default(16),
  initPhrase: z.string().max(500).nullable().default(null),
  classSpecific: z.boolean().default(false),
  optimizer: z.enum(['adamw', 'sgd']).default('adamw'),
  lr: z.number().positive().max(10).default(0.002),
  weightDecay: z.number().min(0).max(1).optional(),
  momentum: z.number().min(0).max(1).optional(),
  steps: z.number().int().min(1).max(100_000).default(200),
  /** Instead of steps: passes over the training images (steps = ceil(epochs × training images / batchSize)). */
  epochs: z.number().positive().max(10_000).optional(),
  batchSize: z.number().int().min(1).max(4096).default(32),
  /** Without a named split: the fraction of each class's patients held out for validation. */
  valFraction: z.number().min(0).max(0.5).default(0.2),
  patience: z.number().int().min(1).max(1000).optional(),
  /** auto, cpu, webgpu or cuda:N instead of the Settings' default (the form's Device field). */
  device: DeviceChoice.optional(),
  /** The frozen encoders' weights instead of the Settings' (`cleft prompt-learn --weights`): float32 or int8. */
  weights: WeightPrecision.optional(),
  seed: z.number().int().default(0),
});
export type PromptLearnParams = z.infer<typeof PromptLearnParams>;

/** Flat metrics by name (accuracy, balancedAccuracy, macroAuc, loss, n, ...). */
const Metrics = z.record(z.string(), z.number());

export const PromptLearnResult = z.strictObject({
  runId: z.number().int(),
  promptSet: z.string(),
  images: z.number().int(),
  train: z.number().int(),
  val: z.number().int(),
  /** The split used (a named one by name and hash, or the automatic one by patient) and the studies trained and validated on; absent in results stored before splits existed. */
  split: TrainingSplitRecord.optional(),
  steps: z.number().int(),
  stoppedEarly: z.boolean(),
  /** The update whose context was kept (lowest validation loss; 0: the initial one); null without validation; absent in older results. */
  bestStep: z.number().int().nullable().optional(),
  /** The updates it was to run (steps, or its epochs turned into steps); absent in older results. */
  plannedSteps: z.number().int().optional(),
  /** On the validation split (the training images without one); non-finite values left out. */
  metrics: z.strictObject({ before: Metrics.nullable(), after: Metrics.nullable() }),
  /** Where it ran: the provider per graph, whether every node was on it, whether it is deterministic, and why (absent in older results; null when nothing ran on the engine). */
  device: DeviceRunRecord.nullable().optional(),
  /** The frozen encoders' weight precision used (absent in older results: float32). */
  weights: WeightPrecision.optional(),
  seconds: z.number(),
});
export type PromptLearnResult = z.infer<typeof PromptLearnResult>;

/** 'linear-probe': a softmax head on the cached image embeddings; 'adaptor': the CLIP-loss module first, then the head. */
export const AdaptorMode = z.enum(['linear-probe', 'adaptor']);

/** The frozen-backbone Adaptor / linear probe on the library's labels; the head is saved into the bundle. */
export const TrainAdaptorParams = z.object({
  /** A registered CLEFT bundle; the trained head is added to it. */
  modelId: z.number().int().positive(),
  taskId: z.number().int().positive(),
  /** Name of the adaptor to create (letters, digits, '.', '_', '-'). */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "use letters, digits, '.', '_' and '-' (at most 64)"),
  /** Limit training to these studies (default: every labelled study). */
  studyIds: z.array(z.number().int().positive()).max(100_000).optional(),
  /** A named split of the library: train on its train part, validate on its val part, never touch its test part. Default: a seeded split by patient. */
  split: SplitName.nullable().default(null),
  mode: AdaptorMode.default('linear-probe'),
  /** Training steps of the head (and of the adaptor module in 'adaptor' mode). */
  steps: z.number().int().min(1).max(100_000).default(300),
  lr: z.number().positive().max(10).default(0.05),
  valFraction: z.number().min(0).max(0.5).default(0.2),
  /** auto, cpu, webgpu or cuda:N instead of the Settings' default (the form's Device field). */
  device: DeviceChoice.optional(),
  seed: z.number().int().default(0),
});
export type TrainAdaptorParams = z.infer<typeof TrainAdaptorParams>;

export const TrainAdaptorResult = z.strictObject({
  runId: z.number().int(),
  adaptor: z.string(),
  mode: AdaptorMode,
  images: z.number().int(),
  train: z.number().int(),
  val: z.number().int(),
  /** The split used (a named one by name and hash, or the automatic one by patient) and the studies trained and validated on; absent in results stored before splits existed. */
  split: TrainingSplitRecord.optional(),
  /** Held-out metrics; null where a metric has no value (e.g. AUC with one class held out). */
  metrics: z.record(z.string(), z.number().nullable()),
  notes: z.array(z.string()),
  /** Where it ran: the provider per graph, whether every node was on it, whether it is deterministic, and why (absent in older results; null when nothing ran on the engine). */
  device: DeviceRunRecord.nullable().optional(),
  seconds: z.number(),
});
export type TrainAdaptorResult = z.infer<typeof TrainAdaptorResult>;

/** LoRA settings of one encoder (a base bundle's existing adapter keeps its own rank, alpha and targets). */
const loraSettings = (targets: string[]) =>
  z
    .object({
      r: z.number().int().min(1).max(256).default(8),
      alpha: z.number().positive().max(4096).default(32),
      dropout: z.number().min(0).max(0.9).default(0.1),
      /** Module names the adapter wraps (GPT-2: 'c_attn'; ViT/DINOv2: 'query', 'value'). */
      targets: z.array(z.string().min(1).max(100)).min(1).max(32).default(targets),
    })
    .default({ r: 8, alpha: 32, dropout: 0.1, targets });
export const LoraSettings = loraSettings(['c_attn']);
export type LoraSettings = z.infer<typeof LoraSettings>;

/**
 * Contrastive LoRA training (CLEFT stage 1) on the library's image-report pairs; the result is a NEW
 * bundle (a copy of the base with the trained adapters and heads) registered under `name`.
 */
export const TrainLoraParams = z.object({
  /** A registered CLEFT bundle: its encoders, adapters, heads, tokenizer and preprocessing are the starting point. */
  modelId: z.number().int().positive(),
  /** Name of the new model (1-120 characters, not taken). */
  name: z.string().trim().min(1, 'name is required').max(120),
  /** Limit training to these studies (default: every study with a report). */
  studyIds: z.array(z.number().int().positive()).max(100_000).optional(),
  /** A named split of the library: train on its train part, validate on its val part, never touch its test part. Default: a seeded split by patient. */
  split: SplitName.nullable().default(null),
  textLora: loraSettings(['c_attn']),
  /** The image encoder: frozen (default), LoRA-trained, or its last `imageBlocks` blocks trained. */
  image: z.enum(['frozen', 'lora', 'last-blocks']).default('frozen'),
  imageLora: loraSettings(['query', 'value']),
  /** With image 'last-blocks': how many of the last transformer blocks train (+ the final layer norm). */
  imageBlocks: z.number().int().min(1).max(64).default(2),
  /** Train the projections and the logit scale too (default true). */
  trainHeads: z.boolean().default(true),
  optimizer: z.enum(['adamw', 'sgd']).default('adamw'),
  lr: z.number().positive().max(10).default(1e-4),
  weightDecay: z.number().min(0).max(1).optional(),
  momentum: z.number().min(0).max(1).optional(),
  /** 'cosine': linear warmup over warmupSteps, then cosine decay to 0; 'constant': lr throughout. */
  schedule: z.enum(['cosine', 'constant']).default('cosine'),
  warmupSteps: z.number().int().min(0).max(100_000).default(0),
  /** Optimizer updates. */
  steps: z.number().int().min(1).max(1_000_000).default(100),
  /** Instead of steps: passes over the training pairs (steps = ceil(epochs × training pairs / (batchSize × accumulate))). */
  epochs: z.number().positive().max(10_000).optional(),
  /** Pairs per micro-batch (the contrastive negatives come from the same micro-batch). */
  batchSize: z.number().int().min(2).max(4096).default(8),
  /** Micro-batches per update (gradients averaged). */
  accumulate: z.number().int().min(1).max(1024).default(1),
  /** Fraction of studies held out for validation loss and recall@1/5 (0: none). */
  valFraction: z.number().min(0).max(0.5).default(0.2),
  /** Updates between validations (default: steps / 10). */
  evalEvery: z.number().int().min(1).max(1_000_000).optional(),
  /** Save the last parameters (default), or those with the lowest validation loss (the base's when training never improved it). */
  keep: z.enum(['last', 'best']).default('last'),
  /** Updates between checkpoints (resume after a crash continues from the last one). */
  checkpointEvery: z.number().int().min(1).max(1_000_000).default(25),
  /** auto, cpu, webgpu or cuda:N instead of the Settings' default (the form's Device field). */
  device: DeviceChoice.optional(),
  /** The frozen base weights instead of the Settings' (`cleft train-lora --weights`): float32 or int8 (CPU); the adapters stay float32. */
  weights: WeightPrecision.optional(),
  seed: z.number().int().default(0),
});
export type TrainLoraParams = z.infer<typeof TrainLoraParams>;
export type TrainLoraInput = z.input<typeof TrainLoraParams>;

export const TrainLoraResult = z.strictObject({
  /** The new bundle, registered under the job's `name`. */
  modelId: z.number().int(),
  model: z.string(),
  bundleDir: z.string(),
  runId: z.number().int(),
  studies: z.number().int(),
  pairs: z.number().int(),
  train: z.number().int(),
  val: z.number().int(),
  /** The split used (a named one by name and hash, or the automatic one by patient) and the studies trained and validated on; absent in results stored before splits existed. */
  split: TrainingSplitRecord.optional(),
  steps: z.number().int(),
  /** The update with the lowest validation loss (0 = the base); null without validation. */
  bestStep: z.number().int().nullable(),
  /** Mean training loss of the first and the last update. */
  loss: z.strictObject({ first: z.number(), last: z.number() }),
  /** Validation loss and recall@1/5 (both directions) of the base and of the trained model; null without validation. */
  validation: z.strictObject({ before: Metrics.nullable(), after: Metrics.nullable() }),
  notes: z.array(z.string()),
  /** Where it ran: the provider per graph, whether every node was on it, whether it is deterministic, and why (absent in older results; null when nothing ran on the engine). */
  device: DeviceRunRecord.nullable().optional(),
  /** The frozen base weights it trained on: float32 or int8 (absent in results stored before it existed: float32). */
  weights: WeightPrecision.optional(),
  seconds: z.number(),
});
export type TrainLoraResult = z.infer<typeof TrainLoraResult>;

export const DemoParams = z.object({
  /** Tiny sizes: well under a minute, for a first look and for tests. */
  quick: z.boolean().default(false),
  exams: z.number().int().min(8).max(400).optional(),
  /** auto, cpu, webgpu or cuda:N instead of the Settings' default (the form's Device field). */
  device: DeviceChoice.optional(),
  seed: z.number().int().default(1),
});
export type DemoParams = z.infer<typeof DemoParams>;

/** Metrics of the demo's held-out phantoms; null where too few exams leave nothing to measure. */
const DemoMetrics = z.strictObject({
  accuracy: z.number().nullable(),
  balancedAccuracy: z.number().nullable(),
  macroAuc: z.number().nullable(),
  macroAucLow: z.number().nullable(),
  macroAucHigh: z.number().nullable(),
  n: z.number().int(),
});
/** Per image and per exam (mean of the 4 views). */
const DemoScores = z.strictObject({ image: DemoMetrics, exam: DemoMetrics });

export const DemoJobResult = z.strictObject({
  modelId: z.number().int(),
  bundleDir: z.string(),
  studies: z.number().int(),
  labels: z.number().int(),
  /** Phantom reports imported into the library (image-report pairs for LoRA training). */
  reports: z.number().int(),
  zeroShot: DemoScores,
  promptLearned: DemoScores,
  promptSet: z.string(),
  /** Why some metrics are null (too few exams to hold any out). */
  notes: z.array(z.string()),
  contrastive: z.strictObject({ steps: z.number().int(), firstLoss: z.number(), lastLoss: z.number() }),
  /** Where its two trainings ran (absent in older results). */
  device: z.strictObject({ contrastive: DeviceRunRecord.nullable(), prompt: DeviceRunRecord.nullable() }).optional(),
  seconds: z.number(),
});
export type DemoJobResult = z.infer<typeof DemoJobResult>;

/** "Where the model looks" for one image: patch-token similarity to each class's text embedding. */
export const ExplainParams = z.object({
  modelId: z.number().int().positive(),
  taskId: z.number().int().positive(),
  /** The images of one study to map (the viewer's hanging): one job per press of M, each image in turn. */
  instanceIds: z.array(z.number().int().positive()).min(1, 'choose at least one image').max(64),
  /** auto, cpu, webgpu or cuda:N instead of the Settings' default (the form's Device field). */
  device: DeviceChoice.optional(),
  /** A learned prompt set of the bundle instead of the task's prompt templates. */
  promptSet: z.string().max(64).nullable().default(null),
});
export type ExplainParams = z.infer<typeof ExplainParams>;

/** The maps of one image; `x`/`y` place the patch grid on the original image's pixels. */
export const ExplainResult = z.strictObject({
  modelId: z.number().int(),
  model: z.string(),
  promptSet: z.string().nullable(),
  provider: z.string(),
  instanceId: z.number().int(),
  /** What a person calls the image ("RCC · P1 · A1"); absent in results of older versions. */
  image: z.string().optional(),
  classNames: z.array(z.string()),
  rows: z.number().int().positive(),
  cols: z.number().int().positive(),
  /** Per class, rows * cols cosines (row-major, model-input orientation). */
  maps: z.array(z.array(z.number())),
  min: z.number(),
  max: z.number(),
  /** Original-image x of grid column c's left edge = x.origin + c * x.step (step < 0 when the model saw the image mirrored). */
  x: z.strictObject({ origin: z.number(), step: z.number() }),
  y: z.strictObject({ origin: z.number(), step: z.number() }),
  imageColumns: z.number().int(),
  imageRows: z.number().int(),
  /** Where the class text embeddings came from (see ClassifyResult); absent in results of older versions. */
  classEmbeddings: z.enum(['cache', 'computed']).optional(),
  /** Where it ran: the provider per graph, whether every node was on it, whether it is deterministic, and why (absent in older results; null when nothing ran on the engine). */
  device: DeviceRunRecord.nullable().optional(),
  seconds: z.number(),
});
export type ExplainResult = z.infer<typeof ExplainResult>;

/** What an explain job returns: the study and task it mapped, and each image's maps (in the order asked). */
export const ExplainStudyResult = z.strictObject({
  /** What a person calls the study ("P1 · A1"). */
  study: z.string(),
  task: z.string(),
  model: z.string(),
  promptSet: z.string().nullable(),
  classNames: z.array(z.string()),
  images: z.array(ExplainResult),
  /** Where the class text embeddings came from (see ClassifyResult); absent in results of older versions. */
  classEmbeddings: z.enum(['cache', 'computed']).optional(),
  /** Where the whole job ran (see ExplainResult.device). */
  device: DeviceRunRecord.nullable().optional(),
  seconds: z.number(),
});
export type ExplainStudyResult = z.infer<typeof ExplainStudyResult>;

/** A DICOM UID: digits and dots, at most 64 characters (what archive requests and file names may carry). */
export const DICOM_UID_PATTERN = /^(?=.{1,64}$)[0-9]+(\.[0-9]+)*$/;
export const DicomUid = z.string().regex(DICOM_UID_PATTERN, 'a DICOM UID is digits and dots, at most 64 characters');

/** `cleft pacs retrieve`: studies from a saved DICOMweb archive into the library (WADO-RS). */
export const PacsRetrieveParams = z.object({
  /** A saved archive connection (its secret is read by the worker, never kept in the job). */
  archive: ArchiveName,
  studies: z.array(DicomUid).min(1, 'choose at least one study').max(10_000),
  /** Leave out FOR PROCESSING instances (by PresentationIntentType or SOP class). */
  onlyForPresentation: z.boolean().default(false),
});
export type PacsRetrieveParams = z.infer<typeof PacsRetrieveParams>;

export const PacsRetrieveStudy = z.strictObject({
  studyUid: z.string(),
  status: z.enum(['done', 'failed']),
  /** Instances the archive lists for the study. */
  instances: z.number().int(),
  fetched: z.number().int(),
  alreadyStored: z.number().int(),
  skippedForProcessing: z.number().int(),
  /** Fetched whole but refused by the import checks (listed in the library's problems). */
  refused: z.number().int(),
  bytes: z.number().int(),
  error: z.string().nullable(),
});
export type PacsRetrieveStudy = z.infer<typeof PacsRetrieveStudy>;

/** A retrieve where every study was retrieved; with a failed study the job fails, naming each (and can be resumed). */
export const PacsRetrieveResult = z.strictObject({
  archive: z.string(),
  studies: z.array(PacsRetrieveStudy),
  /** Instances fetched by this job, over all its runs (a resumed run adds to the earlier ones). */
  fetched: z.number().int(),
  alreadyStored: z.number().int(),
  skippedForProcessing: z.number().int(),
  bytes: z.number().int(),
  seconds: z.number(),
  imagesPerSecond: z.number(),
  megabytesPerSecond: z.number(),
});
export type PacsRetrieveResult = z.infer<typeof PacsRetrieveResult>;

/**
 * Every job kind: its parameters and the result it ends with, one definition each. Params are
 * checked when a job is queued and again when the worker reads the stored row; a result is checked
 * before the job is marked done. So a job record's params and result are typed by its kind.
 */
export const jobKinds = {
  'hash-folder': { params: HashFolderParams, result: HashFolderResult },
  import: { params: ImportParams, result: ImportResult },
  classify: { params: ClassifyParams, result: ClassifyResult },
  'prompt-learn': { params: PromptLearnParams, result: PromptLearnResult },
  'train-adaptor': { params: TrainAdaptorParams, result: TrainAdaptorResult },
  'train-lora': { params: TrainLoraParams, result: TrainLoraResult },
  demo: { params: DemoParams, result: DemoJobResult },
  explain: { params: ExplainParams, result: ExplainStudyResult },
  'pacs-retrieve': { params: PacsRetrieveParams, result: PacsRetrieveResult },
} as const satisfies Record<string, { params: z.ZodType; result: z.ZodType }>;

export type JobKind = keyof typeof jobKinds;
export type JobParams<K extends JobKind> = z.infer<(typeof jobKinds)[K]['params']>;
export type JobResult<K extends JobKind> = z.infer<(typeof jobKinds)[K]['result']>;

type Schemas<K extends JobKind> = (typeof jobKinds)[K];
// The schema is read into a variable of the kind's own type: read inline, TypeScript widens it to every kind's.
const specOf = <K extends JobKind>(kind: K) => {
  const params: Schemas<K>['params'] = jobKinds[kind].params;
  return z.object({ kind: z.literal(kind), params });
};

export const JobSpec = z.discriminatedUnion('kind', [
  specOf('hash-folder'),
  specOf('import'),
  specOf('classify'),
  specOf('prompt-learn'),
  specOf('train-adaptor'),
  specOf('train-lora'),
  specOf('demo'),
  specOf('explain'),
  specOf('pacs-retrieve'),
]);
export type JobSpec = z.infer<typeof JobSpec>;

/** One point of a training curve, streamed while a job runs and kept in its folder. */
export const MetricPoint = z.object({
  step: z.number().int().nonnegative(),
  loss: z.number().optional(),
  /** The training loss after this update was NaN or infinite (JSON cannot carry it): training diverged. */
  lossNotFinite: z.literal(true).optional(),
  lr: z.number().optional(),
  /** Validation metrics at this step (accuracy, loss, recall@1, ...). */
  val: z.record(z.string(), z.number()).optional(),
});
export type MetricPoint = z.infer<typeof MetricPoint>;

export const JobProgress = z.object({
  /** 0..1 */
  fraction: z.number().min(0).max(1),
  message: z.string(),
  /** Seconds left at the current rate; null until a rate is known. */
  etaSeconds: z.number().nonnegative().nullable(),
});
export type JobProgress = z.infer<typeof JobProgress>;

const jobFields = {
  id: z.number().int().positive(),
  status: JobStatus,
  progress: JobProgress,
  error: z.string().nullable(),
  checkpointPath: z.string().nullable(),
  /** Increases with every change: of two copies of a job, the higher revision is newer. */
  revision: z.number().int().nonnegative(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
};

/**
 * A job of one kind: `params` as the kind's schema reads them (null for a stored row that does not
 * fit it: written by another version or by hand; the worker refuses to run it, naming the field),
 * `result` once it is done.
 */
const jobOf = <K extends JobKind>(kind: K) => {
  const params: Schemas<K>['params'] = jobKinds[kind].params;
  const result: Schemas<K>['result'] = jobKinds[kind].result;
  return z.object({ ...jobFields, kind: z.literal(kind), params: z.nullable(params), result: z.nullable(result) });
};

export const Job = z.discriminatedUnion('kind', [
  jobOf('hash-folder'),
  jobOf('import'),
  jobOf('classify'),
  jobOf('prompt-learn'),
  jobOf('train-adaptor'),
  jobOf('train-lora'),
  jobOf('demo'),
  jobOf('explain'),
  jobOf('pacs-retrieve'),
]);
export type Job = z.infer<typeof Job>;
/** A job record of kind K (its params and result typed by the kind). */
export type JobOf<K extends JobKind> = Extract<Job, { kind: K }>;

// Compile-time check that JobSpec and Job list every kind of `jobKinds` (an error names the one missing).
type Unlisted = Exclude<JobKind, JobSpec['kind']> | Exclude<JobKind, Job['kind']>;
export const everyKindListed: [Unlisted] extends [never] ? true : Unlisted = true;

/** Narrows a job record to its kind, so its params and result are typed. */
export function isJobOf<K extends JobKind>(job: Job | null | undefined, kind: K): job is JobOf<K> {
  return job?.kind === kind;
}

export const ACTIVE_STATUSES: readonly JobStatus[] = ['queued', 'running'];
