/**
 * Hugging Face model folders: `config.json` + `model.safetensors` (or shards listed in
 * `model.safetensors.index.json`).
 *
 * `loadHfFolder(dir)` reads the config (normalised, with Hugging Face's defaults), finds the
 * weights, and builds a weight index: canonical name (no `transformer.` / `vit.` / `dinov2.` prefix)
 * -> file, absolute byte offset, dtype, shape. No tensor data is read, so the engine can point ONNX
 * external data straight into the safetensors files. The folder is validated against what its
 * config implies: every expected tensor present with the expected shape and a float dtype;
 * anything wrong is refused with a `ModelFormatError` naming the file, the tensor and the problem.
 *
 * BF16 weights (ONNX Runtime has no BF16 kernels) are converted once to an F32 cache file:
 * `ensureF32Cache(model, cacheDir)`.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../io/atomic-write';
import {
  readSafetensorsHeader,
  writeSafetensors,
  writeSafetensorsStreaming,
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
// configs (zod schemas with Hugging Face defaults, normalised to camelCase)

export type ModelFamily = 'gpt2' | 'vit' | 'dinov2' | 'dinov2_with_registers';

/** Activations the model graphs are expected to implement (Hugging Face ACT2FN names). */
export const SUPPORTED_ACTIVATIONS = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'quick_gelu', 'relu', 'silu', 'swish'] as const;
export type Activation = (typeof SUPPORTED_ACTIVATIONS)[number];

const activation = z.enum(SUPPORTED_ACTIVATIONS);
const posInt = z.number().int().positive();
const pair = z.union([posInt, z.tuple([posInt, posInt])]);
const toPair = (v: number | [number, number]): [number, number] => (Array.isArray(v) ? v : [v, v]);

const Gpt2Raw = z.looseObject({
  model_type: z.literal('gpt2').optional(),
  architectures: z.array(z.string()).nullish(),
  vocab_size: posInt.default(50257),
  n_positions: posInt.optional(),
  n_ctx: posInt.optional(),
  n_embd: posInt.default(768),
  n_layer: posInt.default(12),
  n_head: posInt.default(12),
  n_inner: posInt.nullish(),
  activation_function: activation.default('gelu_new'),
  layer_norm_epsilon: z.number().positive().default(1e-5),
  scale_attn_weights: z.boolean().default(true),
  scale_attn_by_inverse_layer_idx: z.boolean().default(false),
  reorder_and_upcast_attn: z.boolean().default(false),
  bos_token_id: z.number().int().nullish(),
  eos_token_id: z.number().int().nullish(),
  tie_word_embeddings: z.boolean().default(true),
});

export interface Gpt2Config {
  family: 'gpt2';
  architectures: string[];
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** MLP width; Hugging Face's `n_inner: null` means 4 * n_embd. */
  nInner: number;
  activation: Activation;
  layerNormEpsilon: number;
  scaleAttnWeights: boolean;
  scaleAttnByInverseLayerIdx: boolean;
  reorderAndUpcastAttn: boolean;
  bosTokenId: number;
  eosTokenId: number;
}

const VitRaw = z.looseObject({
  model_type: z.literal('vit').optional(),
  architectures: z.array(z.string()).nullish(),
  hidden_size: posInt.default(768),
  num_hidden_layers: posInt.default(12),
  num_attention_heads: posInt.default(12),
  intermediate_size: posInt.default(3072),
  hidden_act: activation.default('gelu'),
  layer_norm_eps: z.number().positive().default(1e-12),
  image_size: pair.default(224),
  patch_size: pair.default(16),
  num_channels: posInt.default(3),
  qkv_bias: z.boolean().default(true),
});

export interface VitConfig {
  family: 'vit';
  architectures: string[];
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  activation: Activation;
  layerNormEps: number;
  imageSize: [number, number];
  patchSize: [number, number];
  numChannels: number;
  qkvBias: boolean;
  /** Patches in the checkpoint's position embedding grid (image_size / patch_size). */
  numPatches: number;
}

const Dinov2RawBase = {
  architectures: z.array(z.string()).nullish(),
  hidden_size: posInt.default(768),
  num_hidden_layers: posInt.default(12),
  num_attention_heads: posInt.default(12),
  mlp_ratio: z.number().positive().default(4),
  hidden_act: activation.default('gelu'),
  layer_norm_eps: z.number().positive().default(1e-6),
  image_size: pair.default(224),
  num_channels: posInt.default(3),
  qkv_bias: z.boolean().default(true),
  layerscale_value: z.number().default(1.0),
  use_swiglu_ffn: z.boolean().default(false),
};
const Dinov2Raw = z.looseObject({
  ...Dinov2RawBase,
  model_type: z.literal('dinov2').optional(),
  patch_size: pair.default(14),
});
const Dinov2RegRaw = z.looseObject({
  ...Dinov2RawBase,
  model_type: z.literal('dinov2_with_registers').optional(),
  // transformers' Dinov2WithRegistersConfig defaults: patch_size 16 (sic), 4 registers
  patch_size: pair.default(16),
  num_register_tokens: z.number().int().nonnegative().default(4),
});

export interface Dinov2Config {
  family: 'dinov2' | 'dinov2_with_registers';
  architectures: string[];
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  mlpRatio: number;
  /** MLP hidden width: int(hidden * mlp_ratio), or the SwiGLU rounding when useSwigluFfn. */
  mlpHiddenSize: number;
  activation: Activation;
  layerNormEps: number;
  imageSize: [number, number];
  patchSize: [number, number];
  numChannels: number;
  qkvBias: boolean;
  layerscaleValue: number;
  useSwigluFfn: boolean;
  /** 0 for plain DINOv2. */
  numRegisterTokens: number;
  numPatches: number;
}

export type ModelConfig = Gpt2Config | VitConfig | Dinov2Config;

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

/** Detects the family from `model_type` (or `architectures`) and normalises the config. */
export function parseModelConfig(raw: unknown, file = 'config.json'): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ModelFormatError(file, 'config is not a JSON object');
  const r = raw as Record<string, unknown>;
  const archs = Array.isArray(r.architectures) ? (r.architectures as unknown[]).map(String) : [];
  let family: ModelFamily | undefined;
  if (typeof r.model_type === 'string') {
    const mt = r.model_type;
    if (mt === 'gpt2' || mt === 'vit' || mt === 'dinov2' || mt === 'dinov2_with_registers') family = mt;
    else throw new ModelFormatError(file, `unsupported model_type "${mt}" (supported: gpt2, vit, dinov2, dinov2_with_registers)`);
  } else {
    family = archs.map((a) => ARCH_FAMILY[a]).find((f) => f !== undefined);
    if (!family)
      throw new ModelFormatError(
        file,
        `no model_type and no supported architecture (got ${JSON.stringify(archs)}; supported: ${Object.keys(ARCH_FAMILY).join(', ')})`,
      );
  }
  const parse = <T extends z.ZodType>(schema: T): z.output<T> => {
    const res = schema.safeParse(raw);
    if (!res.success) throw new ModelFormatError(file, `invalid ${family} config: ${zodProblem(res.error)}`);
    return res.data;
  };
  switch (family) {
    case 'gpt2': {
      const c = parse(Gpt2Raw);
      if (c.n_embd % c.n_head !== 0) throw new ModelFormatError(file, `n_embd ${c.n_embd} is not divisible by n_head ${c.n_head}`);
      return {
        family,
        architectures: archs,
        vocabSize: c.vocab_size,
        nPositions: c.n_positions ?? c.n_ctx ?? 1024,
        nEmbd: c.n_embd,
        nLayer: c.n_layer,
        nHead: c.n_head,
        nInner: c.n_inner ?? 4 * c.n_embd,
        activation: c.activation_function,
        layerNormEpsilon: c.layer_norm_epsilon,
        scaleAttnWeights: c.scale_attn_weights,
        scaleAttnByInverseLayerIdx: c.scale_attn_by_inverse_layer_idx,
        reorderAndUpcastAttn: c.reorder_and_upcast_attn,
        bosTokenId: c.bos_token_id ?? 50256,
        eosTokenId: c.eos_token_id ?? 50256,
      };
    }
    case 'vit': {
      const c = parse(VitRaw);
      if (c.hidden_size % c.num_attention_heads !== 0)
        throw new ModelFormatError(file, `hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`);
      const imageSize = toPair(c.image_size);
      const patchSize = toPair(c.patch_size);
      return {
        family,
        architectures: archs,
        hiddenSize: c.hidden_size,
        numHiddenLayers: c.num_hidden_layers,
        numAttentionHeads: c.num_attention_heads,
        intermediateSize: c.intermediate_size,
        activation: c.hidden_act,
        layerNormEps: c.layer_norm_eps,
        imageSize,
        patchSize,
        numChannels: c.num_channels,
        qkvBias: c.qkv_bias,
        numPatches: Math.floor(imageSize[0] / patchSize[0]) * Math.floor(imageSize[1] / patchSize[1]),
      };
    }
    case 'dinov2':
    case 'dinov2_with_registers': {
      const c = family === 'dinov2' ? parse(Dinov2Raw) : parse(Dinov2RegRaw);
      if (c.hidden_size % c.num_attention_heads !== 0)
        throw new ModelFormatError(file, `hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`);
      const imageSize = toPair(c.image_size);
      const patchSize = toPair(c.patch_size);
      let mlpHidden = Math.trunc(c.hidden_size * c.mlp_ratio);
      if (c.use_swiglu_ffn) mlpHidden = Math.floor((Math.trunc((mlpHidden * 2) / 3) + 7) / 8) * 8;
      return {
        family,
        architectures: archs,
        hiddenSize: c.hidden_size,
        numHiddenLayers: c.num_hidden_layers,
        numAttentionHeads: c.num_attention_heads,
        mlpRatio: c.mlp_ratio,
        mlpHiddenSize: mlpHidden,
        activation: c.hidden_act,
        layerNormEps: c.layer_norm_eps,
        imageSize,
        patchSize,
        numChannels: c.num_channels,
        qkvBias: c.qkv_bias,
        layerscaleValue: c.layerscale_value,
        useSwigluFfn: c.use_swiglu_ffn,
        numRegisterTokens: 'num_register_tokens' in c ? (c.num_register_tokens as number) : 0,
        numPatches: Math.floor(imageSize[0] / patchSize[0]) * Math.floor(imageSize[1] / patchSize[1]),
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// expected tensors per family

export interface ExpectedTensor {
  name: string;
  shape: number[];
  /** Present in some checkpoints only, not needed for the forward pass (e.g. mask_token). */
  optional?: boolean;
}

/** Canonical (unprefixed) tensor names and shapes implied by a config. */
export function expectedTensors(config: ModelConfig): ExpectedTensor[] {
  const out: ExpectedTensor[] = [];
  const t = (name: string, shape: number[], optional = false) => out.push(optional ? { name, shape, optional } : { name, shape });
  if (config.family === 'gpt2') {
    const { nEmbd: E, nInner: I, vocabSize: V, nPositions: P } = config;
    t('wte.weight', [V, E]);
    t('wpe.weight', [P, E]);
    for (let l = 0; l < config.nLayer; l++) {
      const p = `h.${l}.`;
      t(p + 'ln_1.weight', [E]);
      t(p + 'ln_1.bias', [E]);
      t(p + 'attn.c_attn.weight', [E, 3 * E]);
      t(p + 'attn.c_attn.bias', [3 * E]);
      t(p + 'attn.c_proj.weight', [E, E]);
      t(p + 'attn.c_proj.bias', [E]);
      t(p + 'ln_2.weight', [E]);
      t(p + 'ln_2.bias', [E]);
      t(p + 'mlp.c_fc.weight', [E, I]);
      t(p + 'mlp.c_fc.bias', [I]);
      t(p + 'mlp.c_proj.weight', [I, E]);
      t(p + 'mlp.c_proj.bias', [E]);
    }
    t('ln_f.weight', [E]);
    t('ln_f.bias', [E]);
    return out;
  }
  const H = config.hiddenSize;
  const [ph, pw] = config.patchSize;
  t('embeddings.cls_token', [1, 1, H]);
  t('embeddings.position_embeddings', [1, config.numPatches + 1, H]);
  t('embeddings.patch_embeddings.projection.weight', [H, config.numChannels, ph, pw]);
  t('embeddings.patch_embeddings.projection.bias', [H]);
  const L = config.numHiddenLayers;
  if (config.family === 'vit') {
    t('embeddings.mask_token', [1, 1, H], true);
    const I = config.intermediateSize;
    for (let l = 0; l < L; l++) {
      const p = `encoder.layer.${l}.`;
      for (const q of ['query', 'key', 'value']) {
        t(`${p}attention.attention.${q}.weight`, [H, H]);
        if (config.qkvBias) t(`${p}attention.attention.${q}.bias`, [H]);
      }
      t(p + 'attention.output.dense.weight', [H, H]);
      t(p + 'attention.output.dense.bias', [H]);
      t(p + 'intermediate.dense.weight', [I, H]);
      t(p + 'intermediate.dense.bias', [I]);
      t(p + 'output.dense.weight', [H, I]);
      t(p + 'output.dense.bias', [H]);
      t(p + 'layernorm_before.weight', [H]);
      t(p + 'layernorm_before.bias', [H]);
      t(p + 'layernorm_after.weight', [H]);
      t(p + 'layernorm_after.bias', [H]);
    }
    t('layernorm.weight', [H]);
    t('layernorm.bias', [H]);
    t('pooler.dense.weight', [H, H], true);
    t('pooler.dense.bias', [H], true);
    return out;
  }
  t('embeddings.mask_token', [1, H], true);
  if (config.numRegisterTokens > 0) t('embeddings.register_tokens', [1, config.numRegisterTokens, H]);
  const M = config.mlpHiddenSize;
  for (let l = 0; l < L; l++) {
    const p = `encoder.layer.${l}.`;
    t(p + 'norm1.weight', [H]);
    t(p + 'norm1.bias', [H]);
    for (const q of ['query', 'key', 'value']) {
      t(`${p}attention.attention.${q}.weight`, [H, H]);
      if (config.qkvBias) t(`${p}attention.attention.${q}.bias`, [H]);
    }
    t(p + 'attention.output.dense.weight', [H, H]);
    t(p + 'attention.output.dense.bias', [H]);
    t(p + 'layer_scale1.lambda1', [H]);
    t(p + 'norm2.weight', [H]);
    t(p + 'norm2.bias', [H]);
    if (config.useSwigluFfn) {
      t(p + 'mlp.weights_in.weight', [2 * M, H]);
      t(p + 'mlp.weights_in.bias', [2 * M]);
      t(p + 'mlp.weights_out.weight', [H, M]);
      t(p + 'mlp.weights_out.bias', [H]);
    } else {
      t(p + 'mlp.fc1.weight', [M, H]);
      t(p + 'mlp.fc1.bias', [M]);
      t(p + 'mlp.fc2.weight', [H, M]);
      t(p + 'mlp.fc2.bias', [H]);
    }
    t(p + 'layer_scale2.lambda1', [H]);
  }
  t('layernorm.weight', [H]);
  t('layernorm.bias', [H]);
  return out;
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
// loading and validation

export interface HfModel {
  dir: string;
  configFile: string;
  config: ModelConfig;
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

/** Loads and validates a Hugging Face model folder (reads headers only). */
export function loadHfFolder(dir: string, options: LoadOptions = {}): HfModel {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new ModelFormatError(abs, 'not a folder');
  const configFile = path.join(abs, 'config.json');
  if (!fs.existsSync(configFile)) throw new ModelFormatError(configFile, 'missing config.json');
  const rawConfig = readJson(configFile) as Record<string, unknown>;
  const config = parseModelConfig(rawConfig, configFile);
  const raw = openWeightIndex(abs);
  // the first tensor expectedTensors lists, looked for before the config is trusted to list them
  const anchor = config.family === 'gpt2' ? 'wte.weight' : 'embeddings.cls_token';
  const prefixes = FAMILY_PREFIXES[config.family];
  const prefix = prefixes.find((p) => raw.tensors.has(p + anchor));
  const where = raw.sharded ? path.join(abs, INDEX_FILE) : raw.files[0]!;
  if (prefix === undefined)
    throw new ModelFormatError(
      where,
      `missing tensor (looked for ${prefixes.map((p) => `"${p}${anchor}"`).join(' and ')}; is this really a ${config.family} model?)`,
      anchor,
    );
  checkConfigAgainstWeights(config, rawConfig, raw, prefix, configFile);
  const expected = expectedTensors(config);

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
    const layerRe = config.family === 'gpt2' ? /^h\.(\d+)\./ : /^encoder\.layer\.(\d+)\./;
    const nLayers = config.family === 'gpt2' ? config.nLayer : config.numHiddenLayers;
    for (const stored of ignored) {
      if (!stored.startsWith(prefix)) continue;
      const canonical = stored.slice(prefix.length);
      if (IGNORABLE.some((re) => re.test(canonical))) continue;
      const m = layerRe.exec(canonical);
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
 * `expectedTensors` lists tensors per layer, so a config.json claiming 10^9 layers would fill the
 * heap. Each size the weights show (layers, widths, vocabulary, positions, patches) must agree;
 * the message names config.json, the key and what the weights hold. Tensors that are absent are
 * left to the completeness check that follows.
 */
function checkConfigAgainstWeights(
  config: ModelConfig,
  rawConfig: Record<string, unknown>,
  raw: RawWeightIndex,
  prefix: string,
  configFile: string,
): void {
  const find = (name: string) => raw.tensors.get(prefix + name);
  const weightsName = raw.sharded ? INDEX_FILE : SINGLE_FILE;
  const refuse = (problem: string): never => {
    throw new ModelFormatError(configFile, problem);
  };
  const value = (key: string, v: number) => `"${key}" is ${JSON.stringify(rawConfig[key] ?? v)}`;

  // Layers: count the distinct layer indices stored under the family's names.
  const layerRe = config.family === 'gpt2' ? /^h\.(\d+)\./ : /^encoder\.layer\.(\d+)\./;
  const layers = new Set<number>();
  for (const name of raw.tensors.keys()) {
    const m = name.startsWith(prefix) ? layerRe.exec(name.slice(prefix.length)) : null;
    if (m) layers.add(Number(m[1]));
  }
  const [layerKey, nLayers] = config.family === 'gpt2' ? ['n_layer', config.nLayer] : ['num_hidden_layers', config.numHiddenLayers];
  if (nLayers > layers.size)
    refuse(`${value(layerKey, nLayers)} but the weights (${weightsName}) hold ${layers.size} layer${layers.size === 1 ? '' : 's'}`);

  /** One dimension of one tensor against the config value that implies it. */
  const dim = (key: string, configured: number, tensor: string, axis: number, implied = configured) => {
    const t = find(tensor);
    if (!t || t.shape.length <= axis || t.shape[axis] === implied) return;
    const says = implied === configured ? `${t.shape[axis]}` : `${t.shape[axis]} (the config implies ${implied})`;
    throw new ModelFormatError(
      configFile,
      `${value(key, configured)} but the weights say ${says}: ${t.sourceName} in ${path.basename(t.file)} has shape [${t.shape.join(', ')}]`,
    );
  };
  if (config.family === 'gpt2') {
    dim('vocab_size', config.vocabSize, 'wte.weight', 0);
    dim('n_embd', config.nEmbd, 'wte.weight', 1);
    dim(rawConfig.n_positions === undefined && rawConfig.n_ctx !== undefined ? 'n_ctx' : 'n_positions', config.nPositions, 'wpe.weight', 0);
    dim('n_inner', config.nInner, 'h.0.mlp.c_fc.weight', 1);
    return;
  }
  dim('hidden_size', config.hiddenSize, 'embeddings.cls_token', 2);
  dim('num_channels', config.numChannels, 'embeddings.patch_embeddings.projection.weight', 1);
  dim('patch_size', config.patchSize[0], 'embeddings.patch_embeddings.projection.weight', 2);
  dim('patch_size', config.patchSize[1], 'embeddings.patch_embeddings.projection.weight', 3);
  // image_size / patch_size sets the position grid: +1 for the class token
  dim('image_size', config.imageSize[0], 'embeddings.position_embeddings', 1, config.numPatches + 1);
  if (config.family === 'vit') {
    dim('intermediate_size', config.intermediateSize, 'encoder.layer.0.intermediate.dense.weight', 0);
    return;
  }
  if (config.numRegisterTokens > 0) dim('num_register_tokens', config.numRegisterTokens, 'embeddings.register_tokens', 1);
  if (config.useSwigluFfn) dim('mlp_ratio', config.mlpRatio, 'encoder.layer.0.mlp.weights_in.weight', 0, 2 * config.mlpHiddenSize);
  else dim('mlp_ratio', config.mlpRatio, 'encoder.layer.0.mlp.fc1.weight', 0, config.mlpHiddenSize);
}

// ---------------------------------------------------------------------------------------------
// reading weights

/** Reads one weight's data as Float32Array (F16 / BF16 converted). */
export function readWeightF32(ref: WeightRef): Float32Array {
  const ab = new ArrayBuffer(ref.byteLength);
  const fd = fs.openSync(ref.file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (ref.byteOffset + ref.byteLength > size) throw new ModelFormatError(ref.file, `file truncated (${size} bytes)`, ref.sourceName);
    let done = 0;
    const u8 = new Uint8Array(ab);
    while (done < ref.byteLength) {
      const r = fs.readSync(fd, u8, done, Math.min(ref.byteLength - done, 1 << 30), ref.byteOffset + done);
      if (r === 0) throw new ModelFormatError(ref.file, 'unexpected end of file', ref.sourceName);
      done += r;
    }
  } finally {
    fs.closeSync(fd);
  }
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

// ---------------------------------------------------------------------------------------------
// BF16 -> F32 cache

export interface ConvertOptions {
  /** Which dtypes to convert to F32 (default ['BF16']; add 'F16' for an all-F32 model). */
  convert?: readonly Dtype[];
}

/**
 * Writes the weights that need converting (BF16 by default) as F32 into one safetensors file,
 * streaming tensor by tensor, and returns a model whose index points there for those tensors
 * (others keep pointing into the original files).
 */
export function convertWeightsToF32(model: HfModel, cacheFile: string, options: ConvertOptions = {}): HfModel {
  const convert = options.convert ?? ['BF16'];
  const todo = [...model.weights.values()].filter((w) => convert.includes(w.dtype));
  if (todo.length === 0) return model;
  fs.mkdirSync(path.dirname(path.resolve(cacheFile)), { recursive: true });
  const byName = new Map(todo.map((w) => [w.name, w]));
  writeSafetensorsStreaming(
    cacheFile,
    todo.map((w) => ({ name: w.name, dtype: 'F32' as const, shape: w.shape })),
    (name) => readWeightF32(byName.get(name)!),
    { format: 'pt', source: model.dir, converted_from: [...new Set(todo.map((w) => w.dtype))].join(',') },
  );
  return repointToCache(model, cacheFile, new Set(byName.keys()));
}

function repointToCache(model: HfModel, cacheFile: string, names: Set<string>): HfModel {
  const h = headerOrThrow(path.resolve(cacheFile));
  const weights = new Map(model.weights);
  for (const n of names) {
    const e = h.tensors.get(n);
    const old = weights.get(n)!;
    if (!e || e.dtype !== 'F32' || e.shape.join(',') !== old.shape.join(','))
      throw new ModelFormatError(h.path, 'cache file does not hold this tensor as F32 with the right shape', n);
    weights.set(n, { ...old, file: h.path, byteOffset: e.byteOffset, byteLength: e.byteLength, dtype: 'F32' });
  }
  const ws = [...weights.values()];
  return {
    ...model,
    weights,
    files: [...new Set([...model.files, h.path])],
    dtypes: [...new Set(ws.map((w) => w.dtype))],
    byteSize: ws.reduce((a, w) => a + w.byteLength, 0),
  };
}

/** A key for the cache file: the weight files' paths, sizes and mtimes, and the converted names. */
export function weightCacheKey(model: HfModel, convert: readonly Dtype[] = ['BF16']): string {
  const h = crypto.createHash('sha256');
  for (const f of model.files) {
    const st = fs.statSync(f);
    h.update(`${f}\0${st.size}\0${st.mtimeMs}\0`);
  }
  for (const w of model.weights.values()) if (convert.includes(w.dtype)) h.update(`${w.name}\0`);
  h.update(convert.join(','));
  return h.digest('hex').slice(0, 32);
}

/**
 * Converts BF16 (by default) weights to F32 once: reuses `<cacheDir>/<key>.safetensors` when it
 * exists and is valid, writes it otherwise. Returns the model re-pointed at the cache.
 */
export function ensureF32Cache(model: HfModel, cacheDir: string, options: ConvertOptions = {}): HfModel {
  const convert = options.convert ?? ['BF16'];
  const names = new Set([...model.weights.values()].filter((w) => convert.includes(w.dtype)).map((w) => w.name));
  if (names.size === 0) return model;
  const file = path.join(path.resolve(cacheDir), `${weightCacheKey(model, convert)}.safetensors`);
  if (fs.existsSync(file)) {
    try {
      return repointToCache(model, file, names);
    } catch {
      fs.rmSync(file, { force: true });
    }
  }
  return convertWeightsToF32(model, file, { convert });
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
