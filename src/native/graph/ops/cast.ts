/** Cast between dtypes; the gradient flows back only between float types. */
import { defineOp } from '../op';
import { ONNX_DTYPE, isFloat, type DType } from '../dtype';
import { attr } from '../onnx/proto';
import type { Tensor } from '../tensor';

export const Cast = defineOp<{ to: DType }>({
  name: 'Cast',
  infer: ([x], a) => [{ dtype: a.to, shape: [...x!.shape] }],
  emit: (e, a) => e.node('Cast', a.inputs, a.outputs, { to: attr.int(ONNX_DTYPE[a.attrs.to]) }),
  grad: ({ inputs: [x], grads: [g] }) => [isFloat(x!.dtype) && isFloat(g!.dtype) ? cast(g!, x!.dtype) : null],
});

export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  return x.graph.apply(Cast, [x], { to })[0]!;
}
