/**
 * Text and image embeddings from Hugging Face folders (+ optional PEFT adapter), computed by ONNX
 * Runtime on graphs we emit.
 *
 * Artifacts on disk, under the caller's cache directory (e.g. `<dataDir>/cache/onnx/`):
 *
 *   <cacheDir>/<sha256 of the .onnx bytes>.onnx        the forward graph
 *   <cacheDir>/weights/<file key>.safetensors          hard link to a model weight file (F32 data is
 *                                                      used in place: external data at its offsets)
 *   <cacheDir>/weights/<conversion key>.bin            F16/BF16 weights as F32 and LoRA-merged weights
 *
 * The weights are bound by weights.ts (the one way the engine binds weights; why hard links: see
 * there). The same model, adapter and input shape emit the same bytes, so the second build
 * finds the .onnx (`cacheHit`) and ORT's session cache finds the session.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { emitOnnx, Graph } from '../graph/index';
import type { EmitTarget } from '../graph/op';
import type { ModelSource } from '../runtime/session-cache';
import type { EngineSessionOptions } from '../runtime/session-options';
import type { ProviderChoice, ResolvedProvider } from '../runtime/providers';
import type { SessionInfo, SessionKeepPolicy } from '../runtime/protocol';
import type { SessionCacheStats } from '../runtime/session-cache';
import type { WireFeeds, WireTensor } from '../runtime/tensors';
import { loadHfFolder } from './hf-model';
import { ModelFormatError } from '../formats/hf-folder';
import { type Gpt2Config } from './gpt2';
import { writeFileAtomic } from '../formats/safetensors';
import { bindModelWeights, frozenWeightsId, type HalfWeights } from './weights';
import { ParamStore } from './encoders';
import { gpt2Forward, gpt2MatmulWeights, gpt2TextEmbedding } from './gpt2';
import type { WeightPrecision } from '../../common/precision';
import {
  poolImage,
  visionMatmulWeights,
  visionForward,
  IMAGE_POOLINGS,
  type ImagePooling,
  type PosInterpolation,
  type VisionConfig,
} from './vit';

// ---------------------------------------------------------------------------------------------
// engine

/** What embedding needs from an engine: `EngineWorker` fits, and so does `inProcessEngine()`. */
export interface EmbedEngine {
  resolveProvider(choice: ProviderChoice): Promise<ResolvedProvider>;
  createSession(source: ModelSource, options: EngineSessionOptions): Promise<SessionInfo>;
  run(key: string, feeds: WireFeeds): Promise<Record<string, WireTensor>>;
  /** Idle release and memory budget of the engine's kept sessions (EngineWorker and inProcessEngine have it). */
  configureCache?(policy: SessionKeepPolicy): Promise<SessionCacheStats>;
}

/** The in-process engine also tells its kept sessions' state (a job worker reports it to its queue). */
export interface InProcessEngine extends EmbedEngine {
  configureCache(policy: SessionKeepPolicy): Promise<SessionCacheStats>;
  stats(): Promise<SessionCacheStats>;
  /** Releases the kept sessions over these frozen weights (frozenWeightsId); returns how many. */
  releaseWeights(weights: string): Promise<number>;
}

let defaultEngine: Promise<InProcessEngine> | null = null;
/** The policy a host set before the engine was loaded (applied when it is). */
let keepPolicy: SessionKeepPolicy | null = null;
const evictionListeners = new Set<() => void>();

/**
 * ORT in this thread (the engine worker's handlers called directly): for code already running in a
 * worker (jobs, CLI workers, tests). The UI thread must use an EngineWorker instead. One per thread:
 * a job worker serves job after job, so its sessions stay warm from one job to the next.
 */
export function inProcessEngine(): Promise<InProcessEngine> {
  defaultEngine ??= Promise.all([import('../runtime/engine-server'), import('../runtime/session-cache')]).then(
    async ([{ createEngineHandlers }, { SessionCache, DEFAULT_SESSION_IDLE_MS }]) => {
      const cache = new SessionCache({
        idleMs: DEFAULT_SESSION_IDLE_MS,
        onEvicted: () => {
          for (const listener of evictionListeners) listener();
        },
      });
      const h = createEngineHandlers(cache);
      if (keepPolicy) await h.configureCache({ policy: keepPolicy });
      return {
        resolveProvider: (choice) => h.resolveProvider({ choice }),
        createSession: (source, options) => h.createSession({ source, options }),
        run: (key, feeds) => h.run({ key, feeds }),
        configureCache: (policy) => h.configureCache({ policy }),
        stats: async () => cache.stats(),
        releaseWeights: async (weights) => (await cache.releaseWeights(weights)).length,
      };
    },
  );
  return defaultEngine;
}

/** The in-process engine if something in this thread has loaded it, else null (nothing loads ORT for asking). */
export function loadedInProcessEngine(): Promise<InProcessEngine> | null {
  return defaultEngine;
}

/** Sets the in-process engine's idle release and memory budget now, or for when it is loaded. */
export async function configureInProcessEngine(policy: SessionKeepPolicy): Promise<SessionCacheStats | null> {
  keepPolicy = policy;
  return defaultEngine ? (await defaultEngine).configureCache(policy) : null;
}

/** Calls `listener` whenever the in-process engine releases sessions by itself (idle, budget); returns the unsubscribe. */
export function onInProcessEngineEvictions(listener: () => void): () => void {
  evictionListeners.add(listener);
  return () => evictionListeners.delete(listener);
}

// ---------------------------------------------------------------------------------------------
// options and results

export interface EmbedCommonOptions {
  /** Hugging Face model folder. */
  modelDir: string;
  /** PEFT LoRA adapter folder: merged into the weights (inference). */
  adapterDir?: string;
  /** Where .onnx files, weight links and converted weights go (e.g. `<dataDir>/cache/onnx`). */
  cacheDir: string;
  /** Intra-op threads (default: ORT's choice, the number of physical cores). */
  threads?: number;
  /** 'auto' | 'cpu' | 'cuda:N' (default 'cpu'). */
  device?: ProviderChoice;
  /** Rows per run (default 8). */
  batchSize?: number;
  /** Default: `inProcessEngine()`. */
  engine?: EmbedEngine;
  /** Set session.disable_prepacking=1 (several sessions sharing memory-mapped weights). */
  sharedWeights?: boolean;
  /** F16/BF16 weights: in place with a Cast (default) or converted to float32 once (weights.ts). */
  halfWeights?: HalfWeights;
  /** float32 (default, exact) or int8: weight-only int8 matmul weights (docs/engine.md#int8-weights). */
  weights?: WeightPrecision;
  /** How long the engine keeps unused sessions and how many bytes of them (the settings). */
  sessionPolicy?: SessionKeepPolicy;
  /** Non-fatal notes (adapter warnings, copy fallbacks, CPU fallback reason). Default: console.warn. */
  onWarning?: (message: string) => void;
}

export interface EmbedTextOptions extends EmbedCommonOptions {
  /** int64 [batch, seq], right padded. */
  inputIds: BigInt64Array;
  /** int64 [batch]: real tokens per row (including the EOS the tokenizer appends). */
  lengths: BigInt64Array;
  /** Also return last_hidden [batch, seq, d] (default true). */
  lastHidden?: boolean;
}

export interface EmbedImagesOptions extends EmbedCommonOptions {
  /** float32 [batch, channels, height, width], already normalised. */
  pixelValues: Float32Array;
  shape: readonly [number, number, number, number];
  /** Default 'cls'. */
  pool?: ImagePooling;
  /** Also return last_hidden [batch, tokens, d] (default false). */
  lastHidden?: boolean;
  posInterpolation?: PosInterpolation;
}

export interface BuiltArtifact {
  /** The .onnx file (external data next to it under weights/). */
  path: string;
  sha256: string;
  /** The .onnx was already in the cache. */
  cacheHit: boolean;
  /** Converted/merged weights file, or null when every weight is used in place. */
  convertedWeights: string | null;
  inputs: string[];
  outputs: string[];
}

export interface EmbedResult {
  /** [batch, dim] */
  embedding: Float32Array;
  dim: number;
  /** [batch, tokens, dim] when asked for. */
  lastHidden?: Float32Array;
  tokens?: number;
  artifact: BuiltArtifact;
  provider: ResolvedProvider;
  /** Whether the engine reused a loaded session. */
  sessionCacheHit: boolean;
}

// ---------------------------------------------------------------------------------------------
// public API

/** Text embeddings: GPT-2 state at lengths-1 (and last_hidden) for a right-padded batch. */
export async function embedText(opts: EmbedTextOptions): Promise<EmbedResult> {
  const batch = opts.lengths.length;
  if (batch === 0) throw new Error('embedText: empty batch');
  if (opts.inputIds.length % batch !== 0)
    throw new Error(`embedText: input_ids has ${opts.inputIds.length} values, not a multiple of the batch (${batch})`);
  const seq = opts.inputIds.length / batch;
  const step = Math.min(opts.batchSize ?? 8, batch);
  const engine = opts.engine ?? (await inProcessEngine());
  const provider = await resolveForWeights(engine, opts.device, opts.weights);
  // WebGPU runs static shapes: rows are padded to a few lengths (powers of two from 16) so that texts
  // of many lengths share a handful of graphs and sessions. Right padding changes no real position
  // (causal attention), so the embeddings are those of the unpadded rows.
  const cols = provider.name === 'webgpu' ? paddedLength(seq, loadHfFolder(opts.modelDir).config) : seq;
  const built = buildTextEncoder({ ...opts, ...staticFor(provider, { batch: step, seq: cols }) });
  const cfg = built.config;
  for (let b = 0; b < batch; b++) {
    const len = Number(opts.lengths[b]);
    if (!(len >= 1 && len <= seq)) throw new Error(`embedText: lengths[${b}] = ${len} is outside 1..${seq}`);
  }
  if (seq > cfg.nPositions) throw new Error(`embedText: ${seq} tokens per row, the model has ${cfg.nPositions} positions`);
  for (let i = 0; i < opts.inputIds.length; i++) {
    const id = opts.inputIds[i]!;
    if (id < 0n || id >= BigInt(cfg.vocabSize))
      throw new Error(
        `embedText: token id ${id} at row ${Math.floor(i / seq)}, column ${i % seq} is outside the vocabulary (${cfg.vocabSize})`,
      );
  }
  const wantHidden = opts.lastHidden ?? true;
  const d = cfg.nEmbd;
  const run = await openSession(built.artifact, opts, engine, provider);
  const embedding = new Float32Array(batch * d);
  const lastHidden = wantHidden ? new Float32Array(batch * seq * d) : undefined;
  for (let b0 = 0; b0 < batch; b0 += step) {
    const n = Math.min(step, batch - b0);
    const m = built.static ? step : n; // a static-shape graph runs full batches: the last one padded
    const out = await run.run({
      input_ids: { type: 'int64', dims: [m, cols], data: padColumns(padRows(opts.inputIds, seq, b0, n, m), seq, cols) },
      lengths: { type: 'int64', dims: [m], data: padRows(opts.lengths, 1, b0, n, m) },
    });
    embedding.set((out.embedding!.data as Float32Array).subarray(0, n * d), b0 * d);
    const hidden = out.last_hidden?.data as Float32Array | undefined;
    if (lastHidden && hidden)
      for (let r = 0; r < n; r++) lastHidden.set(hidden.subarray(r * cols * d, (r * cols + seq) * d), (b0 + r) * seq * d);
  }
  return { embedding, dim: d, ...(lastHidden ? { lastHidden, tokens: seq } : {}), ...run.info };
}

/**
 * Rows b0..b0+n of `src` (rows of `per` values), padded to m rows with copies of the last one (valid
 * inputs whose outputs are dropped).
 */
function padRows<T extends Float32Array | BigInt64Array>(src: T, per: number, b0: number, n: number, m: number): T {
  const rows = src.slice(b0 * per, (b0 + n) * per) as T;
  if (m === n) return rows;
  const out = new (src.constructor as { new (len: number): T })(m * per);
  out.set(rows as never);
  for (let r = n; r < m; r++) out.set(rows.subarray((n - 1) * per, n * per) as never, r * per);
  return out;
}

/** Rows of `seq` token ids right-padded with token 0 to `cols`. */
function padColumns(ids: BigInt64Array, seq: number, cols: number): BigInt64Array {
  if (cols === seq) return ids;
  const rows = ids.length / seq;
  const out = new BigInt64Array(rows * cols);
  for (let r = 0; r < rows; r++) out.set(ids.subarray(r * seq, (r + 1) * seq), r * cols);
  return out;
}

/** The padded row length for static-shape graphs: the next power of two from 16, at most n_positions. */
export function paddedLength(seq: number, cfg: { family: string; nPositions?: number }): number {
  const max = cfg.family === 'gpt2' && cfg.nPositions ? cfg.nPositions : Infinity;
  let n = 16;
  while (n < seq) n *= 2;
  return Math.max(seq, Math.min(n, max));
}

/**
 * How to emit for a provider: WebGPU gets ops its EP has kernels for and static shapes (no run-time
 * shape arithmetic: docs/engine.md#webgpu-coverage); other providers the symbolic graph.
 */
function staticFor(provider: ResolvedProvider, dims: Record<string, number>): { target?: EmitTarget; dims?: Record<string, number> } {
  return provider.name === 'webgpu' ? { target: 'webgpu', dims } : {};
}

/** Image embeddings: ViT / DINOv2 pooled feature (`cls` or `prenorm-mean`). */
export async function embedImages(opts: EmbedImagesOptions): Promise<EmbedResult> {
  const [batch, c, h, w] = opts.shape;
  if (opts.pixelValues.length !== batch * c * h * w)
    throw new Error(
      `embedImages: pixel_values has ${opts.pixelValues.length} values, shape [${opts.shape.join(', ')}] needs ${batch * c * h * w}`,
    );
  const step = Math.min(opts.batchSize ?? 8, batch);
  const engine = opts.engine ?? (await inProcessEngine());
  const provider = await resolveForWeights(engine, opts.device, opts.weights);
  const built = buildImageEncoder({ ...opts, height: h, width: w, channels: c, ...staticFor(provider, { batch: step }) });
  const d = built.config.hiddenSize;
  const tokens = built.tokens;
  const run = await openSession(built.artifact, opts, engine, provider);
  const embedding = new Float32Array(batch * d);
  const lastHidden = opts.lastHidden ? new Float32Array(batch * tokens * d) : undefined;
  const per = c * h * w;
  for (let b0 = 0; b0 < batch; b0 += step) {
    const n = Math.min(step, batch - b0);
    const m = built.static ? step : n;
    const out = await run.run({
      pixel_values: { type: 'float32', dims: [m, c, h, w], data: padRows(opts.pixelValues, per, b0, n, m) },
    });
    embedding.set((out.embedding!.data as Float32Array).subarray(0, n * d), b0 * d);
    if (lastHidden) lastHidden.set((out.last_hidden!.data as Float32Array).subarray(0, n * tokens * d), b0 * tokens * d);
  }
  return { embedding, dim: d, ...(lastHidden ? { lastHidden, tokens } : {}), ...run.info };
}

/**
 * The device for a precision, and the provider: int8 weights run on the CPU provider (ORT's int8 MatMulNBits
 * kernel is the CPU's; other providers are not measured), so `auto` means the CPU there and an
 * explicit GPU choice is refused saying so.
 */
export function deviceForWeights(device: ProviderChoice | undefined, weights: WeightPrecision | undefined): ProviderChoice | undefined {
  if (weights !== 'int8' || device === undefined || device === 'cpu') return device;
  if (device === 'auto') return 'cpu';
  throw new Error(
    `int8 weights run on the CPU provider only (ORT's int8 MatMulNBits kernel); device ${device} was asked for: use --device cpu or auto, or --weights float32`,
  );
}

export async function resolveForWeights(
  engine: Pick<EmbedEngine, 'resolveProvider'>,
  device: ProviderChoice | undefined,
  weights: WeightPrecision | undefined,
): Promise<ResolvedProvider> {
  if (weights !== 'int8') return engine.resolveProvider(device ?? 'cpu');
  const p = await engine.resolveProvider(deviceForWeights(device, weights) ?? 'cpu');
  return device === 'auto' ? { name: 'cpu', choice: 'auto', fallbackReason: 'int8 weights run on the CPU provider' } : p;
}

async function openSession(artifact: BuiltArtifact, opts: EmbedCommonOptions, engine: EmbedEngine, provider: ResolvedProvider) {
  // 'auto' falls back to the CPU silently (result.provider.fallbackReason says why); 'cuda:N' throws.
  const options: EngineSessionOptions = { provider };
  if (opts.threads !== undefined) options.intraOpNumThreads = opts.threads;
  if (opts.sharedWeights) options.sharedWeights = true;
  if (opts.sessionPolicy) await engine.configureCache?.(opts.sessionPolicy);
  const session = await engine.createSession({ path: artifact.path, weights: frozenWeightsId(opts.modelDir, opts.adapterDir) }, options);
  return {
    info: { artifact, provider, sessionCacheHit: session.cacheHit },
    run: (feeds: WireFeeds) => engine.run(session.key, feeds),
  };
}

// ---------------------------------------------------------------------------------------------
// building artifacts

export interface BuildCommon {
  modelDir: string;
  adapterDir?: string;
  cacheDir: string;
  onWarning?: (message: string) => void;
  /** Provider the graph is emitted for (default 'cpu'). */
  target?: EmitTarget;
  /** Static sizes of symbolic dims ('batch', 'seq'): see EmitOptions.dims. */
  dims?: Record<string, number>;
  /** F16/BF16 weights: in place with a Cast (default) or converted to float32 once (weights.ts). */
  halfWeights?: HalfWeights;
  /** float32 (default) or int8 (the encoder's matmul weights quantized: weights.ts). */
  weights?: WeightPrecision;
}

/** Stamp of a folder's files (name, size, mtime, inode): a memo key that changes when a file does. */
function folderStamp(dir: string | undefined): string {
  if (!dir) return '';
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs)) return abs;
  return (
    abs +
    fs
      .readdirSync(abs)
      .sort()
      .map((f) => {
        const st = fs.statSync(path.join(abs, f));
        return `|${f}:${st.size}:${st.mtimeMs}:${st.ino}`;
      })
      .join('')
  );
}

const buildMemo = new Map<string, unknown>();

/** Forgets the in-process build memo (the on-disk cache stays). */
export function clearBuildMemo(): void {
  buildMemo.clear();
}

/**
 * Repeated calls in one process (a job embedding batch after batch) skip loading, binding and
 * emitting: the result is remembered per options and folder stamps while its .onnx exists.
 */
function memoized<T extends { artifact: BuiltArtifact }>(opts: BuildCommon, extra: unknown, build: () => T): T {
  const key = JSON.stringify([
    folderStamp(opts.modelDir),
    folderStamp(opts.adapterDir),
    path.resolve(opts.cacheDir),
    opts.halfWeights ?? 'cast',
    opts.weights ?? 'float32',
    extra,
  ]);
  const hit = buildMemo.get(key) as T | undefined;
  if (hit && fs.existsSync(hit.artifact.path)) return { ...hit, artifact: { ...hit.artifact, cacheHit: true } };
  const built = build();
  buildMemo.set(key, built);
  return built;
}

/** Emits (or finds in the cache) the text encoder's forward graph: inputs input_ids, lengths. */
export function buildTextEncoder(opts: BuildCommon & { lastHidden?: boolean }): {
  artifact: BuiltArtifact;
  config: Gpt2Config;
  static: boolean;
} {
  return memoized(opts, ['text', opts.lastHidden ?? true, opts.target ?? 'cpu', opts.dims ?? null], () => buildTextEncoderUncached(opts));
}

function buildTextEncoderUncached(opts: BuildCommon & { lastHidden?: boolean }): {
  artifact: BuiltArtifact;
  config: Gpt2Config;
  static: boolean;
} {
  const model = loadHfFolder(opts.modelDir);
  if (model.config.family !== 'gpt2')
    throw new ModelFormatError(model.configFile, `a text encoder must be a GPT-2 family model, this is ${model.config.family}`);
  const cfg = model.config;
  const weights = bindModelWeights(model, { ...opts, ...(opts.weights === 'int8' ? { int8: { weights: gpt2MatmulWeights(cfg) } } : {}) });
  const g = new Graph();
  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const lengths = g.input('lengths', 'int64', ['batch']);
  const out = gpt2Forward(cfg, new ParamStore(g, weights.source).forTarget(opts.target), { inputIds: ids });
  const outputs = { embedding: gpt2TextEmbedding(out, lengths), ...((opts.lastHidden ?? true) ? { last_hidden: out.lastHidden } : {}) };
  return { artifact: writeArtifact(g, outputs, opts, weights.converted, 'text_encoder'), config: cfg, static: opts.dims !== undefined };
}

/** Emits (or finds) the image encoder's forward graph for one input size: input pixel_values. */
export function buildImageEncoder(
  opts: BuildCommon & {
    height: number;
    width: number;
    channels?: number;
    pool?: ImagePooling;
    lastHidden?: boolean;
    posInterpolation?: PosInterpolation;
  },
): { artifact: BuiltArtifact; config: VisionConfig; tokens: number; static: boolean } {
  const pool = opts.pool ?? 'cls';
  if (!IMAGE_POOLINGS.includes(pool)) throw new Error(`unknown pooling "${String(pool)}" (cls or prenorm-mean)`);
  const model = loadHfFolder(opts.modelDir);
  if (model.config.family === 'gpt2')
    throw new ModelFormatError(model.configFile, 'an image encoder must be a ViT, DINOv2 or DINOv2-with-registers model, this is gpt2');
  const cfg = model.config;
  const channels = opts.channels ?? cfg.numChannels;
  if (channels !== cfg.numChannels) throw new Error(`pixel_values has ${channels} channels, the model expects ${cfg.numChannels}`);
  const weights = bindModelWeights(model, { ...opts, ...(opts.weights === 'int8' ? { int8: { weights: visionMatmulWeights(cfg) } } : {}) });
  const g = new Graph();
  const px = g.input('pixel_values', 'float32', ['batch', channels, opts.height, opts.width]);
  const vopts = opts.posInterpolation ? { posInterpolation: opts.posInterpolation } : {};
  const out = visionForward(cfg, new ParamStore(g, weights.source), px, vopts);
  const outputs = { embedding: poolImage(out, pool), ...(opts.lastHidden ? { last_hidden: out.lastHidden } : {}) };
  const tokens = out.lastHidden.shape[1] as number;
  return {
    artifact: writeArtifact(g, outputs, opts, weights.converted, 'image_encoder'),
    config: cfg,
    tokens,
    static: opts.dims !== undefined,
  };
}

function writeArtifact(
  g: Graph,
  outputs: Parameters<typeof emitOnnx>[1]['outputs'],
  opts: BuildCommon,
  converted: string | null,
  name: string,
): BuiltArtifact {
  const cacheDir = opts.cacheDir;
  const emitted = emitOnnx(g, {
    outputs,
    name,
    ...(opts.target ? { target: opts.target } : {}),
    ...(opts.dims ? { dims: opts.dims } : {}),
  });
  const sha256 = createHash('sha256').update(emitted.bytes).digest('hex');
  const file = path.join(path.resolve(cacheDir), `${sha256}.onnx`);
  const cacheHit = fs.existsSync(file) && fs.statSync(file).size === emitted.bytes.length;
  if (!cacheHit) writeFileAtomic(file, [emitted.bytes]);
  return {
    path: file,
    sha256,
    cacheHit,
    convertedWeights: converted,
    inputs: emitted.inputs.map((i) => i.name),
    outputs: emitted.outputs.map((o) => o.name),
  };
}
