/**
 * Frozen weights as ONNX external data: the one way the engine binds a model's weights.
 *
 *   <cacheDir>/weights/<file key>.safetensors    hard link to a weight file: F32, F16 and BF16 data
 *                                                used in place (external data at its offsets,
 *                                                memory-mapped by ORT); F16/BF16 are params of
 *                                                their own type followed by a Cast to float32
 *   <cacheDir>/weights/<conversion key>.bin      LoRA-merged weights (and, with halfWeights
 *                                                'convert', F16/BF16 as F32), 64-byte aligned,
 *                                                written once
 *
 * Measured with onnxruntime-node 1.30 (test/unit/native/graph/emit.test.ts): ORT resolves
 * `location` against the .onnx file's directory and rejects '..', absolute paths and symlinks
 * leading out of it, and a model with external data cannot be created from bytes; hence the .onnx
 * goes into `cacheDir` and the weight files are hard-linked under it (a link that cannot be made,
 * across file systems, falls back to a copy with a warning). File keys hash path, device, inode,
 * size and mtime: a replaced model file gets a new key. Aligned offsets are memory-mapped: a 256 MB
 * weight used by MatMul is copied by prepacking unless `session.disable_prepacking=1`.
 *
 *   <cacheDir>/weights/<int8 key>.q8.bin         int8 weights (`int8`): blockwise quantized matmul
 *                                                weights (graph/ops/quant.ts), written once
 *
 * Half-precision weights (docs/engine.md "Half-precision weights", bench/big-text-encoder.ts): the
 * float32 copy on disk (9.9 GB for a 2.7B model) cost more to write and read than ORT's constant
 * folding of Cast(bf16 initializer) costs at session creation, and bf16 -> f32 is exact, so the
 * results are bit for bit those of the converted copy.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ParamValue } from '../graph/index';
import { readWeightF32, type WeightRef } from '../formats/hf-folder';
import { readPeftAdapter, validateAdapter, mergedWeight, ADAPTER_WEIGHTS, type PeftAdapter } from '../formats/peft';
import { writeFileAtomic } from '../formats/safetensors';
import type { DType } from '../graph/dtype';
import { INT8_BLOCK_RULE, int8BlockSize } from '../graph/ops/quant';
import { defaultInt8Threads, quantizedWeights, type Int8Job } from './int8-quantize';
import type { Int8Value, WeightSource } from './encoders';
import type { HfModel } from './hf-model';

export interface BindWeightsOptions {
  /** Where the .onnx files go; the weight links and converted weights go to its `weights/`. */
  cacheDir: string;
  /** Called when a weight file has to be copied (default console.warn). */
  onWarning?: (message: string) => void;
  /**
   * F16/BF16 weights: 'cast' (default) binds them in place as their own type with a Cast to float32
   * in the graph; 'convert' writes them as float32 into the converted file once (the old path, kept
   * for comparison: it gives the same numbers).
   */
  halfWeights?: HalfWeights;
  /**
   * Weight-only int8 for the matmul weights listed (docs/engine.md#int8-weights): quantized once
   * into `<cacheDir>/weights/<key>.q8.bin`; `backward` also stores each weight's transposed
   * quantization, which a graph differentiating through the weights needs (prompt learning).
   */
  int8?: Int8Plan;
}

export type HalfWeights = 'cast' | 'convert';

/** A matmul weight and how it is stored: 'in-out' [K, N] (GPT-2 Conv1D) or 'out-in' [N, K] (nn.Linear). */
export interface MatmulWeight {
  name: string;
  layout: 'in-out' | 'out-in';
}

export interface Int8Plan {
  weights: readonly MatmulWeight[];
  backward?: boolean;
  /**
   * Worker threads that quantize when the file is written: 0 = in this thread; default
   * `defaultInt8Threads` (up to 2 for a big model). The file's bytes are the same either way.
   */
  threads?: number;
}

/** Stored safetensors dtypes that bind in place, and their graph element types. */
const IN_PLACE: Partial<Record<string, DType>> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** Weights that are changed on the way (LoRA merged): converted like F16/BF16, keyed by `keyFiles` too. */
export interface WeightTransform {
  names: ReadonlySet<string>;
  apply: (ref: WeightRef, data: Float32Array) => Float32Array;
  keyFiles: readonly string[];
}

export interface BoundWeights {
  source: WeightSource;
  /** The converted/merged weights file, or null. */
  converted: string | null;
}

/**
 * Points every weight at bytes ORT can map from `<cacheDir>`: F32, F16 and BF16 tensors in place (via
 * a hard link of their file), the others (other dtypes, those `transform` changes, and F16/BF16 with
 * halfWeights 'convert') as F32 in one converted file, written once.
 */
export function bindWeights(
  refs: readonly WeightRef[],
  opts: BindWeightsOptions & {
    /** The weight files, in order, for the converted file's key (default: those of `refs`). */
    files?: readonly string[];
    transform?: WeightTransform;
  },
): BoundWeights {
  const warn = opts.onWarning ?? ((m: string) => console.warn(m));
  const weightsDir = path.join(path.resolve(opts.cacheDir), 'weights');
  fs.mkdirSync(weightsDir, { recursive: true });
  const changed = opts.transform?.names ?? new Set<string>();

  const links = new Map<string, string>();
  const linkFor = (file: string): string => {
    let loc = links.get(file);
    if (!loc) {
      loc = `weights/${linkWeightFile(file, weightsDir, warn)}`;
      links.set(file, loc);
    }
    return loc;
  };

  const values = new Map<string, ParamValue>();
  const dtypes = new Map<string, DType>();
  const convertHalf = opts.halfWeights === 'convert';
  const inPlace = (w: WeightRef): DType | undefined =>
    changed.has(w.name) || (convertHalf && w.dtype !== 'F32') ? undefined : IN_PLACE[w.dtype];
  const int8 = opts.int8 ? bindInt8(refs, opts.int8, weightsDir, opts) : new Map<string, Int8Value>();
  // Matmul weights used as int8 are not needed as float32: never convert (merge) them.
  const toConvert = refs.filter((w) => inPlace(w) === undefined && !int8.has(w.name));
  for (const w of refs) {
    const dtype = inPlace(w);
    if (dtype === undefined) continue;
    values.set(w.name, { kind: 'external', location: linkFor(w.file), offset: w.byteOffset, length: w.byteLength });
    if (dtype !== 'float32') dtypes.set(w.name, dtype);
  }

  let converted: string | null = null;
  if (toConvert.length) {
    const h = createHash('sha256');
    for (const f of opts.files ?? new Set(refs.map((w) => w.file))) h.update(fileIdentity(f)).update('\0');
    for (const f of opts.transform?.keyFiles ?? []) h.update(fileIdentity(f)).update('\0');
    for (const w of toConvert) h.update(`${w.name}:${w.dtype}:${w.byteOffset}:${w.shape.join('x')}\0`);
    const name = `${h.digest('hex').slice(0, 32)}.bin`;
    converted = path.join(weightsDir, name);
    // layout: F32 tensors, each 64-byte aligned (memory-mapped)
    let offset = 0;
    const layout = toConvert.map((w) => {
      offset = Math.ceil(offset / 64) * 64;
      const length = w.shape.reduce((a, b) => a * b, 1) * 4;
      const at = offset;
      offset += length;
      return { w, offset: at, length };
    });
    for (const l of layout) values.set(l.w.name, { kind: 'external', location: `weights/${name}`, offset: l.offset, length: l.length });
    if (!(fs.existsSync(converted) && fs.statSync(converted).size === offset)) {
      const transform = opts.transform;
      function* chunks(): Generator<Uint8Array> {
        let pos = 0;
        for (const l of layout) {
          if (l.offset > pos) yield new Uint8Array(l.offset - pos);
          let data = readWeightF32(l.w);
          if (transform && changed.has(l.w.name)) data = transform.apply(l.w, data);
          yield new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
          pos = l.offset + l.length;
        }
      }
      writeFileAtomic(converted, chunks(), false);
    }
  }

  const byName = new Map(refs.map((w) => [w.name, w]));
  const source: WeightSource = {
    has: (n) => byName.has(n),
    shape: (n) => [...byName.get(n)!.shape],
    value: (n) => {
      const v = values.get(n);
      if (!v) throw new Error(`no bound value for weight ${n}`);
      return v;
    },
    dtype: (n) => dtypes.get(n) ?? 'float32',
    ...(opts.int8 ? { int8: (n: string) => int8.get(n) } : {}),
  };
  return { source, converted };
}

/** Version of the .q8.bin layout and quantization rule: part of its key. */
const INT8_FORMAT = 'q8-sym-v1';

/**
 * Quantizes the plan's weights (LoRA-merged ones after the merge) into one cached file: per weight
 * the forward quantization of W [N, K] (q, scales) and, with `backward`, of Wᵀ [K, N], each 64-byte
 * aligned. The key hashes the weight files' identities (as the converted file's), the adapter's,
 * the names, layouts, block size and format, so a changed model or adapter gets a new file.
 */
function bindInt8(
  refs: readonly WeightRef[],
  plan: Int8Plan,
  weightsDir: string,
  opts: { files?: readonly string[]; transform?: WeightTransform },
): Map<string, Int8Value> {
  const byName = new Map(refs.map((w) => [w.name, w]));
  const list = plan.weights.filter((m) => byName.get(m.name)?.shape.length === 2);
  const out = new Map<string, Int8Value>();
  if (!list.length) return out;
  const h = createHash('sha256').update(`${INT8_FORMAT}:${INT8_BLOCK_RULE}:${plan.backward ? 'bwd' : 'fwd'}\0`);
  for (const f of opts.files ?? new Set(refs.map((w) => w.file))) h.update(fileIdentity(f)).update('\0');
  for (const f of opts.transform?.keyFiles ?? []) h.update(fileIdentity(f)).update('\0');
  for (const m of list) {
    const w = byName.get(m.name)!;
    h.update(
      `${m.name}:${m.layout}:${w.dtype}:${w.byteOffset}:${w.shape.join('x')}:${opts.transform?.names.has(m.name) ? 'merged' : ''}\0`,
    );
  }
  const name = `${h.digest('hex').slice(0, 32)}.q8.bin`;
  const file = path.join(weightsDir, name);
  const location = `weights/${name}`;

  let offset = 0;
  const place = (length: number) => {
    offset = Math.ceil(offset / 64) * 64;
    const at = offset;
    offset += length;
    return { kind: 'external' as const, location, offset: at, length };
  };
  const describe = (n: number, k: number, block: number): Int8Value => {
    const kb = Math.ceil(k / block);
    return { q: place(n * kb * block), scales: place(n * kb * 4), n, k, blockSize: block };
  };
  const layout = list.map((m) => {
    const [r, c] = byName.get(m.name)!.shape as [number, number];
    const [n, k] = m.layout === 'in-out' ? [c, r] : [r, c];
    const block = int8BlockSize(n, k);
    const v = describe(n, k, block);
    if (plan.backward) v.backward = describe(k, n, block);
    out.set(m.name, v);
    return { m, v };
  });
  if (!(fs.existsSync(file) && fs.statSync(file).size === offset))
    writeFileAtomic(
      file,
      int8Chunks(
        layout.map(({ m, v }) => ({ m, v, ref: byName.get(m.name)! })),
        offset,
        opts.transform,
        plan.threads,
      ),
      false,
    );
  return out;
}

/**
 * The .q8.bin file's bytes in order, one weight at a time (models/int8-quantize.ts: straight from the
 * stored layout, in worker threads for a big model). A result's buffers are reused once the
 * generator resumes: writeFileAtomic has written them by then.
 */
function* int8Chunks(
  layout: readonly { m: MatmulWeight; v: Int8Value; ref: WeightRef }[],
  size: number,
  transform: WeightTransform | undefined,
  threads: number | undefined,
): Generator<Uint8Array> {
  const at = (v: ParamValue) => (v.kind === 'external' ? v.offset : 0);
  const jobs: Int8Job[] = layout.map(({ m, v, ref }) => ({
    name: m.name,
    ref,
    layout: m.layout,
    n: v.n,
    k: v.k,
    blockSize: v.blockSize,
    backward: !!v.backward,
  }));
  const values = layout.reduce((a, l) => a + l.v.n * l.v.k, 0);
  let pos = 0;
  function* emit(v: ParamValue, data: Uint8Array) {
    if (at(v) > pos) yield new Uint8Array(at(v) - pos);
    yield data;
    pos = at(v) + data.length;
  }
  const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let i = 0;
  for (const [fwd, bwd] of quantizedWeights(jobs, threads ?? defaultInt8Threads(values), transform)) {
    const v = layout[i++]!.v;
    yield* emit(v.q, fwd!.q);
    yield* emit(v.scales, bytes(fwd!.scales));
    if (v.backward) {
      yield* emit(v.backward.q, bwd!.q);
      yield* emit(v.backward.scales, bytes(bwd!.scales));
    }
  }
  if (size > pos) yield new Uint8Array(size - pos);
}

export interface BoundModelWeights extends BoundWeights {
  /** The adapter, when one was merged. */
  adapter: PeftAdapter | null;
}

/** A Hugging Face model's weights bound as above, with a PEFT LoRA adapter merged when given. */
export function bindModelWeights(model: HfModel, opts: BindWeightsOptions & { adapterDir?: string | undefined }): BoundModelWeights {
  const warn = opts.onWarning ?? ((m: string) => console.warn(m));
  let adapter: PeftAdapter | null = null;
  const merge = new Map<string, { module: string; fanInFanOut: boolean }>();
  if (opts.adapterDir) {
    adapter = readPeftAdapter(opts.adapterDir, { family: model.config.family });
    const check = validateAdapter(adapter, model);
    for (const w of check.warnings) warn(`${opts.adapterDir}: ${w}`);
    for (const m of adapter.modules.values()) merge.set(m.baseWeight, { module: m.module, fanInFanOut: check.fanInFanOut.get(m.module)! });
  }
  const ad = adapter;
  const bound = bindWeights([...model.weights.values()], {
    cacheDir: opts.cacheDir,
    onWarning: warn,
    files: model.files,
    ...(opts.halfWeights ? { halfWeights: opts.halfWeights } : {}),
    ...(opts.int8 ? { int8: opts.int8 } : {}),
    ...(ad
      ? {
          transform: {
            names: new Set(merge.keys()),
            apply: (w: WeightRef, data: Float32Array) => {
              const mm = merge.get(w.name)!;
              return mergedWeight(ad.modules.get(mm.module)!, data, w.shape, mm.fanInFanOut);
            },
            keyFiles: ad.source ? [path.join(ad.source.dir, ADAPTER_WEIGHTS)] : [],
          },
        }
      : {}),
  });
  return { ...bound, adapter };
}

/**
 * Which frozen weights a session holds (a model folder, with its adapter merged), for the engine's
 * count of sessions alive per weights (session-cache.ts weightSessions).
 */
export function frozenWeightsId(modelDir: string, adapterDir?: string | null): string {
  return adapterDir ? `${path.resolve(modelDir)} + ${path.resolve(adapterDir)}` : path.resolve(modelDir);
}

/** path, device, inode, size, mtime: changes when the file is replaced or rewritten. */
function fileIdentity(file: string): string {
  const real = fs.realpathSync(file);
  const st = fs.statSync(real);
  return `${real}\0${st.dev}\0${st.ino}\0${st.size}\0${st.mtimeMs}`;
}

/** Hard-links (or, across file systems, copies) a weight file into `weightsDir`; returns its name. */
function linkWeightFile(file: string, weightsDir: string, warn: (m: string) => void): string {
  const real = fs.realpathSync(file);
  const st = fs.statSync(real);
  const name = `${createHash('sha256').update(fileIdentity(real)).digest('hex').slice(0, 32)}${path.extname(real) || '.bin'}`;
  const target = path.join(weightsDir, name);
  if (fs.existsSync(target)) {
    const t = fs.statSync(target);
    if ((t.ino === st.ino && t.dev === st.dev) || t.size === st.size) return name;
    fs.rmSync(target, { force: true });
  }
  const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    fs.linkSync(real, tmp);
  } catch (e) {
    warn(
      `cannot hard-link ${real} into ${weightsDir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): copying it ` +
        `(${(st.size / 2 ** 20).toFixed(1)} MiB). Put the ONNX cache on the same file system as the models to avoid copies.`,
    );
    fs.copyFileSync(real, tmp, fs.constants.COPYFILE_FICLONE);
  }
  fs.renameSync(tmp, target);
  return name;
}
