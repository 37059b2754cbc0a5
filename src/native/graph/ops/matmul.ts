/** MatMul (batched, broadcasting, rank >= 2) and Gemm (2-D with transposes, used by weight gradients). */
import { defineOp } from '../op';
import { attr } from '../onnx/proto';
import { broadcastShapes, dimEq, fmtShape, ShapeError } from '../shape';
import type { Tensor } from '../tensor';
import { passthrough, sameDtype, requireFloat, type NoAttrs } from './util';
import { sumTo } from './reduce';
import { reshape, transpose } from './layout';

export const MatMul = defineOp<NoAttrs>({
  name: 'MatMul',
  infer: ([a, b]) => {
    const dtype = sameDtype('MatMul', [a!, b!]);
    requireFloat('MatMul', a!);
    const desc = `(a: ${fmtShape(a!.shape)}, b: ${fmtShape(b!.shape)})`;
    if (a!.shape.length < 2 || b!.shape.length < 2)
      throw new ShapeError(`MatMul: both operands need rank >= 2; unsqueeze vectors first ${desc}`);
    const k1 = a!.shape.at(-1)!;
    const k2 = b!.shape.at(-2)!;
    if (!dimEq(k1, k2)) throw new ShapeError(`MatMul: inner dims ${k1} and ${k2} differ ${desc}`);
    const batch = broadcastShapes('MatMul batch dims', [a!.shape.slice(0, -2), b!.shape.slice(0, -2)]);
    return [{ dtype, shape: [...batch, a!.shape.at(-2)!, b!.shape.at(-1)!] }];
  },
  emit: passthrough('MatMul'),
  grad: ({ inputs: [a, b], grads: [g], needs }) => {
    let da: Tensor | null = null;
    if (needs[0]) {
      if (b!.shape.length === 2) {
        // dx = g @ W^T as one Gemm with transB: a Transpose of a frozen weight would be constant-folded
        // by ORT into a second in-memory copy of the weight (hundreds of MB for a transformer).
        const N = b!.shape[1]!;
        const K = b!.shape[0]!;
        da =
          a!.shape.length === 2
            ? gemm(g!, b!, { transB: true })
            : reshape(gemm(reshape(g!, [-1, N]), b!, { transB: true }), [...a!.shape.slice(0, -1), K]);
      } else {
        da = sumTo(matmul(g!, transpose(b!)), a!.shape);
      }
    }
    let db: Tensor | null = null;
    if (needs[1]) {
      if (b!.shape.length === 2 && a!.shape.length > 2) {
        // Weight gradient of x[..., K] @ W[K, N]: one large GEMM over all rows instead of a batched
        // product followed by a reduction over the batch.
        const K = a!.shape.at(-1)!;
        const N = b!.shape.at(-1)!;
        db = gemm(reshape(a!, [-1, K]), reshape(g!, [-1, N]), { transA: true });
      } else {
        db = sumTo(matmul(transpose(a!), g!), b!.shape);
      }
    }
    return [da, db];
  },
});

export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.graph.apply(MatMul, [a, b], {})[0]!;
}

export interface GemmAttrs {
  transA: boolean;
  transB: boolean;
}

export const Gemm = defineOp<GemmAttrs>({
  name: 'Gemm',
  infer: ([a, b], t) => {
    const dtype = sameDtype('Gemm', [a!, b!]);
    requireFloat('Gemm', a!);
    if (a!.shape.length !== 2 || b!.shape.length !== 2)
      throw new ShapeError(`Gemm: operands must be 2-D (a: ${fmtShape(a!.shape)}, b: ${fmtShape(b!.shape)})`);
    const [m, k1] = t.transA ? [a!.shape[1]!, a!.shape[0]!] : [a!.shape[0]!, a!.shape[1]!];
    const [k2, n] = t.transB ? [b!.shape[1]!, b!.shape[0]!] : [b!.shape[0]!, b!.shape[1]!];
    if (!dimEq(k1, k2))
      throw new ShapeError(
        `Gemm: inner dims ${k1} and ${k2} differ (a: ${fmtShape(a!.shape)}${t.transA ? 'ᵀ' : ''}, b: ${fmtShape(b!.shape)}${t.transB ? 'ᵀ' : ''})`,
      );
    return [{ dtype, shape: [m, n] }];
  },
  emit: (e, a) =>
    e.node('Gemm', a.inputs, a.outputs, { transA: attr.int(a.attrs.transA ? 1 : 0), transB: attr.int(a.attrs.transB ? 1 : 0) }),
  grad: ({ inputs: [a, b], grads: [g], needs, attrs: { transA, transB } }) => [
    // y = op(A) op(B); the four cases written as Gemms so no transpose is materialised.
    needs[0] ? (transA ? gemm(b!, g!, { transA: transB, transB: true }) : gemm(g!, b!, { transB: !transB })) : null,
    needs[1] ? (transB ? gemm(g!, a!, { transA: true, transB: transA }) : gemm(a!, g!, { transA: !transA })) : null,
  ],
});

export function gemm(a: Tensor, b: Tensor, t: Partial<GemmAttrs> = {}): Tensor {
  return a.graph.apply(Gemm, [a, b], { transA: t.transA ?? false, transB: t.transB ?? false })[0]!;
}
