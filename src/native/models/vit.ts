/**
 * ViT, DINOv2 and DINOv2 with registers as Hugging Face's ViTModel / Dinov2Model /
 * Dinov2WithRegistersModel compute them, as a graph:
 *
 *   patches = Conv2d(kernel = stride = patch)(pixels)      written as reshape + one Gemm
 *   x = [CLS, patches] + position embeddings               interpolated when the grid differs
 *   DINOv2 with registers: x = [CLS, registers, patches]   (registers get no position embedding)
 *   per layer (pre-LN):
 *     ViT:    x = x + attn(ln_before(x));  x = x + out(act(inter(ln_after(x))))
 *     DINOv2: x = x + λ1 * attn(norm1(x)); x = x + λ2 * mlp(norm2(x))   (layer scale)
 *   last_hidden = layernorm(x)
 *
 * Pooling: `cls` = last_hidden[:, 0]; `prenorm-mean` = mean over all tokens (CLS, registers, patches)
 * of x before the final layer norm (CLEFT's pooled feature).
 *
 * Position-embedding interpolation (the checkpoint's grid -> this input's grid), per family exactly as
 * transformers does it today:
 * - ViT and DINOv2: F.interpolate(bicubic, size=(h, w), align_corners=False): cubic a = -0.75,
 *   half-pixel source coordinates with scale in/out, edge pixels repeated.
 * - DINOv2 with registers: the same call with antialias=True, which in torch is the PIL-style
 *   separable filter: cubic a = -0.5, support 2·max(scale, 1), weights renormalised, no clamping.
 * - `legacy-dinov2` (older transformers releases, before `size=` replaced it in 2024, and the
 *   original DINO/DINOv2 code): scale_factor = ((h + 0.1) / h0, (w + 0.1) / w0), which torch uses
 *   for the source coordinates too.
 * The interpolation is two MatMuls with constant matrices on the frozen position embeddings: ORT
 * folds them into one constant when the session is created.
 */
import { ops, type Tensor } from '../graph/index';
import type { Dim } from '../graph/shape';
import { z } from 'zod';
import {
  hfPair,
  hfPosInt,
  ModelFormatError,
  parseHfConfig,
  toPair,
  type ConfigDim,
  type ExpectedTensor,
  type WeightSpec,
} from '../formats/hf-folder';
import { activation, linear, LinearGemm, multiHeadAttention, SUPPORTED_ACTIVATIONS, type Activation, type ParamStore } from './encoders';
import type { LoraHooks } from './lora';
import type { MatmulWeight } from './weights';

export type ImagePooling = 'cls' | 'prenorm-mean';
export const IMAGE_POOLINGS: readonly ImagePooling[] = ['cls', 'prenorm-mean'];
export type PosInterpolation = 'auto' | 'bicubic' | 'bicubic-antialias' | 'legacy-dinov2';

export interface VisionOptions {
  lora?: LoraHooks;
  /** Default 'auto': the family's current transformers behaviour (see the module notes). */
  posInterpolation?: PosInterpolation;
}

export interface VisionOutput {
  /** Output of the last block, before the final layer norm: [batch, tokens, d]. */
  prenorm: Tensor;
  /** After the final layer norm: [batch, tokens, d]. */
  lastHidden: Tensor;
  /** Tokens = 1 + registers + patches. */
  numRegisters: number;
  grid: [number, number];
}

export function visionForward(cfg: VisionConfig, w: ParamStore, pixelValues: Tensor, opts: VisionOptions = {}): VisionOutput {
  const lora = opts.lora;
  const d = cfg.hiddenSize;
  const [batch, channels, height, width] = pixelValues.shape as [Dim, Dim, Dim, Dim];
  if (typeof height !== 'number' || typeof width !== 'number') throw new Error('vision encoder: image height and width must be static');
  if (channels !== cfg.numChannels) throw new Error(`vision encoder: ${String(channels)} channels, the model has ${cfg.numChannels}`);
  const [ph, pw] = cfg.patchSize;
  const [gh, gw] = [Math.floor(height / ph), Math.floor(width / pw)];
  if (gh < 1 || gw < 1) throw new Error(`vision encoder: image ${height}x${width} is smaller than one ${ph}x${pw} patch`);

  // Patch embedding: a stride = kernel convolution is a matmul over flattened patches. Like Conv2d,
  // rows/columns beyond the last whole patch are ignored.
  let px = pixelValues;
  if (gh * ph !== height) px = px.slice(2, 0, gh * ph);
  if (gw * pw !== width) px = px.slice(3, 0, gw * pw);
  const k = cfg.numChannels * ph * pw;
  const patches = px
    .reshape([batch, cfg.numChannels, gh, ph, gw, pw])
    .transpose([0, 2, 4, 1, 3, 5]) // [B, gh, gw, C, ph, pw]
    .reshape([-1, k]);
  const proj = w.get('embeddings.patch_embeddings.projection.weight').reshape([d, k]);
  const bias = w.get('embeddings.patch_embeddings.projection.bias');
  let x = patches.graph.apply(LinearGemm, [patches, proj, bias], {})[0]!.reshape([batch, gh * gw, d]);

  // CLS + position embeddings (+ registers after CLS, without position embedding)
  const cls = w.get('embeddings.cls_token').expand([batch, 1, d]);
  x = ops.concat([cls, x], 1).add(positionEmbeddings(cfg, w, [gh, gw], opts.posInterpolation ?? 'auto'));
  const numRegisters = cfg.family === 'dinov2_with_registers' ? cfg.numRegisterTokens : 0;
  if (numRegisters > 0) {
    const reg = w.get('embeddings.register_tokens').expand([batch, numRegisters, d]);
    x = ops.concat([x.slice(1, 0, 1), reg, x.slice(1, 1)], 1);
  }

  // encoder
  const eps = cfg.layerNormEps;
  const scale = 1 / Math.sqrt(d / cfg.numAttentionHeads);
  const ln = (t: Tensor, name: string) => t.layerNorm(w.get(`${name}.weight`), w.get(`${name}.bias`), eps);
  const attention = (h: Tensor, p: string) => {
    const q = linear(h, w, p + 'attention.attention.query', lora);
    const kk = linear(h, w, p + 'attention.attention.key', lora);
    const v = linear(h, w, p + 'attention.attention.value', lora);
    const a = multiHeadAttention(q, kk, v, cfg.numAttentionHeads, { scale });
    return linear(a, w, p + 'attention.output.dense', lora);
  };
  for (let l = 0; l < cfg.numHiddenLayers; l++) {
    const p = `encoder.layer.${l}.`;
    if (cfg.family === 'vit') {
      x = x.add(attention(ln(x, p + 'layernorm_before'), p));
      const h = activation(linear(ln(x, p + 'layernorm_after'), w, p + 'intermediate.dense', lora), cfg.activation);
      x = x.add(linear(h, w, p + 'output.dense', lora));
    } else {
      x = x.add(attention(ln(x, p + 'norm1'), p).mul(w.get(p + 'layer_scale1.lambda1')));
      const m = ln(x, p + 'norm2');
      let h: Tensor;
      if (cfg.useSwigluFfn) {
        const [x1, x2] = linear(m, w, p + 'mlp.weights_in', lora).split(-1, 2) as [Tensor, Tensor];
        h = linear(x1.mul(x1.sigmoid()).mul(x2), w, p + 'mlp.weights_out', lora);
      } else {
        h = linear(activation(linear(m, w, p + 'mlp.fc1', lora), cfg.activation), w, p + 'mlp.fc2', lora);
      }
      x = x.add(h.mul(w.get(p + 'layer_scale2.lambda1')));
    }
  }
  return { prenorm: x, lastHidden: ln(x, 'layernorm'), numRegisters, grid: [gh, gw] };
}

/** The matmul weights of the encoder layers (nn.Linear, stored [out, in]): what the int8 path quantizes. */
export function visionMatmulWeights(cfg: VisionConfig): MatmulWeight[] {
  const modules = ['attention.attention.query', 'attention.attention.key', 'attention.attention.value', 'attention.output.dense'];
  if (cfg.family === 'vit') modules.push('intermediate.dense', 'output.dense');
  else modules.push('mlp.fc1', 'mlp.fc2', 'mlp.weights_in', 'mlp.weights_out'); // the ones absent are skipped when bound
  const out: MatmulWeight[] = [];
  for (let l = 0; l < cfg.numHiddenLayers; l++)
    for (const m of modules) out.push({ name: `encoder.layer.${l}.${m}.weight`, layout: 'out-in' });
  return out;
}

/** The pooled image feature [batch, d]. */
export function poolImage(out: VisionOutput, pool: ImagePooling): Tensor {
  if (pool === 'cls') return out.lastHidden.slice(1, 0, 1).squeeze(1);
  return out.prenorm.mean(1);
}

// ---------------------------------------------------------------------------------------------
// position embeddings

/** [1, 1 + gh*gw, d]: the checkpoint's, or interpolated to the grid [gh, gw]. */
function positionEmbeddings(cfg: VisionConfig, w: ParamStore, grid: [number, number], how: PosInterpolation): Tensor {
  const pos = w.get('embeddings.position_embeddings'); // [1, 1 + N0, d]
  const d = cfg.hiddenSize;
  const n0 = (pos.shape[1] as number) - 1;
  const [gh, gw] = grid;
  // transformers skips interpolation when the patch count matches and the image is square
  const [h0, w0] = checkpointGrid(cfg, n0);
  if (gh * gw === n0 && gh === gw && h0 === w0) return pos;
  const method: Exclude<PosInterpolation, 'auto'> =
    how !== 'auto' ? how : cfg.family === 'dinov2_with_registers' ? 'bicubic-antialias' : 'bicubic';
  const g = pos.graph;
  const rows = interpolationMatrix(h0, gh, method);
  const cols = interpolationMatrix(w0, gw, method);
  const mh = g.constant(rows, 'float32', [gh, h0]);
  const mwT = g.constant(transpose2d(cols, gw, w0), 'float32', [w0, gw]);
  const patch = pos.slice(1, 1).reshape([h0, w0 * d]); // [h0, w0*d]
  const yh = mh.matmul(patch).reshape([gh, w0, d]).transpose([0, 2, 1]); // [gh, d, w0]
  const y = yh
    .matmul(mwT)
    .transpose([0, 2, 1])
    .reshape([1, gh * gw, d]); // [1, gh*gw, d]
  return ops.concat([pos.slice(1, 0, 1), y], 1);
}

/** The grid of the checkpoint's position embeddings (square, as transformers assumes). */
function checkpointGrid(cfg: VisionConfig, n0: number): [number, number] {
  const s = Math.round(Math.sqrt(n0));
  if (s * s === n0) return [s, s];
  const [gh, gw] = [cfg.imageSize[0] / cfg.patchSize[0], cfg.imageSize[1] / cfg.patchSize[1]].map(Math.floor) as [number, number];
  if (gh * gw === n0) return [gh, gw];
  throw new Error(`position embeddings: ${n0} patches do not form the checkpoint's grid`);
}

function transpose2d(m: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c]!;
  return out;
}

/**
 * Row o = the weights of output sample o over the input samples, for torch's bicubic
 * F.interpolate (align_corners=False) in one dimension. Exported for tests.
 */
export function interpolationMatrix(inSize: number, outSize: number, method: Exclude<PosInterpolation, 'auto'>): Float64Array {
  const m = new Float64Array(outSize * inSize);
  if (method === 'bicubic-antialias') {
    // aten/src/ATen/native/cpu/UpSampleKernel.cpp, _compute_indices_min_size_weights_aa with the
    // bicubic aa filter (a = -0.5, as PIL)
    const scale = inSize / outSize;
    const support = scale >= 1 ? 2 * scale : 2;
    const invscale = scale >= 1 ? 1 / scale : 1;
    for (let o = 0; o < outSize; o++) {
      const center = scale * (o + 0.5);
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
      let total = 0;
      const ws: number[] = [];
      for (let j = xmin; j < xmax; j++) {
        const v = cubicAA((j - center + 0.5) * invscale);
        ws.push(v);
        total += v;
      }
      ws.forEach((v, k) => (m[o * inSize + xmin + k] = total !== 0 ? v / total : 0));
    }
    return m;
  }
  // upsample_bicubic2d: source = scale * (o + 0.5) - 0.5, 4 taps, indices clamped to the edge
  const scale = method === 'legacy-dinov2' ? inSize / (outSize + 0.1) : inSize / outSize;
  const A = -0.75;
  const c1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
  const c2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  for (let o = 0; o < outSize; o++) {
    const src = scale * (o + 0.5) - 0.5;
    const i0 = Math.floor(src);
    const t = src - i0;
    const ws = [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)];
    for (let k = 0; k < 4; k++) {
      const idx = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
      m[o * inSize + idx] += ws[k]!;
    }
  }
  return m;
}

function cubicAA(x: number): number {
  const a = -0.5;
  const ax = Math.abs(x);
  if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1;
  if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// config.json (ViTConfig, Dinov2Config, Dinov2WithRegistersConfig, with their defaults) and the
// weights visionForward reads

const VitRaw = z.looseObject({
  model_type: z.literal('vit').optional(),
  architectures: z.array(z.string()).nullish(),
  hidden_size: hfPosInt.default(768),
  num_hidden_layers: hfPosInt.default(12),
  num_attention_heads: hfPosInt.default(12),
  intermediate_size: hfPosInt.default(3072),
  hidden_act: z.enum(SUPPORTED_ACTIVATIONS).default('gelu'),
  layer_norm_eps: z.number().positive().default(1e-12),
  image_size: hfPair.default(224),
  patch_size: hfPair.default(16),
  num_channels: hfPosInt.default(3),
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
  hidden_size: hfPosInt.default(768),
  num_hidden_layers: hfPosInt.default(12),
  num_attention_heads: hfPosInt.default(12),
  mlp_ratio: z.number().positive().default(4),
  hidden_act: z.enum(SUPPORTED_ACTIVATIONS).default('gelu'),
  layer_norm_eps: z.number().positive().default(1e-6),
  image_size: hfPair.default(224),
  num_channels: hfPosInt.default(3),
  qkv_bias: z.boolean().default(true),
  layerscale_value: z.number().default(1.0),
  use_swiglu_ffn: z.boolean().default(false),
};
const Dinov2Raw = z.looseObject({
  ...Dinov2RawBase,
  model_type: z.literal('dinov2').optional(),
  patch_size: hfPair.default(14),
});
const Dinov2RegRaw = z.looseObject({
  ...Dinov2RawBase,
  model_type: z.literal('dinov2_with_registers').optional(),
  // transformers' Dinov2WithRegistersConfig defaults: patch_size 16 (sic), 4 registers
  patch_size: hfPair.default(16),
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

export type VisionConfig = VitConfig | Dinov2Config;

/** Normalises a ViT / DINOv2 / DINOv2-with-registers config.json (camelCase, defaults filled in). */
export function parseVisionConfig(raw: unknown, file: string, family: VisionConfig['family'], architectures: string[]): VisionConfig {
  if (family === 'vit') {
    const c = parseHfConfig(VitRaw, raw, file, family);
    if (c.hidden_size % c.num_attention_heads !== 0)
      throw new ModelFormatError(file, `hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`);
    const imageSize = toPair(c.image_size);
    const patchSize = toPair(c.patch_size);
    return {
      family,
      architectures,
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
  const c = family === 'dinov2' ? parseHfConfig(Dinov2Raw, raw, file, family) : parseHfConfig(Dinov2RegRaw, raw, file, family);
  if (c.hidden_size % c.num_attention_heads !== 0)
    throw new ModelFormatError(file, `hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`);
  const imageSize = toPair(c.image_size);
  const patchSize = toPair(c.patch_size);
  let mlpHidden = Math.trunc(c.hidden_size * c.mlp_ratio);
  if (c.use_swiglu_ffn) mlpHidden = Math.floor((Math.trunc((mlpHidden * 2) / 3) + 7) / 8) * 8;
  return {
    family,
    architectures,
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

/**
 * The weights visionForward reads (canonical names, shapes from the config; DINOv2's register
 * tokens when it has them), and the config sizes each shows: the list a model folder is checked
 * against before a graph is built from it.
 */
export function visionWeights(cfg: VisionConfig): WeightSpec {
  const emb = 'embeddings.patch_embeddings.projection.weight';
  const dims: ConfigDim[] = [
    { key: ['hidden_size'], configured: cfg.hiddenSize, tensor: 'embeddings.cls_token', axis: 2 },
    { key: ['num_channels'], configured: cfg.numChannels, tensor: emb, axis: 1 },
    { key: ['patch_size'], configured: cfg.patchSize[0], tensor: emb, axis: 2 },
    { key: ['patch_size'], configured: cfg.patchSize[1], tensor: emb, axis: 3 },
    // image_size / patch_size sets the position grid: +1 for the class token
    { key: ['image_size'], configured: cfg.imageSize[0], tensor: 'embeddings.position_embeddings', axis: 1, implied: cfg.numPatches + 1 },
  ];
  if (cfg.family === 'vit')
    dims.push({
      key: ['intermediate_size'],
      configured: cfg.intermediateSize,
      tensor: 'encoder.layer.0.intermediate.dense.weight',
      axis: 0,
    });
  else {
    if (cfg.numRegisterTokens > 0)
      dims.push({ key: ['num_register_tokens'], configured: cfg.numRegisterTokens, tensor: 'embeddings.register_tokens', axis: 1 });
    if (cfg.useSwigluFfn)
      dims.push({
        key: ['mlp_ratio'],
        configured: cfg.mlpRatio,
        tensor: 'encoder.layer.0.mlp.weights_in.weight',
        axis: 0,
        implied: 2 * cfg.mlpHiddenSize,
      });
    else
      dims.push({
        key: ['mlp_ratio'],
        configured: cfg.mlpRatio,
        tensor: 'encoder.layer.0.mlp.fc1.weight',
        axis: 0,
        implied: cfg.mlpHiddenSize,
      });
  }
  return {
    anchor: 'embeddings.cls_token',
    layerPattern: /^encoder\.layer\.(\d+)\./,
    layers: { key: 'num_hidden_layers', count: cfg.numHiddenLayers },
    dims,
    tensors: () => visionTensors(cfg),
  };
}

function visionTensors(config: VisionConfig): ExpectedTensor[] {
  const out: ExpectedTensor[] = [];
  const t = (name: string, shape: number[], optional = false) => out.push(optional ? { name, shape, optional } : { name, shape });
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
