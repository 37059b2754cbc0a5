/**
 * PEFT LoRA adapters: `adapter_config.json` + `adapter_model.safetensors`, keys
 * `base_model.model.<module>.lora_A.weight` ([r, in]) and `.lora_B.weight` ([out, r]).
 *
 * The effective weight of a targeted module is W + scale * (B @ A) for nn.Linear (W is [out, in])
 * and W + scale * (B @ A)^T for GPT-2's Conv1D (W is [in, out], `fan_in_fan_out`), with
 * scale = lora_alpha / r, or lora_alpha / sqrt(r) with `use_rslora` (per-module `rank_pattern` /
 * `alpha_pattern` honoured).
 *
 * Reading keeps the original bytes and formats so that writing an unmodified adapter reproduces
 * both files byte for byte. New adapters are written as PEFT writes them:
 * `json.dumps(config, indent=2, sort_keys=True)` (no trailing newline) and the official
 * safetensors layout with metadata {"format": "pt"}.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  readSafetensorsHeader,
  readTensors,
  writeSafetensors,
  writeFileAtomic,
  toFloat32,
  SAFETENSORS_STYLE,
  SafetensorsError,
  type HeaderStyle,
  type Tensor,
  type TensorInput,
} from './safetensors';
import { FAMILY_PREFIXES, ModelFormatError, type HfFolder, type ModelFamily } from './hf-folder';
import { pyLoads, pyDumps, toPlain, detectPyJsonFormat, PyFloat, type PyJson, type PyJsonFormat } from './pyjson';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
export const PEFT_KEY_PREFIX = 'base_model.model.';

/** How PEFT writes adapter_config.json. */
export const PEFT_JSON_FORMAT: Readonly<PyJsonFormat> = Object.freeze({ indent: 2, sortKeys: true, trailingNewline: false });

export interface LoraConfig {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  /** A list of module-name suffixes, or a regex string (full match), as in PEFT. */
  targetModules: string[] | string;
  fanInFanOut: boolean;
  bias: 'none' | 'all' | 'lora_only';
  useRslora: boolean;
  useDora: boolean;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  layersToTransform: number[] | null;
  modulesToSave: string[] | null;
  baseModelNameOrPath: string | null;
  taskType: string | null;
}

export interface LoraModule {
  /** Canonical module name in the base model, e.g. `h.0.attn.c_attn`. */
  module: string;
  /** The base weight it modifies, e.g. `h.0.attn.c_attn.weight`. */
  baseWeight: string;
  r: number;
  alpha: number;
  /** alpha / r, or alpha / sqrt(r) with use_rslora. */
  scale: number;
  /** [r, in], as stored (any float dtype). */
  A: Tensor;
  /** [out, r]. */
  B: Tensor;
}

export interface PeftAdapter {
  config: LoraConfig;
  /** adapter_config.json as parsed (key order and int/float kept), for faithful rewriting. */
  rawConfig: { [k: string]: PyJson };
  /** Keyed by canonical module name, in file order. */
  modules: Map<string, LoraModule>;
  /** What sits between `base_model.model.` and the canonical module name (e.g. `transformer.`). */
  modulePrefix: string;
  /** Formats of the source files (null for new adapters: PEFT's formats are used). */
  source: {
    dir: string;
    configFormat: PyJsonFormat | null;
    configText: string;
    weightsStyle: HeaderStyle | null;
    weightsMetadata: Record<string, string> | null;
    /** Stored key per canonical tensor name `<module>.lora_A` / `.lora_B`. */
    keys: Map<string, string>;
  } | null;
}

// ---------------------------------------------------------------------------------------------
// config

function num(v: unknown, file: string, key: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelFormatError(file, `"${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** Normalises a parsed adapter_config.json (PEFT defaults for absent keys). */
export function parseLoraConfig(raw: unknown, file = ADAPTER_CONFIG): LoraConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ModelFormatError(file, 'not a JSON object');
  const c = toPlain(raw as PyJson) as Record<string, unknown>;
  const peftType = c.peft_type ?? 'LORA';
  if (peftType !== 'LORA') throw new ModelFormatError(file, `unsupported peft_type "${String(peftType)}" (only LORA)`);
  const r = num(c.r ?? 8, file, 'r');
  if (!Number.isInteger(r) || r <= 0) throw new ModelFormatError(file, `"r" must be a positive integer, got ${r}`);
  const tm = c.target_modules;
  let targetModules: string[] | string;
  if (typeof tm === 'string') targetModules = tm;
  else if (Array.isArray(tm) && tm.every((x) => typeof x === 'string')) targetModules = tm as string[];
  else throw new ModelFormatError(file, `"target_modules" must be a list of names or a regex string, got ${JSON.stringify(tm)}`);
  const bias = (c.bias ?? 'none') as string;
  if (bias !== 'none' && bias !== 'all' && bias !== 'lora_only') throw new ModelFormatError(file, `invalid "bias" ${JSON.stringify(bias)}`);
  const ltt = c.layers_to_transform;
  const numRecord = (v: unknown, key: string): Record<string, number> => {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) throw new ModelFormatError(file, `"${key}" must be an object`);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, num(x, file, `${key}.${k}`)]));
  };
  return {
    r,
    loraAlpha: num(c.lora_alpha ?? 8, file, 'lora_alpha'),
    loraDropout: num(c.lora_dropout ?? 0, file, 'lora_dropout'),
    targetModules,
    fanInFanOut: c.fan_in_fan_out === true,
    bias,
    useRslora: c.use_rslora === true,
    useDora: c.use_dora === true,
    rankPattern: numRecord(c.rank_pattern, 'rank_pattern'),
    alphaPattern: numRecord(c.alpha_pattern, 'alpha_pattern'),
    layersToTransform: ltt === undefined || ltt === null ? null : typeof ltt === 'number' ? [ltt] : (ltt as number[]),
    modulesToSave: Array.isArray(c.modules_to_save) ? (c.modules_to_save as string[]) : null,
    baseModelNameOrPath: typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : null,
    taskType: typeof c.task_type === 'string' ? c.task_type : null,
  };
}

/** PEFT's pattern lookup for rank_pattern / alpha_pattern: key matches `(.*\.)?(pattern)$`. */
function patternValue(patterns: Record<string, number>, module: string): number | undefined {
  for (const [p, v] of Object.entries(patterns)) {
    try {
      if (new RegExp(`^(.*\\.)?(${p})$`).test(module)) return v;
    } catch {
      if (module === p || module.endsWith('.' + p)) return v;
    }
  }
  return undefined;
}

/** r, alpha and scale for one module. */
export function loraScaling(config: LoraConfig, module: string): { r: number; alpha: number; scale: number } {
  const r = patternValue(config.rankPattern, module) ?? config.r;
  const alpha = patternValue(config.alphaPattern, module) ?? config.loraAlpha;
  return { r, alpha, scale: config.useRslora ? alpha / Math.sqrt(r) : alpha / r };
}

/** Whether PEFT would target `module` (canonical name) under this config. */
export function isTargetModule(config: LoraConfig, module: string): boolean {
  const tm = config.targetModules;
  let hit: boolean;
  if (typeof tm === 'string') hit = new RegExp(`^(?:${tm})$`).test(module);
  else hit = tm.some((t) => module === t || module.endsWith('.' + t));
  if (!hit) return false;
  if (config.layersToTransform && typeof tm !== 'string') {
    const m = /(?:^|\.)(?:h|layer|layers|blocks)\.(\d+)\./.exec(module);
    if (m && !config.layersToTransform.includes(Number(m[1]))) return false;
  }
  return true;
}

/**
 * The dict PEFT (0.13+) writes for a LoraConfig with these values (keys as in PEFT; sorted on write).
 * Unknown extra keys can be passed through `extra`.
 */
export function peftConfigDict(
  config: Partial<LoraConfig> & { r: number; loraAlpha: number; targetModules: string[] | string },
  extra: Record<string, PyJson> = {},
): { [k: string]: PyJson } {
  const f = (x: number) => (Number.isInteger(x) ? new PyFloat(x) : x);
  return {
    alpha_pattern: config.alphaPattern ?? {},
    auto_mapping: null,
    base_model_name_or_path: config.baseModelNameOrPath ?? null,
    bias: config.bias ?? 'none',
    fan_in_fan_out: config.fanInFanOut ?? false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: config.layersToTransform ?? null,
    loftq_config: {},
    lora_alpha: config.loraAlpha,
    lora_dropout: f(config.loraDropout ?? 0),
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: config.modulesToSave ?? null,
    peft_type: 'LORA',
    r: config.r,
    rank_pattern: config.rankPattern ?? {},
    revision: null,
    target_modules: config.targetModules,
    task_type: config.taskType ?? null,
    use_dora: config.useDora ?? false,
    use_rslora: config.useRslora ?? false,
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// reading

const KEY_RE = /^(.*)\.(lora_A|lora_B)(?:\.([A-Za-z0-9_-]+))?\.weight$/;

/** Strips `base_model.model.` and a base-model prefix (`transformer.`, `vit.`, ...) from a module. */
function splitModule(rest: string, family: ModelFamily | undefined): { prefix: string; module: string } {
  const candidates = family ? FAMILY_PREFIXES[family] : Object.values(FAMILY_PREFIXES).flat();
  for (const p of candidates) if (p && rest.startsWith(p)) return { prefix: p, module: rest.slice(p.length) };
  return { prefix: '', module: rest };
}

export interface ReadAdapterOptions {
  /** The base model's family, used to strip its name prefix (e.g. `transformer.`). */
  family?: ModelFamily;
}

/** Reads a PEFT LoRA adapter folder. */
export function readPeftAdapter(dir: string, options: ReadAdapterOptions = {}): PeftAdapter {
  const abs = path.resolve(dir);
  const cfgFile = path.join(abs, ADAPTER_CONFIG);
  const wFile = path.join(abs, ADAPTER_WEIGHTS);
  if (!fs.existsSync(cfgFile)) throw new ModelFormatError(cfgFile, 'missing adapter_config.json');
  if (!fs.existsSync(wFile)) {
    const bin = fs.existsSync(path.join(abs, 'adapter_model.bin'));
    throw new ModelFormatError(
      wFile,
      `missing adapter_model.safetensors${bin ? ' (found adapter_model.bin: convert it to safetensors)' : ''}`,
    );
  }
  const configText = fs.readFileSync(cfgFile, 'utf8');
  let rawConfig: PyJson;
  try {
    rawConfig = pyLoads(configText);
  } catch (e) {
    throw new ModelFormatError(cfgFile, `invalid JSON: ${(e as Error).message}`);
  }
  const config = parseLoraConfig(rawConfig, cfgFile);
  if (config.useDora) throw new ModelFormatError(cfgFile, 'DoRA adapters (use_dora) are not supported');
  if (config.bias !== 'none') throw new ModelFormatError(cfgFile, `adapters that train biases (bias="${config.bias}") are not supported`);

  let header;
  try {
    header = readSafetensorsHeader(wFile);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new ModelFormatError(e.file, e.problem, e.tensor);
    throw e;
  }
  const tensors = readTensors(header);
  const parts = new Map<string, { A?: Tensor; B?: Tensor }>();
  const keys = new Map<string, string>();
  let modulePrefix: string | null = null;
  for (const [key, t] of tensors) {
    if (!key.startsWith(PEFT_KEY_PREFIX)) throw new ModelFormatError(wFile, `key does not start with "${PEFT_KEY_PREFIX}"`, key);
    const m = KEY_RE.exec(key.slice(PEFT_KEY_PREFIX.length));
    if (!m) {
      if (/lora_magnitude_vector/.test(key)) throw new ModelFormatError(wFile, 'DoRA magnitude vectors are not supported', key);
      throw new ModelFormatError(wFile, 'not a LoRA weight (expected <module>.lora_A.weight or .lora_B.weight)', key);
    }
    const { prefix, module } = splitModule(m[1]!, options.family);
    if (modulePrefix === null) modulePrefix = prefix;
    else if (prefix !== modulePrefix)
      throw new ModelFormatError(wFile, `inconsistent module prefix ("${prefix}" vs "${modulePrefix}")`, key);
    if (t.shape.length !== 2) throw new ModelFormatError(wFile, `LoRA weights must be 2-D, got [${t.shape.join(', ')}]`, key);
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16' && t.dtype !== 'F64')
      throw new ModelFormatError(wFile, `unsupported dtype ${t.dtype}`, key);
    const p = parts.get(module) ?? {};
    p[m[2] === 'lora_A' ? 'A' : 'B'] = t;
    parts.set(module, p);
    keys.set(`${module}.${m[2]}`, key);
  }
  const modules = new Map<string, LoraModule>();
  for (const [module, p] of parts) {
    if (!p.A) throw new ModelFormatError(wFile, 'lora_B without lora_A', keys.get(`${module}.lora_B`));
    if (!p.B) throw new ModelFormatError(wFile, 'lora_A without lora_B', keys.get(`${module}.lora_A`));
    const s = loraScaling(config, module);
    if (p.A.shape[0] !== s.r)
      throw new ModelFormatError(wFile, `lora_A has rank ${p.A.shape[0]}, the config says r=${s.r}`, keys.get(`${module}.lora_A`));
    if (p.B.shape[1] !== s.r)
      throw new ModelFormatError(wFile, `lora_B has rank ${p.B.shape[1]}, the config says r=${s.r}`, keys.get(`${module}.lora_B`));
    modules.set(module, { module, baseWeight: `${module}.weight`, ...s, A: p.A, B: p.B });
  }
  const cfgObj = rawConfig as { [k: string]: PyJson };
  return {
    config,
    rawConfig: cfgObj,
    modules,
    modulePrefix: modulePrefix ?? '',
    source: {
      dir: abs,
      configFormat: detectPyJsonFormat(configText, rawConfig),
      configText,
      weightsStyle: header.style,
      weightsMetadata: header.metadata,
      keys,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// validation against the base model

export interface AdapterCheck {
  /** Per module: whether the delta is transposed (Conv1D) as the base model needs. */
  fanInFanOut: Map<string, boolean>;
  /** Non-fatal notes (e.g. fan_in_fan_out corrected for Conv1D, as PEFT does). */
  warnings: string[];
}

/** GPT-2 modules are Conv1D (weights [in, out]); ViT / DINOv2 are nn.Linear ([out, in]). */
export function isConv1dFamily(family: ModelFamily): boolean {
  return family === 'gpt2';
}

/**
 * Checks every LoRA module against the base model: the base weight exists and is 2-D, A is
 * [r, in] and B is [out, r] for it. Modules that target_modules match but that have no weights
 * are reported as a warning (the reference-a GPT-2 adapter targets "c_proj" but adapts only
 * attn.c_proj), and LoRA applies exactly where weights exist.
 */
export function validateAdapter(adapter: PeftAdapter, model: HfFolder): AdapterCheck {
  const where = adapter.source ? path.join(adapter.source.dir, ADAPTER_WEIGHTS) : ADAPTER_WEIGHTS;
  const conv1d = isConv1dFamily(model.config.family);
  const fanInFanOut = new Map<string, boolean>();
  const warnings: string[] = [];
  if (adapter.config.fanInFanOut !== conv1d)
    warnings.push(
      `fan_in_fan_out is ${adapter.config.fanInFanOut} but ${model.config.family} modules are ${conv1d ? 'Conv1D' : 'Linear'}: using ${conv1d} (as PEFT does)`,
    );
  for (const m of adapter.modules.values()) {
    const key = (k: 'lora_A' | 'lora_B') =>
      adapter.source?.keys.get(`${m.module}.${k}`) ?? `${PEFT_KEY_PREFIX}${adapter.modulePrefix}${m.module}.${k}.weight`;
    const w = model.weights.get(m.baseWeight);
    if (!w || w.shape.length !== 2)
      throw new ModelFormatError(
        where,
        `targets "${m.module}", which is not a ${w ? '2-D ' : ''}weight of the base ${model.config.family} model (${model.dir})`,
        key('lora_A'),
      );
    const [inF, outF] = conv1d ? [w.shape[0]!, w.shape[1]!] : [w.shape[1]!, w.shape[0]!];
    if (m.A.shape[1] !== inF)
      throw new ModelFormatError(
        where,
        `shape [${m.A.shape.join(', ')}] does not fit base weight ${m.baseWeight} [${w.shape.join(', ')}]: expected [${m.r}, ${inF}]`,
        key('lora_A'),
      );
    if (m.B.shape[0] !== outF)
      throw new ModelFormatError(
        where,
        `shape [${m.B.shape.join(', ')}] does not fit base weight ${m.baseWeight} [${w.shape.join(', ')}]: expected [${outF}, ${m.r}]`,
        key('lora_B'),
      );
    fanInFanOut.set(m.module, conv1d);
  }
  const untouched: string[] = [];
  for (const name of model.weights.keys()) {
    if (!name.endsWith('.weight') || model.weights.get(name)!.shape.length !== 2) continue;
    const module = name.slice(0, -'.weight'.length);
    if (/^(wte|wpe)$|embeddings\./.test(module)) continue;
    if (isTargetModule(adapter.config, module) && !adapter.modules.has(module)) untouched.push(module);
  }
  // PEFT would have created these modules; apply LoRA only where weights exist, but say so.
  if (untouched.length)
    warnings.push(
      `target_modules ${JSON.stringify(adapter.config.targetModules)} also match ${untouched.join(', ')}, which have no LoRA weights: left unchanged`,
    );
  return { fanInFanOut, warnings };
}

// ---------------------------------------------------------------------------------------------
// writing

export interface WriteAdapterOptions {
  /** adapter_config.json format; default: the source's when unmodified, else PEFT's. */
  configFormat?: PyJsonFormat;
  weightsStyle?: Partial<HeaderStyle>;
  weightsMetadata?: Record<string, string> | null;
}

/**
 * Writes adapter_config.json + adapter_model.safetensors. An adapter read with `readPeftAdapter`
 * and not modified is written back byte for byte; otherwise PEFT's formats are used.
 */
export function writePeftAdapter(dir: string, adapter: PeftAdapter, options: WriteAdapterOptions = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  const src = adapter.source;
  const format = options.configFormat ?? src?.configFormat ?? PEFT_JSON_FORMAT;
  const text =
    pyDumps(
      adapter.rawConfig,
      format.indent === undefined ? { sortKeys: format.sortKeys } : { indent: format.indent, sortKeys: format.sortKeys },
    ) + (format.trailingNewline ? '\n' : '');
  writeFileAtomic(path.join(dir, ADAPTER_CONFIG), [Buffer.from(text, 'utf8')]);
  const tensors = new Map<string, TensorInput>();
  for (const m of adapter.modules.values()) {
    for (const [k, t] of [
      ['lora_A', m.A],
      ['lora_B', m.B],
    ] as const) {
      const key = src?.keys.get(`${m.module}.${k}`) ?? `${PEFT_KEY_PREFIX}${adapter.modulePrefix}${m.module}.${k}.weight`;
      tensors.set(key, t);
    }
  }
  const style = options.weightsStyle ?? src?.weightsStyle ?? SAFETENSORS_STYLE;
  const metadata = options.weightsMetadata !== undefined ? options.weightsMetadata : src ? src.weightsMetadata : { format: 'pt' };
  writeSafetensors(path.join(dir, ADAPTER_WEIGHTS), tensors, metadata, { style });
}

/** A new adapter (e.g. after training) with PEFT's config dict and formats. */
export function createPeftAdapter(
  config: Partial<LoraConfig> & { r: number; loraAlpha: number; targetModules: string[] | string },
  modules: Iterable<{ module: string; A: Tensor; B: Tensor }>,
  modulePrefix = '',
): PeftAdapter {
  const rawConfig = peftConfigDict(config);
  const full = parseLoraConfig(rawConfig);
  const map = new Map<string, LoraModule>();
  for (const m of modules)
    map.set(m.module, { module: m.module, baseWeight: `${m.module}.weight`, ...loraScaling(full, m.module), A: m.A, B: m.B });
  return { config: full, rawConfig, modules: map, modulePrefix, source: null };
}

// ---------------------------------------------------------------------------------------------
// math

/** B @ A ([out, r] x [r, in] -> [out, in]), in float64 accumulation. */
export function loraDelta(A: Float32Array, aShape: readonly number[], B: Float32Array, bShape: readonly number[]): Float32Array {
  const [r, inF] = aShape as [number, number];
  const [outF, r2] = bShape as [number, number];
  if (r !== r2) throw new Error(`loraDelta: rank mismatch A [${aShape.join(', ')}] vs B [${bShape.join(', ')}]`);
  const out = new Float32Array(outF * inF);
  for (let o = 0; o < outF; o++)
    for (let i = 0; i < inF; i++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += B[o * r + k]! * A[k * inF + i]!;
      out[o * inF + i] = s;
    }
  return out;
}

/**
 * W + scale * (B @ A), transposed when fanInFanOut (W stored [in, out], GPT-2 Conv1D).
 * W: [out, in] (Linear) or [in, out] (Conv1D); A: [r, in]; B: [out, r]. Returns a new array.
 */
export function mergeLoraIntoWeight(
  W: Float32Array,
  A: Float32Array,
  B: Float32Array,
  scale: number,
  fanInFanOut: boolean,
  shapes: { r: number; inFeatures: number; outFeatures: number },
): Float32Array {
  const { r, inFeatures: inF, outFeatures: outF } = shapes;
  if (W.length !== inF * outF) throw new Error(`mergeLoraIntoWeight: W has ${W.length} values, expected ${inF}x${outF}`);
  if (A.length !== r * inF) throw new Error(`mergeLoraIntoWeight: A has ${A.length} values, expected [${r}, ${inF}]`);
  if (B.length !== outF * r) throw new Error(`mergeLoraIntoWeight: B has ${B.length} values, expected [${outF}, ${r}]`);
  const out = new Float32Array(W.length);
  for (let o = 0; o < outF; o++)
    for (let i = 0; i < inF; i++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += B[o * r + k]! * A[k * inF + i]!;
      const idx = fanInFanOut ? i * outF + o : o * inF + i;
      out[idx] = W[idx]! + scale * s;
    }
  return out;
}

/** Merges one adapter module into its base weight (read from the model's files). */
export function mergedWeight(module: LoraModule, W: Float32Array, wShape: readonly number[], fanInFanOut: boolean): Float32Array {
  const [inF, outF] = fanInFanOut ? [wShape[0]!, wShape[1]!] : [wShape[1]!, wShape[0]!];
  return mergeLoraIntoWeight(W, toFloat32(module.A), toFloat32(module.B), module.scale, fanInFanOut, {
    r: module.r,
    inFeatures: inF,
    outFeatures: outF,
  });
}
