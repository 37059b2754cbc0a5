/**
 * Hugging Face model folders: `config.json` + `model.safetensors` (or shards listed in
 * `model.safetensors.index.json`).
 *
 * `readHfConfig(dir)` reads config.json and `detectModelFamily` tells the family; the family's
 * model file parses the config and lists the weights its forward reads (models/gpt2.ts,
 * models/vit.ts); `bindHfWeights` then builds a weight index: canonical name (no `transformer.` /
 * `vit.` / `dinov2.` prefix) -> file, absolute byte offset, dtype, shape. No tensor data is read, so
 * the engine can point ONNX external data straight into the safetensors files. The folder is
 * validated against that list: every expected tensor present with the expected shape and a float
 * dtype; anything wrong is refused with a `ModelFormatError` naming the file, the tensor and the
 * problem. models/hf-model.ts joins the steps (`loadHfFolder`): this file imports no model.
 *
 * F16/BF16 weights (ONNX Runtime has no BF16 kernels) are converted to F32 when the engine binds
 * them (models/weights.ts); `readWeightF32` reads any float weight as F32.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../io/atomic-write';
import {
  readSafetensorsHeader,
  writeSafetensors,
  bf16ToF32,
  f16ToF32,
  SafetensorsError,
  DTYPE_SIZE,
  numel,
  type Dtype,
  type TensorInput,
} from './safetensors';

// ---------------------------------------------------------------------------------------------
// errors

export class ModelFormatError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly tensor?: string,
  ) {
    super(`${file}${tensor !== undefined ? `: tensor "${tensor}"` : ''}: ${problem}`);
    this.name = 'ModelFormatError';
  }
}

// ---------------------------------------------------------------------------------------------
// config.json: which family, and the conventions its fields follow (each model file parses its own)

export type ModelFamily = 'gpt2' | 'vit' | 'dinov2' | 'dinov2_with_registers';

/** A positive integer config value. */
export const hfPosInt = z.number().int().positive();
/** A size given as one number or [height, width] (image_size, patch_size). */
export const hfPair = z.union([hfPosInt, z.tuple([hfPosInt, hfPosInt])]);
export const toPair = (v: number | [number, number]): [number, number] => (Array.isArray(v) ? v : [v, v]);

const ARCH_FAMILY: Record<string, ModelFamily> = {
  GPT2Model: 'gpt2',
  GPT2LMHeadModel: 'gpt2',
  GPT2DoubleHeadsModel: 'gpt2',
  GPT2ForSequenceClassification: 'gpt2',
  ViTModel: 'vit',
  ViTForImageClassification: 'vit',
  ViTForMaskedImageModeling: 'vit',
  Dinov2Model: 'dinov2',
  Dinov2ForImageClassification: 'dinov2',
  Dinov2WithRegistersModel: 'dinov2_with_registers',
  Dinov2WithRegistersForImageClassification: 'dinov2_with_registers',
};

function zodProblem(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** The family from `model_type` (or `architectures`), and the architectures listed. */
export function detectModelFamily(raw: unknown, file = 'config.json'): { family: ModelFamily; architectures: string[] } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ModelFormatError(file, 'config is not a JSON object');
  const r = raw as Record<string, unknown>;
  const architectures = Array.isArray(r.architectures) ? (r.architectures as unknown[]).map(String) : [];
  if (typeof r.model_type === 'string') {
    const mt = r.model_type;
    if (mt === 'gpt2' || mt === 'vit' || mt === 'dinov2' || mt === 'dinov2_with_registers') return { family: mt, architectures };
    throw new ModelFormatError(file, `unsupported model_type "${mt}" (supported: gpt2, vit, dinov2, dinov2_with_registers)`);
  }
  const family = architectures.map((a) => ARCH_FAMILY[a]).find((f) => f !== undefined);
  if (!family)
    throw new ModelFormatError(
      file,
      `no model_type and no supported architecture (got ${JSON.stringify(architectures)}; supported: ${Object.keys(ARCH_FAMILY).join(', ')})`,
    );
  return { family, architectures };
}

/** Parses a config with a family's schema; the message names the file and the fields at fault. */
export function parseHfConfig<T extends z.ZodType>(schema: T, raw: unknown, file: string, family: ModelFamily): z.output<T> {
  const res = schema.safeParse(raw);
  if (!res.success) throw new ModelFormatError(file, `invalid ${family} config: ${zodProblem(res.error)}`);
  return res.data;
}

// ---------------------------------------------------------------------------------------------
// what a model reads: its weight list (each model file exports its own)

export interface ExpectedTensor {
  name: string;
  shape: number[];
  /** Present in some checkpoints only, not needed for the forward pass (e.g. mask_token). */
  optional?: boolean;
}

/** One config size as a weight shows it: `tensor`'s dimension `axis` must be `implied` (default `configured`). */
export interface ConfigDim {
  /** The config key named in messages: the first of these config.json has (else the first). */
  key: readonly string[];
  configured: number;
  tensor: string;
  axis: number;
  implied?: number;
}

/** What a model reads from its folder, as the model file states it (gpt2Weights, visionWeights). */
export interface WeightSpec {
  /** The tensor looked for to find the stored names' prefix (and whether this is the family at all). */
  anchor: string;
  /** Matches a canonical name inside layer N (group 1 = N). */
  layerPattern: RegExp;
  /** The config key of the layer count, and the count. */
  layers: { key: string; count: number };
  /** Sizes the weights show, checked before `tensors()` is listed (a config claiming 10^9 layers would fill the heap). */
  dims: readonly ConfigDim[];
  /** Every tensor the forward reads (canonical names, shapes the config implies). */
  tensors: () => ExpectedTensor[];
}

/** Name prefixes under which each family's base model may be stored (task heads wrap it). */
export const FAMILY_PREFIXES: Readonly<Record<ModelFamily, readonly string[]>> = {
  gpt2: ['', 'transformer.'],
  vit: ['', 'vit.'],
  dinov2: ['', 'dinov2.'],
  dinov2_with_registers: ['', 'dinov2_with_registers.'],
};

/** Buffers and task heads that may sit in a checkpoint and are not part of the encoder. */
const IGNORABLE = [
  /(^|\.)attn\.(bias|masked_bias)$/, // old GPT-2 causal-mask buffers
  /^lm_head\./,
  /^score\./,
  /^multiple_choice_head\./,
  /^classifier\./,
  /^pooler\./,
];

// ---------------------------------------------------------------------------------------------
// weight index

export interface WeightRef {
  /** Canonical name (no prefix). */
  name: string;
  /** Name in the file. */
  sourceName: string;
  /** Absolute path of the safetensors file. */
  file: string;
  /** Absolute byte offset of the data in `file`. */
  byteOffset: number;
  byteLength: number;
  dtype: Dtype;
  shape: number[];
}

export interface RawWeightIndex {
  /** Weight files (absolute), in order. */
  files: string[];
  /** Every tensor in the weight files, by the name stored in the file. */
  tensors: Map<string, Omit<WeightRef, 'name'>>;
  sharded: boolean;
}

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ModelFormatError(file, `cannot read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(file, `invalid JSON: ${(e as Error).message}`);
  }
}

function headerOrThrow(file: string) {
  try {
    return readSafetensorsHeader(file);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new ModelFormatError(e.file, e.problem, e.tensor);
    throw e;
  }
}

/** Every tensor of one safetensors file as a weight (its stored name as the name), without reading data. */
export function safetensorsWeightRefs(file: string): WeightRef[] {
  const h = headerOrThrow(path.resolve(file));
  return [...h.tensors.values()].map((e) => ({
    name: e.name,
    sourceName: e.name,
    file: h.path,
    byteOffset: e.byteOffset,
    byteLength: e.byteLength,
    dtype: e.dtype,
    shape: e.shape,
  }));
}

/** Lists every tensor of a folder's weights (single file or shards) without reading data. */
export function openWeightIndex(dir: string): RawWeightIndex {
  const abs = path.resolve(dir);
  const single = path.join(abs, SINGLE_FILE);
  const index = path.join(abs, INDEX_FILE);
  const tensors: RawWeightIndex['tensors'] = new Map();
  const add = (file: string) => {
    const h = headerOrThrow(file);
    for (const e of h.tensors.values()) {
      if (tensors.has(e.name)) throw new ModelFormatError(file, `tensor also present in ${tensors.get(e.name)!.file}`, e.name);
      tensors.set(e.name, {
        sourceName: e.name,
        file,
        byteOffset: e.byteOffset,
        byteLength: e.byteLength,
        dtype: e.dtype,
        shape: e.shape,
      });
    }
  };
  if (fs.existsSync(single)) {
    add(single);
    return { files: [single], tensors, sharded: false };
  }
  if (fs.existsSync(index)) {
    const raw = readJson(index);
    const parsed = z
      .looseObject({ weight_map: z.record(z.string(), z.string()), metadata: z.record(z.string(), z.unknown()).optional() })
      .safeParse(raw);
    if (!parsed.success) throw new ModelFormatError(index, `invalid shard index: ${zodProblem(parsed.error)}`);
    const wm = parsed.data.weight_map;
    const shardNames: string[] = [];
    for (const [name, shard] of Object.entries(wm)) {
      if (shard !== path.basename(shard) || shard === '.' || shard === '..' || !shard.endsWith('.safetensors'))
        throw new ModelFormatError(index, `shard "${shard}" must be a .safetensors file name in the folder`, name);
      if (!shardNames.includes(shard)) shardNames.push(shard);
    }
    const files = shardNames.map((s) => path.join(abs, s));
    for (const f of files) {
      if (!fs.existsSync(f)) throw new ModelFormatError(f, `shard listed in ${INDEX_FILE} is missing`);
      add(f);
    }
    for (const [name, shard] of Object.entries(wm)) {
      const t = tensors.get(name);
      if (!t) throw new ModelFormatError(path.join(abs, shard), `missing tensor (listed in ${INDEX_FILE})`, name);
      if (path.basename(t.file) !== shard)
        throw new ModelFormatError(index, `tensor is in ${path.basename(t.file)}, the index says ${shard}`, name);
    }
    return { files, tensors, sharded: true };
  }
  const others = fs.existsSync(abs) ? fs.readdirSync(abs).filter((f) => /\.(bin|pt|pth|ckpt|h5|msgpack)$/.test(f)) : [];
  throw new ModelFormatError(
    abs,
    `no ${SINGLE_FILE} or ${INDEX_FILE}` + (others.length ? ` (found ${others.join(', ')}: convert the weights to safetensors first)` : ''),
  );
}

// ---------------------------------------------------------------------------------------------
// loading and validation (against the weight list the model file gives)

/** A Hugging Face folder bound to its weights; `C` is the config as the model file parsed it. */
export interface HfFolder<C extends { family: ModelFamily } = { family: ModelFamily }> {
  dir: string;
  configFile: string;
  config: C;
  /** The raw config.json object. */
  rawConfig: Record<string, unknown>;
  /** The prefix found on the stored names ('' or e.g. 'transformer.'). */
  prefix: string;
  /** Canonical name -> location. Contains every expected tensor that is present. */
  weights: Map<string, WeightRef>;
  /** Stored names that are not part of the encoder (lm_head, pooler, mask buffers, ...). */
  ignored: string[];
  files: string[];
  sharded: boolean;
  /** Dtypes of the encoder weights. */
  dtypes: Dtype[];
  numParameters: number;
  /** Total bytes of the encoder weights as stored. */
  byteSize: number;
}

export interface LoadOptions {
  /** Check completeness, shapes and dtypes (default true). */
  validate?: boolean;
}

const WEIGHT_DTYPES: readonly Dtype[] = ['F32', 'F16', 'BF16'];

/** Reads a folder's config.json (not yet interpreted). */
export function readHfConfig(dir: string): { dir: string; configFile: string; rawConfig: Record<string, unknown> } {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new ModelFormatError(abs, 'not a folder');
  const configFile = path.join(abs, 'config.json');
  if (!fs.existsSync(configFile)) throw new ModelFormatError(configFile, 'missing config.json');
  return { dir: abs, configFile, rawConfig: readJson(configFile) as Record<string, unknown> };
}

/**
 * Binds a folder's weights to a parsed config (reads headers only): finds the stored names' prefix,
 * checks the config's sizes against the weights, then (with `validate`) that every tensor of
 * `spec` is present with its shape and a float dtype, and that no layer lies beyond the config's.
 */
export function bindHfWeights<C extends { family: ModelFamily }>(
  folder: { dir: string; configFile: string; rawConfig: Record<string, unknown> },
  config: C,
  spec: WeightSpec,
  options: LoadOptions = {},
): HfFolder<C> {
  const { dir: abs, configFile, rawConfig } = folder;
  const raw = openWeightIndex(abs);
  const anchor = spec.anchor;
  const prefixes = FAMILY_PREFIXES[config.family];
  const prefix = prefixes.find((p) => raw.tensors.has(p + anchor));
  const where = raw.sharded ? path.join(abs, INDEX_FILE) : raw.files[0]!;
  if (prefix === undefined)
    throw new ModelFormatError(
      where,
      `missing tensor (looked for ${prefixes.map((p) => `"${p}${anchor}"`).join(' and ')}; is this really a ${config.family} model?)`,
      anchor,
    );
  checkConfigAgainstWeights(spec, rawConfig, raw, prefix, configFile);
  const expected = spec.tensors();

  const weights = new Map<string, WeightRef>();
  const expectedNames = new Set(expected.map((e) => e.name));
  const ignored: string[] = [];
  for (const [stored, ref] of raw.tensors) {
    const canonical = stored.startsWith(prefix) ? stored.slice(prefix.length) : null;
    if (canonical !== null && expectedNames.has(canonical)) weights.set(canonical, { name: canonical, ...ref });
    else ignored.push(stored);
  }

  if (options.validate ?? true) {
    for (const e of expected) {
      const w = weights.get(e.name);
      if (!w) {
        if (e.optional) continue;
        throw new ModelFormatError(where, `missing tensor (expected shape [${e.shape.join(', ')}])`, prefix + e.name);
      }
      if (w.shape.length !== e.shape.length || w.shape.some((d, k) => d !== e.shape[k]))
        throw new ModelFormatError(w.file, `wrong shape [${w.shape.join(', ')}], the config implies [${e.shape.join(', ')}]`, w.sourceName);
      if (!WEIGHT_DTYPES.includes(w.dtype))
        throw new ModelFormatError(w.file, `unsupported weight dtype ${w.dtype} (F32, F16 or BF16 expected)`, w.sourceName);
    }
    // More layers in the file than in the config is a sign of the wrong config.
    const nLayers = spec.layers.count;
    for (const stored of ignored) {
      if (!stored.startsWith(prefix)) continue;
      const canonical = stored.slice(prefix.length);
      if (IGNORABLE.some((re) => re.test(canonical))) continue;
      const m = spec.layerPattern.exec(canonical);
      if (m && Number(m[1]) >= nLayers)
        throw new ModelFormatError(
          raw.tensors.get(stored)!.file,
          `layer ${m[1]} exists in the weights but the config has ${nLayers} layers`,
          stored,
        );
    }
  }

  const ws = [...weights.values()];
  return {
    dir: abs,
    configFile,
    config,
    rawConfig,
    prefix,
    weights,
    ignored,
    files: raw.files,
    sharded: raw.sharded,
    dtypes: [...new Set(ws.map((w) => w.dtype))],
    numParameters: ws.reduce((a, w) => a + numel(w.shape), 0),
    byteSize: ws.reduce((a, w) => a + w.byteLength, 0),
  };
}

/**
 * Bounds the config's sizes by the weights actually present, before anything is built from them:
 * the weight list has tensors per layer, so a config.json claiming 10^9 layers would fill the
 * heap. Each size the weights show (layers, widths, vocabulary, positions, patches) must agree;
 * the message names config.json, the key and what the weights hold. Tensors that are absent are
 * left to the completeness check that follows.
 */
function checkConfigAgainstWeights(
  spec: WeightSpec,
  rawConfig: Record<string, unknown>,
  raw: RawWeightIndex,
  prefix: string,
  configFile: string,
): void {
  const find = (name: string) => raw.tensors.get(prefix + name);
  const weightsName = raw.sharded ? INDEX_FILE : SINGLE_FILE;
  const value = (key: string, v: number) => `"${key}" is ${JSON.stringify(rawConfig[key] ?? v)}`;

  // Layers: count the distinct layer indices stored under the family's names.
  const layers = new Set<number>();
  for (const name of raw.tensors.keys()) {
    const m = name.startsWith(prefix) ? spec.layerPattern.exec(name.slice(prefix.length)) : null;
    if (m) layers.add(Number(m[1]));
  }
  const { key: layerKey, count: nLayers } = spec.layers;
  if (nLayers > layers.size)
    throw new ModelFormatError(
      configFile,
      `${value(layerKey, nLayers)} but the weights (${weightsName}) hold ${layers.size} layer${layers.size === 1 ? '' : 's'}`,
    );

  // One dimension of one tensor against the config value that implies it.
  for (const { key: keys, configured, tensor, axis, implied = configured } of spec.dims) {
    const t = find(tensor);
    if (!t || t.shape.length <= axis || t.shape[axis] === implied) continue;
    const key = keys.find((k) => rawConfig[k] !== undefined) ?? keys[0]!;
    const says = implied === configured ? `${t.shape[axis]}` : `${t.shape[axis]} (the config implies ${implied})`;
    throw new ModelFormatError(
      configFile,
      `${value(key, configured)} but the weights say ${says}: ${t.sourceName} in ${path.basename(t.file)} has shape [${t.shape.join(', ')}]`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// reading weights

/** Reads one weight's data as Float32Array (F16 / BF16 converted). */
export function readWeightF32(ref: WeightRef): Float32Array {
  const ab = readWeightBytes(ref).buffer;
  switch (ref.dtype) {
    case 'F32':
      return new Float32Array(ab);
    case 'F16':
      return f16ToF32(new Uint16Array(ab));
    case 'BF16':
      return bf16ToF32(new Uint16Array(ab));
    case 'F64':
      return Float32Array.from(new Float64Array(ab));
    default:
      throw new ModelFormatError(ref.file, `dtype ${ref.dtype} is not floating point`, ref.sourceName);
  }
}

/**
 * Reads one weight's stored bytes, into the start of `into` when given (a buffer reused across
 * weights, at least `byteLength` long) or a new buffer.
 */
export function readWeightBytes(ref: WeightRef, into?: Uint8Array): Uint8Array {
  if (into && into.length < ref.byteLength) throw new Error(`readWeightBytes: buffer of ${into.length} bytes for ${ref.byteLength}`);
  const u8 = into ? into.subarray(0, ref.byteLength) : new Uint8Array(ref.byteLength);
  const fd = fs.openSync(ref.file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (ref.byteOffset + ref.byteLength > size) throw new ModelFormatError(ref.file, `file truncated (${size} bytes)`, ref.sourceName);
    let done = 0;
    while (done < ref.byteLength) {
      const r = fs.readSync(fd, u8, done, Math.min(ref.byteLength - done, 1 << 30), ref.byteOffset + done);
      if (r === 0) throw new ModelFormatError(ref.file, 'unexpected end of file', ref.sourceName);
      done += r;
    }
  } finally {
    fs.closeSync(fd);
  }
  return u8;
}

// ---------------------------------------------------------------------------------------------
// writing folders (for bench scripts, exports and tests)

export interface WriteFolderOptions {
  /** Split into shards of at most this many bytes of data (writes an index). Default: one file. */
  maxShardBytes?: number;
  /** safetensors metadata (default {format: 'pt'}, as transformers writes). */
  metadata?: Record<string, string>;
}

/**
 * Writes `config.json` and the weights as transformers' `save_pretrained` would (official
 * safetensors layout; shards named model-0000i-of-0000n.safetensors plus the index).
 */
export function writeHfFolder(
  dir: string,
  rawConfig: Record<string, unknown>,
  tensors: Record<string, TensorInput>,
  options: WriteFolderOptions = {},
): void {
  fs.mkdirSync(dir, { recursive: true });
  const metadata = options.metadata ?? { format: 'pt' };
  writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(rawConfig, null, 2) + '\n');
  const names = Object.keys(tensors);
  const size = (n: string) => numel(tensors[n]!.shape) * DTYPE_SIZE[tensors[n]!.dtype];
  if (!options.maxShardBytes) {
    writeSafetensors(path.join(dir, SINGLE_FILE), tensors, metadata);
    return;
  }
  const shards: string[][] = [[]];
  let cur = 0;
  for (const n of names) {
    if (cur > 0 && cur + size(n) > options.maxShardBytes) {
      shards.push([]);
      cur = 0;
    }
    shards[shards.length - 1]!.push(n);
    cur += size(n);
  }
  const pad = (i: number) => String(i).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  shards.forEach((ns, i) => {
    const fname = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
    writeSafetensors(path.join(dir, fname), Object.fromEntries(ns.map((n) => [n, tensors[n]!])), metadata);
    for (const n of ns) weightMap[n] = fname;
  });
  const sortedMap = Object.fromEntries(
    Object.keys(weightMap)
      .sort()
      .map((k) => [k, weightMap[k]!]),
  );
  const total = names.reduce((a, n) => a + size(n), 0);
  writeFileAtomic(path.join(dir, INDEX_FILE), JSON.stringify({ metadata: { total_size: total }, weight_map: sortedMap }, null, 2) + '\n');
}
