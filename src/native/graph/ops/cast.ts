/** Cast between dtypes; the gradient flows back only between float types. */
import { defineOp } from '../op';
import { ONNX_DTYPE, isFloat, type DType } from '../dtype';
import { attr } from '../onnx/proto';
import type { Tensor } from '../tensor';
import { ShapeError, type Dim } from '../shape';
import { requireDtype } from './util';

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

/**
 * int64 indices known to lie in [0, bound) as int32, for index arithmetic. The CPU form is a Cast.
 * The WebGPU EP cannot compute on an int64 graph input (ORT keeps any op reading one on the CPU; only
 * Gather and GatherElements read int64 indices on the GPU), so its form looks the values up in an int32
 * table 0..bound-1 with Gather. `bound` must be static there (emit with static dims).
 */
export const IndexToInt32 = defineOp<{ bound: Dim }>({
  name: 'IndexToInt32',
  infer: ([x], a) => {
    requireDtype('IndexToInt32', x!, ['int64'], 'input');
    if (typeof a.bound === 'number' && !(Number.isInteger(a.bound) && a.bound > 0 && a.bound < 2 ** 31))
      throw new ShapeError(`IndexToInt32: bound ${a.bound} must be a positive int32`);
    return [{ dtype: 'int32', shape: [...x!.shape] }];
  },
  emit: (e, a) => {
    const bound = e.bind([a.attrs.bound])[0]!;
    if (e.target !== 'webgpu') {
      e.node('Cast', a.inputs, a.outputs, { to: attr.int(ONNX_DTYPE.int32) });
      return;
    }
    if (typeof bound !== 'number')
      throw new ShapeError(`IndexToInt32: the WebGPU form needs a static bound, got '${bound}' (emit with static dims)`);
    const table = e.constant(
      'int32',
      [bound],
      Int32Array.from({ length: bound }, (_, i) => i),
    );
    e.node('Gather', [table, a.inputs[0]!], a.outputs, { axis: attr.int(0) });
  },
});

export function indexToInt32(x: Tensor, bound: Dim): Tensor {
  return x.graph.apply(IndexToInt32, [x], { bound })[0]!;
}
