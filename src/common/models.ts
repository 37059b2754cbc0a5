// Model registry records and inspections as the UI sees them (Models page).
import { z } from 'zod';

const Int = z.number().int().nonnegative();
const Sha = z.string().regex(/^[0-9a-f]{64}$/);

export const ModelKind = z.enum(['bundle', 'hf-text', 'hf-image', 'peft-adapter']);
export type ModelKind = z.infer<typeof ModelKind>;

export const ModelSummary = z.object({
  family: z.string().nullable(),
  description: z.string(),
  parameters: Int,
  byteSize: Int,
  dtypes: z.array(z.string()),
  /** A bundle's encoders that carry LoRA adapters (none: a base bundle); absent in records made before it was kept. */
  adapters: z.array(z.enum(['text', 'image'])).optional(),
});

export const ModelRecord = z.object({
  id: z.number().int(),
  name: z.string(),
  kind: ModelKind,
  path: z.string(),
  sha256: Sha,
  createdAt: z.string(),
  copied: z.boolean(),
  source: z.string(),
  summary: ModelSummary,
});
export type ModelRecord = z.infer<typeof ModelRecord>;

export const ArchitectureSummary = z.object({
  family: z.enum(['gpt2', 'vit', 'dinov2', 'dinov2_with_registers']),
  modality: z.enum(['text', 'image']),
  architectures: z.array(z.string()),
  layers: Int,
  hiddenSize: Int,
  attentionHeads: Int,
  mlpSize: Int,
  activation: z.string(),
  layerNormEps: z.number(),
  vocabSize: Int.nullable(),
  positions: Int.nullable(),
  eosTokenId: z.number().int().nullable(),
  imageSize: z.tuple([Int, Int]).nullable(),
  patchSize: z.tuple([Int, Int]).nullable(),
  numPatches: Int.nullable(),
  registerTokens: Int.nullable(),
  channels: Int.nullable(),
  parameters: Int,
  dtypes: z.array(z.string()),
  weightBytes: Int,
  sharded: z.boolean(),
  ignoredTensors: Int,
});

export const AdapterSummary = z.object({
  r: Int,
  alpha: z.number(),
  scale: z.number(),
  dropout: z.number(),
  targetModules: z.union([z.array(z.string()), z.string()]),
  modules: Int,
  parameters: Int,
  dtypes: z.array(z.string()),
  useRslora: z.boolean(),
  baseModel: z.string().nullable(),
  modality: z.enum(['text', 'image']).nullable(),
  checkedAgainst: z.string().nullable(),
});

const PromptMetrics = z.record(z.string(), z.number()).nullable();

export const BundleSummary = z.object({
  name: z.string(),
  description: z.string(),
  createdAt: z.string(),
  text: ArchitectureSummary,
  image: ArchitectureSummary,
  textAdapter: AdapterSummary.nullable(),
  imageAdapter: AdapterSummary.nullable(),
  heads: z.object({ projDim: Int, textDim: Int, imageDim: Int, logitScale: z.number(), parameters: Int }),
  imagePooling: z.enum(['cls', 'prenorm-mean']),
  textPooling: z.literal('eos'),
  maxTextLength: Int,
  tokenizer: z.string().nullable(),
  preprocessing: z.object({ sha256: Sha, spec: z.record(z.string(), z.unknown()) }).nullable(),
  promptSets: z.array(
    z.object({
      name: z.string(),
      task: z.string(),
      classNames: z.array(z.string()),
      nCtx: Int,
      initPhrase: z.string().nullable(),
      metrics: z.object({ before: PromptMetrics, after: PromptMetrics }),
    }),
  ),
  /** Trained classification heads (absent from records made before adaptors existed). */
  adaptors: z
    .array(
      z.object({
        name: z.string(),
        task: z.string(),
        classNames: z.array(z.string()),
        mode: z.enum(['linear-probe', 'adaptor']),
        metrics: z.record(z.string(), z.number().nullable()),
      }),
    )
    .default([]),
  embeddingIdentity: z.object({ text: Sha, image: Sha }),
});

export const ModelInspection = z.object({
  path: z.string(),
  kind: ModelKind.nullable(),
  family: z.string().nullable(),
  architecture: ArchitectureSummary.nullable(),
  adapter: AdapterSummary.nullable(),
  bundle: BundleSummary.nullable(),
  parameters: Int,
  dtypes: z.array(z.string()),
  byteSize: Int,
  /** sha256 is '' when the folder was inspected without hashing. */
  files: z.array(z.object({ path: z.string(), size: Int, sha256: z.string() })),
  sha256: Sha.nullable(),
  problems: z.array(z.string()),
  warnings: z.array(z.string()),
});
export type ModelInspection = z.infer<typeof ModelInspection>;

export const FolderPath = z.string().min(1).max(4096);

/** A learned prompt set of a bundle as listed for activation and comparison (promptSets.list). */
export const PromptSetInfo = z.object({
  name: z.string(),
  task: z.string(),
  /** The library task of that name, or null when the library has none. */
  taskId: z.number().int().nullable(),
  classNames: z.array(z.string()),
  nCtx: Int,
  initPhrase: z.string().nullable(),
  /** Validation metrics stored in the bundle when it was learned: task templates (before) and learned (after). */
  metrics: z.object({ before: PromptMetrics, after: PromptMetrics }),
  training: z.record(z.string(), z.unknown()).nullable(),
  createdAt: z.string(),
  /** The set one-click classification uses for this (model, task) when a request names none. */
  active: z.boolean(),
});
export type PromptSetInfo = z.infer<typeof PromptSetInfo>;
