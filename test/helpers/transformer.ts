/**
 * A pre-LN GPT-style transformer for training tests and benches, written top to bottom like nanoGPT,
 * with HF GPT-2 parameter names (`h.{l}.attn.c_attn.weight` is [in, out], the Conv1D layout) and
 * optional LoRA on the attention projections. Which parameters are trainable and where frozen
 * values live (inline bytes, or external data in a .safetensors) is the caller's choice via `param`.
 *
 * Training-friendly choices: `linear` (transpose-free gradients), tanh-GELU with the sigmoid-form
 * gradient, the attention scale folded into q, the causal mask as an additive bias (no Where in the
 * backward), k transposed straight to [b, h, hd, t] with one Transpose.
 */
import { ops, type ParamOptions, type Tensor } from '../../src/native/graph/index';
import { geluTanh, linear } from '../../src/native/training/layers';
import type { BuildContext } from '../../src/native/training/setup';

export interface TransformerConfig {
  vocab: number;
  ctx: number;
  dim: number;
  heads: number;
  layers: number;
  /** Residual/attention dropout rate in training graphs (default 0). */
  dropout?: number;
  /** LoRA adapters on c_attn and c_proj of every layer. */
  lora?: { rank: number; alpha: number; dropout?: number; targets?: ('c_attn' | 'c_proj')[] };
  /** Use the generic MatMul and Gelu gradient rules of src/native/graph instead of `linear`/`geluTanh` (to measure the difference). */
  genericOps?: boolean;
}

/** Creates (or returns) a parameter; decides trainable/frozen and the value source. */
export type ParamFactory = (name: string, shape: number[]) => Tensor;

/** Names and shapes of all base (non-LoRA) parameters, in creation order. */
export function baseParamShapes(c: TransformerConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  m.set('wte.weight', [c.vocab, c.dim]);
  m.set('wpe.weight', [c.ctx, c.dim]);
  for (let l = 0; l < c.layers; l++) {
    m.set(`h.${l}.ln_1.weight`, [c.dim]);
    m.set(`h.${l}.ln_1.bias`, [c.dim]);
    m.set(`h.${l}.attn.c_attn.weight`, [c.dim, 3 * c.dim]);
    m.set(`h.${l}.attn.c_attn.bias`, [3 * c.dim]);
    m.set(`h.${l}.attn.c_proj.weight`, [c.dim, c.dim]);
    m.set(`h.${l}.attn.c_proj.bias`, [c.dim]);
    m.set(`h.${l}.ln_2.weight`, [c.dim]);
    m.set(`h.${l}.ln_2.bias`, [c.dim]);
    m.set(`h.${l}.mlp.c_fc.weight`, [c.dim, 4 * c.dim]);
    m.set(`h.${l}.mlp.c_fc.bias`, [4 * c.dim]);
    m.set(`h.${l}.mlp.c_proj.weight`, [4 * c.dim, c.dim]);
    m.set(`h.${l}.mlp.c_proj.bias`, [c.dim]);
  }
  m.set('ln_f.weight', [c.dim]);
  m.set('ln_f.bias', [c.dim]);
  return m;
}

/** LoRA parameter names and shapes: A [in, r], B [r, out] (PEFT stores their transposes). */
export function loraParamShapes(c: TransformerConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  if (!c.lora) return m;
  const targets = c.lora.targets ?? ['c_attn', 'c_proj'];
  for (let l = 0; l < c.layers; l++)
    for (const t of targets) {
      const out = t === 'c_attn' ? 3 * c.dim : c.dim;
      m.set(`h.${l}.attn.${t}.lora_A`, [c.dim, c.lora.rank]);
      m.set(`h.${l}.attn.${t}.lora_B`, [c.lora.rank, out]);
    }
  return m;
}

/** Final hidden states [batch, seq, dim] (after ln_f) for int64 ids [batch, seq]. */
export function transformer(ctx: BuildContext, c: TransformerConfig, ids: Tensor, param: ParamFactory): Tensor {
  const g = ctx.graph;
  const shapes = baseParamShapes(c);
  const loras = loraParamShapes(c);
  const p = (name: string) => param(name, shapes.get(name) ?? loras.get(name)!);
  const hd = c.dim / c.heads;
  const rate = c.dropout ?? 0;
  const lin = (x: Tensor, w: Tensor, b?: Tensor) => (c.genericOps ? (b ? x.matmul(w).add(b) : x.matmul(w)) : linear(x, w, b));
  const gelu = (x: Tensor) => (c.genericOps ? x.gelu('tanh') : geluTanh(x));

  const proj = (x: Tensor, l: number, name: 'c_attn' | 'c_proj') => {
    const base = `h.${l}.attn.${name}`;
    let y = lin(x, p(`${base}.weight`), p(`${base}.bias`));
    if (loras.has(`${base}.lora_A`)) {
      const xa = ctx.dropout(x, c.lora!.dropout ?? 0);
      // the alpha/r scale goes on the narrow [tokens, r] product, not on the [tokens, out] one
      y = y.add(lin(lin(xa, p(`${base}.lora_A`)).mul(c.lora!.alpha / c.lora!.rank), p(`${base}.lora_B`)));
    }
    return y;
  };

  // The residual stream is kept 2-D, [batch*seq, dim], so every linear + bias is a 2-D MatMul + Add
  // that ORT fuses into one Gemm (bias in the GEMM's C), and gradients need no reshapes.
  let x = p('wte.weight')
    .gather(ids)
    .add(p('wpe.weight').slice(0, 0, 'seq'))
    .reshape(['batch*seq', c.dim]);
  x = ctx.dropout(x, rate);
  // additive causal bias: 0 where key <= query, -1e9 above the diagonal
  const bias = ops.where(ops.causalMask(g, 'seq'), g.scalar(0, 'float32'), g.scalar(-1e9, 'float32'));

  for (let l = 0; l < c.layers; l++) {
    const h = x.layerNorm(p(`h.${l}.ln_1.weight`), p(`h.${l}.ln_1.bias`));
    const qkv = proj(h, l, 'c_attn');
    const [q, k, v] = qkv.split(-1, 3).map((t) => t.reshape(['batch', 'seq', c.heads, hd]));
    const qh = q!.transpose([0, 2, 1, 3]).mul(1 / Math.sqrt(hd));
    const kt = k!.transpose([0, 2, 3, 1]); // [b, h, hd, t]
    const vh = v!.transpose([0, 2, 1, 3]);
    let att = qh.matmul(kt).add(bias).softmax(-1);
    att = ctx.dropout(att, rate);
    const y = att.matmul(vh).transpose([0, 2, 1, 3]).reshape(['batch*seq', c.dim]);
    x = x.add(ctx.dropout(proj(y, l, 'c_proj'), rate));
    const m = x.layerNorm(p(`h.${l}.ln_2.weight`), p(`h.${l}.ln_2.bias`));
    const fc = gelu(lin(m, p(`h.${l}.mlp.c_fc.weight`), p(`h.${l}.mlp.c_fc.bias`)));
    x = x.add(ctx.dropout(lin(fc, p(`h.${l}.mlp.c_proj.weight`), p(`h.${l}.mlp.c_proj.bias`)), rate));
  }
  return x.layerNorm(p('ln_f.weight'), p('ln_f.bias')).reshape(['batch', 'seq', c.dim]);
}

/** GPT-2 style initial values: N(0, 0.02) weights, zero biases, unit norm scales; LoRA A ~ N(0, 1/r), B = 0. */
export function initialValue(name: string, shape: number[], rand: () => number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  if (/lora_B$/.test(name) || /\.bias$/.test(name)) return out;
  if (/(ln_\d|ln_f)\.weight$/.test(name)) return out.fill(1);
  const std = /lora_A$/.test(name) ? 1 / Math.sqrt(shape[1]!) / 4 : 0.02;
  for (let i = 0; i < n; i++) out[i] = std * normal();
  return out;
}

/** ParamOptions of a frozen float32 parameter with inline bytes. */
export function inlineFrozen(values: Float32Array): ParamOptions {
  return { value: { kind: 'inline', bytes: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) } };
}
