/**
 * Layers for training graphs whose gradients are cheaper than what the generic rules in
 * `src/native/graph` produce. They are ordinary ops made with the public `defineOp`, so they emit
 * standard ONNX and compose with `grad()` like any other op.
 *
 * - `linear(x, W)`: x[..., K] @ W[K, N]. The generic MatMul rule computes dx = g @ transpose(W), which
 *   materialises a Transpose of every frozen weight on every step (ORT may instead constant-fold it
 *   into a second copy of the weight). Here dx is one `Gemm(transB=1)` over all rows and dW one
 *   `Gemm(transA=1)`: no transposes at all. (Proposed for graph/ops/matmul.ts: see docs/engine.md,
 *   "Training".)
 * - `geluTanh(x)`: forward is ONNX Gelu(approximate='tanh'); the gradient uses the sigmoid form
 *   tanh-GELU(x) = x·σ(2u), u = √(2/π)(x + 0.044715x³): 13 elementwise ops instead of ~21.
 */
import { defineOp, ops, type Tensor } from '../graph/index';
import { attr } from '../graph/onnx/proto';
import { dimEq, fmtShape, ShapeError } from '../graph/shape';

type NoAttrs = Record<string, never>;

export const Linear = defineOp<NoAttrs>({
  name: 'Linear',
  infer: ([x, w]) => {
    if (x!.dtype !== w!.dtype) throw new ShapeError(`linear: dtypes differ (x: ${x!.dtype}, W: ${w!.dtype})`);
    if (w!.shape.length !== 2 || x!.shape.length < 1)
      throw new ShapeError(`linear: W must be 2-D and x at least 1-D (x: ${fmtShape(x!.shape)}, W: ${fmtShape(w!.shape)})`);
    if (!dimEq(x!.shape.at(-1)!, w!.shape[0]!))
      throw new ShapeError(
        `linear: inner dims ${x!.shape.at(-1)} and ${w!.shape[0]} differ (x: ${fmtShape(x!.shape)}, W: ${fmtShape(w!.shape)})`,
      );
    return [{ dtype: x!.dtype, shape: [...x!.shape.slice(0, -1), w!.shape[1]!] }];
  },
  emit: (e, a) => e.node('MatMul', a.inputs, a.outputs),
  grad: ({ inputs: [x, w], grads: [g], needs }) => {
    const K = w!.shape[0]!;
    const N = w!.shape[1]!;
    const g2 = g!.reshape([-1, N]);
    const dx = needs[0] ? ops.gemm(g2, w!, { transB: true }).reshape(x!.shape) : null;
    const dw = needs[1] ? ops.gemm(x!.reshape([-1, K]), g2, { transA: true }) : null;
    return [dx, dw];
  },
});

/** x[..., K] @ W[K, N] with transpose-free gradients. */
export function linear(x: Tensor, w: Tensor, bias?: Tensor): Tensor {
  const y = x.graph.apply(Linear, [x, w], {})[0]!;
  return bias ? y.add(bias) : y;
}

const K = Math.sqrt(2 / Math.PI);
const C = 0.044715;

export const GeluTanh = defineOp<NoAttrs>({
  name: 'GeluTanh',
  infer: ([x]) => [{ dtype: x!.dtype, shape: [...x!.shape] }],
  emit: (e, a) => e.node('Gelu', a.inputs, a.outputs, { approximate: attr.string('tanh') }),
  grad: ({ inputs: [x], grads: [g] }) => {
    // y = x s, s = sigmoid(z), z = x (a + b x²), a = 2k, b = 2kc
    // dy/dx = s + x s (1 - s) (a + 3b x²)
    const a = 2 * K;
    const b = 2 * K * C;
    const x2 = x!.mul(x!);
    const s = x!.mul(x2.mul(b).add(a)).sigmoid();
    const slope = x2.mul(3 * b).add(a);
    const ds = s.mul(x!.graph.scalar(1, x!.dtype).sub(s)).mul(x!).mul(slope);
    return [g!.mul(ds.add(s))];
  },
});

/** GELU with the tanh approximation (GPT-2's `gelu_new`). */
export function geluTanh(x: Tensor): Tensor {
  return x.graph.apply(GeluTanh, [x], {})[0]!;
}
