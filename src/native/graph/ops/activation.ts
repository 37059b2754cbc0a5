/**
 * GELU, exact (erf) and tanh-approximated. Forward is the ONNX Gelu op (opset 20), which ORT runs as one
 * kernel; the gradient is written in standard ops. ORT has no float64 Erf, so exact GELU runs in
 * float32/float16 only (the tanh form also runs in float64).
 */
import { defineOp } from '../op';
import { attr } from '../onnx/proto';
import type { Tensor } from '../tensor';
import { requireFloat } from './util';
import { erf, exp, tanh } from './unary';

export type GeluApprox = 'none' | 'tanh';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

export const Gelu = defineOp<{ approximate: GeluApprox }>({
  name: 'Gelu',
  infer: ([x]) => {
    requireFloat('Gelu', x!);
    return [{ dtype: x!.dtype, shape: [...x!.shape] }];
  },
  emit: (e, a) => e.node('Gelu', a.inputs, a.outputs, { approximate: attr.string(a.attrs.approximate) }),
  grad: ({ inputs: [x], grads: [g], attrs }) => {
    if (attrs.approximate === 'tanh') {
      // y = x/2 (1 + tanh(u)), u = k (x + c x^3)
      // dy/dx = (1 + t)/2 + x/2 (1 - t^2) k (1 + 3c x^2)
      const x2 = x!.mul(x!);
      const t = tanh(x!.mul(x2.mul(GELU_C).add(1)).mul(SQRT_2_OVER_PI));
      const left = t.add(1).mul(0.5);
      const right = x!
        .mul(0.5)
        .mul(t.mul(t).neg().add(1))
        .mul(
          x2
            .mul(3 * GELU_C)
            .add(1)
            .mul(SQRT_2_OVER_PI),
        );
      return [g!.mul(left.add(right))];
    }
    // y = x Phi(x): dy/dx = Phi(x) + x phi(x)
    const cdf = erf(x!.mul(Math.SQRT1_2)).add(1).mul(0.5);
    const pdf = exp(x!.mul(x!).mul(-0.5)).mul(1 / Math.sqrt(2 * Math.PI));
    return [g!.mul(cdf.add(x!.mul(pdf)))];
  },
});

export function gelu(x: Tensor, approximate: GeluApprox = 'none'): Tensor {
  return x.graph.apply(Gelu, [x], { approximate })[0]!;
}
