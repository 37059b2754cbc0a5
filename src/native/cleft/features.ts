// Encoder features for the CLEFT workflows, computed by ONNX Runtime on graphs the engine emits:
//
// - image features: the pooled image feature (CLS or prenorm-mean) before the visual projection,
//   from pixel_values (embed.ts, LoRA adapters merged);
// - text features: the GPT-2 state at the first EOS after the text, before the text projection;
// - prompt features: the same with learned context vectors put before the class-name tokens.
//
// Features are what the job layer caches (they do not depend on the heads or prompt sets); heads are
// applied in JS (math.ts). Everything here is safe in a worker thread (default engine: in-process).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { emitOnnx, Graph } from '../graph/index';
import { bindModelWeights, frozenWeightsId } from '../models/weights';
import { embedImages, embedText, inProcessEngine, resolveForWeights, type EmbedEngine } from '../models/embed';
import { ParamStore } from '../models/encoders';
import { gpt2Forward, gpt2TextEmbedding } from '../models/gpt2';
import { loadHfFolder } from '../models/hf-model';
import { ModelFormatError } from '../formats/hf-folder';
import { type Gpt2Config } from '../models/gpt2';
import { writeFileAtomic } from '../formats/safetensors';
import type { ImagePooling } from '../models/vit';
import type { ProviderChoice, ResolvedProvider } from '../runtime/providers';
import type { EngineSessionOptions } from '../runtime/session-options';
import type { SessionKeepPolicy } from '../runtime/protocol';
import type { WeightPrecision } from '../../common/precision';
import { gpt2MatmulWeights } from '../models/gpt2';

export interface EngineChoice {
  /** Default: ORT in this thread (`inProcessEngine()`), right for worker threads and the CLI. */
  engine?: EmbedEngine;
  /** 'cpu' (default) | 'auto' | 'cuda:N'. */
  device?: ProviderChoice;
  threads?: number;
  /** Rows per encoder run (default 8). */
  batchSize?: number;
  onWarning?: (message: string) => void;
  /** How long the engine keeps unused sessions and how many bytes of them (the settings). */
  sessionPolicy?: SessionKeepPolicy;
  /** Frozen encoders' weights: float32 (default, exact) or int8 (docs/engine.md#int8-weights). */
  weights?: WeightPrecision;
}

export interface FeatureResult {
  /** [n, dim] */
  features: Float32Array;
  dim: number;
  provider: ResolvedProvider;
}

export interface ImageModelRef {
  modelDir: string;
  adapterDir?: string | null;
  pool: ImagePooling;
}

export interface TextModelRef {
  modelDir: string;
  adapterDir?: string | null;
}

const quiet = (o: EngineChoice) => o.onWarning ?? ((m: string) => console.warn(m));

function common(o: EngineChoice & { cacheDir: string }, model: { modelDir: string; adapterDir?: string | null }) {
  return {
    modelDir: model.modelDir,
    cacheDir: o.cacheDir,
    onWarning: quiet(o),
    ...(model.adapterDir ? { adapterDir: model.adapterDir } : {}),
    ...(o.engine ? { engine: o.engine } : {}),
    ...(o.device ? { device: o.device } : {}),
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    ...(o.sessionPolicy ? { sessionPolicy: o.sessionPolicy } : {}),
    ...(o.weights ? { weights: o.weights } : {}),
  };
}

/** Pooled image features [B, d] (before the visual projection) of normalised pixel_values [B, C, H, W]. */
export async function imageFeatures(
  model: ImageModelRef,
  pixelValues: Float32Array,
  shape: readonly [number, number, number, number],
  o: EngineChoice & { cacheDir: string },
): Promise<FeatureResult> {
  const r = await embedImages({ ...common(o, model), pixelValues, shape, pool: model.pool });
  return { features: r.embedding, dim: r.dim, provider: r.provider };
}

/** Text features [B, d] (state at lengths-1, before the text projection) of right-padded ids. */
export async function textFeatures(
  model: TextModelRef,
  inputIds: BigInt64Array,
  lengths: BigInt64Array,
  o: EngineChoice & { cacheDir: string },
): Promise<FeatureResult> {
  const r = await embedText({ ...common(o, model), inputIds, lengths, lastHidden: false });
  return { features: r.embedding, dim: r.dim, provider: r.provider };
}

/** Right-pads token rows with `pad` into an int64 batch. */
export function padRows(rows: readonly (readonly number[])[], pad = 0): { ids: BigInt64Array; lengths: BigInt64Array; seq: number } {
  const seq = Math.max(1, ...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * seq).fill(BigInt(pad));
  rows.forEach((r, i) => r.forEach((t, j) => (ids[i * seq + j] = BigInt(t))));
  return { ids, lengths: BigInt64Array.from(rows, (r) => BigInt(r.length)), seq };
}

const promptMemo = new Map<string, { file: string; config: Gpt2Config }>();

/**
 * The prompt text encoder: inputs `ctx` ([n, d] shared, or [classes, n, d] class-specific),
 * `class_ids` [classes, seq] int64 and `class_lengths` [classes]; output `embedding` [classes, d],
 * the state at the last real class token (after the n context positions). Frozen GPT-2 with the
 * adapter merged; written into `cacheDir` (beside the ONNX cache's weight links).
 */
export function buildPromptEncoder(
  model: TextModelRef,
  nCtx: number,
  classSpecific: boolean,
  cacheDir: string,
  onWarning?: (m: string) => void,
  /** WebGPU: emitted for its EP with these static sizes of 'classes' and 'seq' (EmitOptions.dims). */
  webgpu?: { classes: number; seq: number },
  weights?: WeightPrecision,
) {
  const key = JSON.stringify([
    path.resolve(model.modelDir),
    model.adapterDir ? path.resolve(model.adapterDir) : null,
    nCtx,
    classSpecific,
    path.resolve(cacheDir),
    webgpu ?? null,
    weights ?? 'float32',
  ]);
  const hit = promptMemo.get(key);
  if (hit && fs.existsSync(hit.file)) return hit;
  const hf = loadHfFolder(model.modelDir);
  if (hf.config.family !== 'gpt2')
    throw new ModelFormatError(hf.configFile, `a text encoder must be GPT-2 family, this is ${hf.config.family}`);
  const cfg = hf.config;
  const bound = bindModelWeights(hf, {
    cacheDir,
    ...(model.adapterDir ? { adapterDir: model.adapterDir } : {}),
    ...(onWarning ? { onWarning } : {}),
    ...(weights === 'int8' ? { int8: { weights: gpt2MatmulWeights(cfg) } } : {}),
  });
  const g = new Graph();
  const ids = g.input('class_ids', 'int64', ['classes', 'seq']);
  const lengths = g.input('class_lengths', 'int64', ['classes']);
  const ctx = g.input('ctx', 'float32', classSpecific ? ['classes', nCtx, cfg.nEmbd] : [nCtx, cfg.nEmbd]);
  const w = new ParamStore(g, bound.source).forTarget(webgpu ? 'webgpu' : 'cpu');
  const out = gpt2Forward(cfg, w, { inputIds: ids, prefix: ctx });
  const emitted = emitOnnx(g, {
    outputs: { embedding: gpt2TextEmbedding(out, lengths) },
    name: 'prompt_encoder',
    ...(webgpu ? { target: 'webgpu' as const, dims: webgpu } : {}),
  });
  const sha = createHash('sha256').update(emitted.bytes).digest('hex');
  const file = path.join(path.resolve(cacheDir), `${sha}.onnx`);
  if (!(fs.existsSync(file) && fs.statSync(file).size === emitted.bytes.length)) writeFileAtomic(file, [emitted.bytes]);
  const built = { file, config: cfg };
  promptMemo.set(key, built);
  return built;
}

/**
 * Text features of learned prompts: [ctx ; class tokens] per class -> [classes, d]. `classIds` are
 * the class-name tokens (with the EOS when the class names were tokenized) used as they are.
 */
export async function promptFeatures(
  model: TextModelRef,
  ctx: Float32Array,
  ctxShape: readonly number[],
  classIds: readonly (readonly number[])[],
  o: EngineChoice & { cacheDir: string },
): Promise<FeatureResult> {
  const classSpecific = ctxShape.length === 3;
  const nCtx = ctxShape[classSpecific ? 1 : 0]!;
  const engine = o.engine ?? (await inProcessEngine());
  const provider = await resolveForWeights(engine, o.device, o.weights);
  const { ids, lengths, seq } = padRows(classIds, 0);
  const webgpu = provider.name === 'webgpu' ? { classes: classIds.length, seq } : undefined;
  const built = buildPromptEncoder(model, nCtx, classSpecific, o.cacheDir, o.onWarning, webgpu, o.weights);
  if (nCtx + Math.max(...classIds.map((r) => r.length)) > built.config.nPositions)
    throw new Error(`prompt: ${nCtx} context vectors + class tokens exceed the text encoder's ${built.config.nPositions} positions`);
  const options: EngineSessionOptions = { provider };
  if (o.threads !== undefined) options.intraOpNumThreads = o.threads;
  if (o.sessionPolicy) await engine.configureCache?.(o.sessionPolicy);
  const s = await engine.createSession({ path: built.file, weights: frozenWeightsId(model.modelDir, model.adapterDir) }, options);
  const out = await engine.run(s.key, {
    class_ids: { type: 'int64', dims: [classIds.length, seq], data: ids },
    class_lengths: { type: 'int64', dims: [classIds.length], data: lengths },
    ctx: { type: 'float32', dims: [...ctxShape], data: ctx },
  });
  return { features: out.embedding!.data as Float32Array, dim: built.config.nEmbd, provider };
}
