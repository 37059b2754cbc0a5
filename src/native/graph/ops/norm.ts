/** LayerNormalization (the ONNX op forward, gradient in standard ops) and L2 normalisation. */
import { defineOp } from '../op';
import { attr } from '../onnx/proto';
import { fmtShape, normAxis, ShapeError, broadcastShapes, shapeEq } from '../shape';
import type { Tensor } from '../tensor';
import { requireFloat, sameDtype } from './util';
import { reduceMean, reduceSum, sumTo } from './reduce';
import { sqrt } from './unary';

export const LayerNormalization = defineOp<{ axis: number; eps: number }>({
  name: 'LayerNormalization',
  infer: ([x, scale, bias], a) => {
    const dtype = sameDtype('LayerNormalization', [x!, scale!, bias!]);
    requireFloat('LayerNormalization', x!);
    const k = normAxis(a.axis, x!.shape.length, 'LayerNormalization');
    const normalized = x!.shape.slice(k);
    for (const [what, t] of [
      ['scale', scale!],
      ['bias', bias!],
    ] as const) {
      const b = broadcastShapes('LayerNormalization', [normalized, t.shape], ['normalized dims', what]);
      if (!shapeEq(b, normalized))
        throw new ShapeError(`LayerNormalization: ${what} ${fmtShape(t.shape)} does not fit normalized dims ${fmtShape(normalized)}`);
    }
    // Outputs 1 and 2 are ONNX's optional Mean and InvStdDev (float32 with the default stash_type=1).
    const stats = [...x!.shape.slice(0, k), ...normalized.map(() => 1)];
    return [
      { dtype, shape: [...x!.shape] },
      { dtype: 'float32', shape: stats },
      { dtype: 'float32', shape: stats },
    ];
  },
  emit: (e, a) => {
    // Unused optional outputs are left empty (trailing ones dropped) so inference graphs skip them.
    const outs = a.outputs.map((n, i) => (i === 0 || a.used[i] ? n : ''));
    while (outs.at(-1) === '') outs.pop();
    e.node('LayerNormalization', a.inputs, outs, { axis: attr.int(a.attrs.axis), epsilon: attr.float(a.attrs.eps) });
  },
  grad: ({ inputs: [x, scale, bias], outputs: [, savedMean, savedInv], grads: [g], needs, attrs }) => {
    const r = x!.shape.length;
    const k = normAxis(attrs.axis, r, 'LayerNormalization');
    const axes = Array.from({ length: r - k }, (_, i) => k + i);
    let mean: Tensor;
    let inv: Tensor;
    if (x!.dtype === 'float32') {
      // The forward kernel already computed them: reuse instead of two more reductions over x.
      mean = savedMean!;
      inv = savedInv!;
    } else {
      // ORT saves statistics only in float32 (stash_type=0 has no kernel): recompute in x's dtype so
      // float64 gradients stay exact.
      mean = reduceMean(x!, axes, true);
      const xc = x!.sub(mean);
      inv = sqrt(reduceMean(xc.mul(xc), axes, true).add(attrs.eps)).pow(-1);
    }
    const xhat = x!.sub(mean).mul(inv);
    let dx: Tensor | null = null;
    if (needs[0]) {
      const dxhat = g!.mul(scale!);
      const m1 = reduceMean(dxhat, axes, true);
      const m2 = reduceMean(dxhat.mul(xhat), axes, true);
      dx = inv.mul(dxhat.sub(m1).sub(xhat.mul(m2)));
    }
    return [dx, needs[1] ? sumTo(g!.mul(xhat), scale!.shape) : null, needs[2] ? sumTo(g!, bias!.shape) : null];
  },
});

/** LayerNorm over the last dims covered by `scale` (like torch.nn.functional.layer_norm). */
export function layerNorm(x: Tensor, scale: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  return x.graph.apply(LayerNormalization, [x, scale, bias], { axis: -scale.shape.length, eps })[0]!;
}

/** x / max(||x||_2, eps) along `axis` (torch.nn.functional.normalize). */
export function l2normalize(x: Tensor, axis = -1, eps = 1e-12): Tensor {
  const norm = sqrt(reduceSum(x.mul(x), axis, true));
  return x.div(norm.maximum(eps));
}
