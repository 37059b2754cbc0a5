/**
 * What the model files (gpt2.ts, vit.ts) share: frozen weights as graph parameters (`ParamStore`),
 * the two linear layer layouts of Hugging Face checkpoints (GPT-2 `Conv1D` [in, out] and `nn.Linear`
 * [out, in]) with an optional LoRA branch, activations by their Hugging Face names, and multi-head
 * attention. Model code reads `w.get('h.0.attn.c_attn.weight')` with canonical (unprefixed) names.
 */
import { defineOp, ops, ShapeError, type Graph, type ParamValue, type Tensor } from '../graph/index';
import type { EmitTarget } from '../graph/op';
import type { DType } from '../graph/dtype';
import { dimEq, fmtShape, type Dim } from '../graph/shape';
import { attr } from '../graph/onnx/proto';
import { loraBranch, type LoraHooks } from './lora';
import type { Int8Weight } from '../graph/ops/quant';

/** Activations the model graphs implement (Hugging Face ACT2FN names), as config.json names them. */
export const SUPPORTED_ACTIVATIONS = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'quick_gelu', 'relu', 'silu', 'swish'] as const;
export type Activation = (typeof SUPPORTED_ACTIVATIONS)[number];

/** Where frozen weights come from: their shape, and their bytes (external data or inline). */
export interface WeightSource {
  has(name: string): boolean;
  shape(name: string): number[];
  value(name: string): ParamValue;
  /**
   * The stored element type of `value` (default float32). A float16/bfloat16 weight becomes a param
   * of that type followed by a Cast to float32 in the graph (exact), so its bytes are used in place.
   */
  dtype?(name: string): DType;
  /** The int8 quantization of a matmul weight (bound with `int8`: weights.ts), or undefined. */
  int8?(name: string): Int8Value | undefined;
}

/** Where an int8 weight's bytes are (graph/ops/quant.ts has the format): W [n, k] used as x @ Wᵀ. */
export interface Int8Value {
  q: ParamValue;
  scales: ParamValue;
  n: number;
  k: number;
  blockSize: number;
  /** Wᵀ [k, n] quantized the same way, for gradients through the weight. */
  backward?: Int8Value;
}

/**
 * Frozen parameters of one encoder in one graph. Each canonical name becomes one `g.param` (created
 * on first use, so a graph only holds the weights its outputs need), named `<prefix><name>`.
 */
export class ParamStore {
  private readonly cache = new Map<string, Tensor>();
  /**
   * Frozen weights larger than this many bytes are split into row blocks when gathered from
   * (`gatherRows`): WebGPU binds a weight as one storage buffer, and an adapter may bind no more than
   * its maxStorageBufferBindingSize (docs/engine.md#weights-larger-than-one-gpu-binding).
   */
  maxWeightBytes = Infinity;

  /** Sets `maxWeightBytes` for a target: WebGPU's guaranteed binding size there, no split elsewhere. */
  forTarget(target: EmitTarget | undefined): this {
    this.maxWeightBytes = target === 'webgpu' ? WEBGPU_MIN_BINDING_BYTES : Infinity;
    return this;
  }
  constructor(
    readonly graph: Graph,
    readonly source: WeightSource,
    readonly prefix = '',
  ) {}

  /**
   * Rows `indices` (int64) of the frozen 2-D weight `name`: one Gather, or, when the weight is larger
   * than `maxWeightBytes`, one Gather per row block (each block its own initializer over the same
   * bytes) and a select of the block each index falls in. Exact: every row is copied from one block.
   */
  gatherRows(name: string, indices: Tensor): Tensor {
    const [rows, cols] = this.source.shape(name) as [number, number];
    const rowBytes = cols * 4;
    if (rows * rowBytes <= this.maxWeightBytes || !this.frozenWeight(name)) return this.get(name).gather(indices);
    const per = Math.max(1, Math.floor(this.maxWeightBytes / rowBytes));
    const value = this.source.value(name);
    const idx = ops.indexToInt32(indices, rows);
    let out: Tensor | null = null;
    // The last block first, so that the select chain ends in the block of row 0.
    for (let start = Math.floor((rows - 1) / per) * per; start >= 0; start -= per) {
      const n = Math.min(per, rows - start);
      const part = this.graph.param(`${this.prefix}${name}.rows${start}`, [n, cols], {
        value: rowSlice(value, start * rowBytes, n * rowBytes),
      });
      const local = ops.minimum(ops.maximum(idx.sub(start), 0), n - 1);
      const got = part.gather(local);
      out = out === null ? got : ops.where(ops.less(idx, start + n).unsqueeze(-1), got, out);
    }
    return out!;
  }

  has(name: string): boolean {
    return this.source.has(name);
  }

  /** Whether `get(name)` is a frozen weight (an initializer); subclasses make some trainable. */
  protected frozenWeight(name: string): boolean {
    return this.source.has(name);
  }

  private readonly int8Cache = new Map<string, Int8Weight>();

  /**
   * The int8 form of matmul weight `name` (params `<name>.q8`, `<name>.q8_scales`, and `.q8t*` for
   * the transposed one), or undefined when the weights were not bound with int8 for it.
   */
  int8(name: string): Int8Weight | undefined {
    let t = this.int8Cache.get(name);
    if (t) return t;
    const v = this.source.int8?.(name);
    if (!v) return undefined;
    const param = (suffix: string, x: Int8Value): Int8Weight => {
      const kb = Math.ceil(x.k / x.blockSize);
      const w: Int8Weight = {
        q: this.graph.param(`${this.prefix}${name}.${suffix}`, [x.n, kb, x.blockSize], { value: x.q, dtype: 'uint8' }),
        scales: this.graph.param(`${this.prefix}${name}.${suffix}_scales`, [x.n * kb], { value: x.scales }),
        n: x.n,
        k: x.k,
        blockSize: x.blockSize,
      };
      if (x.backward) w.backward = param(`${suffix}t`, x.backward);
      return w;
    };
    t = param('q8', v);
    this.int8Cache.set(name, t);
    return t;
  }

  get(name: string): Tensor {
    let t = this.cache.get(name);
    if (!t) {
      if (!this.source.has(name)) throw new Error(`model weight "${name}" is missing`);
      const dtype = this.source.dtype?.(name) ?? 'float32';
      t = this.graph.param(this.prefix + name, this.source.shape(name), { value: this.source.value(name), dtype });
      if (dtype !== 'float32') t = ops.cast(t, 'float32');
      this.cache.set(name, t);
    }
    return t;
  }
}

/** Bytes [offset, offset + length) of a weight's value, without copying (external data: its file range). */
function rowSlice(v: ParamValue, offset: number, length: number): ParamValue {
  if (v.kind === 'external') return { kind: 'external', location: v.location, offset: v.offset + offset, length };
  return { kind: 'inline', bytes: v.bytes.subarray(offset, offset + length) };
}

/**
 * The storage-buffer binding size every WebGPU adapter supports (the spec's default
 * maxStorageBufferBindingSize, 128 MiB). Adapters report more, but onnxruntime-node does not tell
 * JavaScript what (docs/engine.md#weights-larger-than-one-gpu-binding), so weights are split at this.
 */
export const WEBGPU_MIN_BINDING_BYTES = 128 * 2 ** 20;

/** A weight source over in-memory float32 arrays (tests, small synthetic models). */
export function inlineWeights(tensors: ReadonlyMap<string, { data: Float32Array; shape: number[] }>): WeightSource {
  return {
    has: (n) => tensors.has(n),
    shape: (n) => [...tensors.get(n)!.shape],
    value: (n) => {
      const d = tensors.get(n)!.data;
      return { kind: 'inline', bytes: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) };
    },
  };
}

/** Hugging Face ACT2FN by name. */
export function activation(x: Tensor, name: Activation): Tensor {
  switch (name) {
    case 'gelu':
      return x.gelu('none'); // exact, erf
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast': // the same tanh formula with the constant written out
      return x.gelu('tanh');
    case 'quick_gelu':
      return x.mul(x.mul(1.702).sigmoid());
    case 'relu':
      return x.relu();
    case 'silu':
    case 'swish':
      return x.mul(x.sigmoid());
  }
}

/**
 * GPT-2 `Conv1D`: y = x @ W + b with W stored [in, out]. With LoRA on `module`:
 * + scale * (dropout(x) @ Aᵀ) @ Bᵀ.
 */
export function conv1d(x: Tensor, w: ParamStore, module: string, lora?: LoraHooks): Tensor {
  const q = w.int8(`${module}.weight`); // int8: quantized as Wᵀ [out, in]
  const y = (q ? ops.matmulInt8(x, q) : x.matmul(w.get(`${module}.weight`))).add(w.get(`${module}.bias`));
  return lora ? loraBranch(y, x, module, lora) : y;
}

/**
 * Local op (the engine's `gemm` has no C input): y = a @ wᵀ + bias for a [M, K], w [N, K], bias [N],
 * emitted as one ONNX Gemm(transB=1) with the bias as C. ORT does not fuse a separate bias Add into a
 * Gemm; the Adds cost ~7% of a DINOv2-B forward when left apart (bench/encoders.ts profile).
 */
export const LinearGemm = defineOp<Record<string, never>>({
  name: 'LinearGemm',
  infer: ([a, w, b]) => {
    const ok =
      a!.shape.length === 2 &&
      w!.shape.length === 2 &&
      b!.shape.length === 1 &&
      dimEq(a!.shape[1]!, w!.shape[1]!) &&
      dimEq(b!.shape[0]!, w!.shape[0]!) &&
      a!.dtype === w!.dtype &&
      b!.dtype === w!.dtype;
    if (!ok)
      throw new ShapeError(
        `LinearGemm: a [M, K], w [N, K], bias [N] expected, got ${fmtShape(a!.shape)}, ${fmtShape(w!.shape)}, ${fmtShape(b!.shape)}`,
      );
    return [{ dtype: a!.dtype, shape: [a!.shape[0]!, w!.shape[0]!] }];
  },
  emit: (e, a) => e.node('Gemm', a.inputs, a.outputs, { transB: attr.int(1) }),
  grad: ({ inputs: [a, w], grads: [g], needs }) => [
    needs[0] ? ops.gemm(g!, w!) : null, // [M, N] @ [N, K]
    needs[1] ? ops.gemm(g!, a!, { transA: true }) : null, // [N, M] @ [M, K]
    needs[2] ? g!.sum(0) : null,
  ],
});

/**
 * `nn.Linear`: y = x @ Wᵀ + b with W stored [out, in]. Written as one Gemm(transB) over the rows so
 * the frozen weight is used as stored (a Transpose of an initializer would be constant-folded by ORT
 * into a second, resident copy of the weight).
 */
export function linear(x: Tensor, w: ParamStore, module: string, lora?: LoraHooks): Tensor {
  const q = w.int8(`${module}.weight`);
  if (q) {
    const y = ops.matmulInt8(x, q);
    const yb = w.has(`${module}.bias`) ? y.add(w.get(`${module}.bias`)) : y;
    return lora ? loraBranch(yb, x, module, lora) : yb;
  }
  const W = w.get(`${module}.weight`);
  const [outF, inF] = W.shape as [number, number];
  const lead = x.shape.slice(0, -1);
  const x2 = x.reshape([-1, inF]);
  const y2 = w.has(`${module}.bias`)
    ? x.graph.apply(LinearGemm, [x2, W, w.get(`${module}.bias`)], {})[0]!
    : ops.gemm(x2, W, { transB: true });
  const y = y2.reshape([...lead, outF]);
  return lora ? loraBranch(y, x, module, lora) : y;
}

/** The smallest float32, as Hugging Face fills masked attention scores (torch.finfo.min). */
export const F32_MIN = -3.4028234663852886e38;

/** [batch, seq, heads*hd] -> [batch, heads, seq, hd] */
function splitHeads(x: Tensor, nHead: number): Tensor {
  const [b, t, d] = x.shape as [Dim, Dim, number];
  return x.reshape([b, t, nHead, d / nHead]).transpose([0, 2, 1, 3]);
}

export interface AttentionOptions {
  /** Multiplies the scores (1/sqrt(head_dim) in every model here). */
  scale: number;
  /** Causal mask: key position <= query position (GPT-2). */
  causal?: boolean;
}

/**
 * softmax(q kᵀ * scale [+ causal mask]) v over `nHead` heads; q, k, v are [batch, seq, d], the result
 * is [batch, seq, d] with the heads concatenated (as Hugging Face's eager attention).
 */
export function multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, nHead: number, opts: AttentionOptions): Tensor {
  const [b, t, d] = q.shape as [Dim, Dim, number];
  const qh = splitHeads(q, nHead); // [B, H, T, hd]
  const kt = k.reshape([b, t, nHead, d / nHead]).transpose([0, 2, 3, 1]); // [B, H, hd, T]
  const vh = splitHeads(v, nHead);
  let scores = qh.matmul(kt).mul(opts.scale); // [B, H, T, T]
  if (opts.causal) scores = ops.where(ops.causalMask(q.graph, t), scores, F32_MIN);
  const ctx = scores.softmax(-1).matmul(vh); // [B, H, T, hd]
  return ctx.transpose([0, 2, 1, 3]).reshape([b, t, d]);
}

/**
 * Row `index[b]` of `x[b]` for every b: x [batch, seq, d], index int64 [batch] -> [batch, d].
 * GatherElements, so the gradient flows back into x (the text embedding at the last real token).
 */
export function gatherRows(x: Tensor, index: Tensor): Tensor {
  const [b, , d] = x.shape as [Dim, Dim, number];
  const idx = index.reshape([b, 1, 1]).expand([b, 1, d]);
  return x.gatherElements(idx, 1).reshape([b, d]);
}
