/** Softmax and LogSoftmax along one axis (opset 13 semantics). */
import { defineOp, type TensorType } from '../op';
import { attr } from '../onnx/proto';
import { normAxis } from '../shape';
import type { Tensor } from '../tensor';
import { requireFloat } from './util';
import { reduceSum } from './reduce';
import { exp } from './unary';

const infer =
  (name: string) =>
  ([x]: readonly TensorType[], a: { axis: number }): TensorType[] => {
    requireFloat(name, x!);
    normAxis(a.axis, x!.shape.length, name);
    return [{ dtype: x!.dtype, shape: [...x!.shape] }];
  };

export const Softmax = defineOp<{ axis: number }>({
  name: 'Softmax',
  infer: infer('Softmax'),
  emit: (e, a) => e.node('Softmax', a.inputs, a.outputs, { axis: attr.int(a.attrs.axis) }),
  // dx = y * (g - sum(g * y))
  grad: ({ outputs: [y], grads: [g], attrs }) => [y!.mul(g!.sub(reduceSum(g!.mul(y!), attrs.axis, true)))],
});

export const LogSoftmax = defineOp<{ axis: number }>({
  name: 'LogSoftmax',
  infer: infer('LogSoftmax'),
  emit: (e, a) => {
    if (e.target !== 'webgpu') {
      e.node('LogSoftmax', a.inputs, a.outputs, { axis: attr.int(a.attrs.axis) });
      return;
    }
    // The WebGPU EP has no LogSoftmax kernel: the same max-shifted formula the CPU kernel uses,
    // (x - max) - log(sum(exp(x - max))), from ops it has.
    const axes = e.constant('int64', [1], [a.attrs.axis]);
    const keep = { keepdims: attr.int(1) };
    const [max, shifted, ex, sum, lse] = ['lsm_max', 'lsm_shifted', 'lsm_exp', 'lsm_sum', 'lsm_log'].map((h) => e.fresh(h)) as [
      string,
      string,
      string,
      string,
      string,
    ];
    e.node('ReduceMax', [a.inputs[0]!, axes], [max], keep);
    e.node('Sub', [a.inputs[0]!, max], [shifted]);
    e.node('Exp', [shifted], [ex]);
    e.node('ReduceSum', [ex, axes], [sum], keep);
    e.node('Log', [sum], [lse]);
    e.node('Sub', [shifted, lse], a.outputs);
  },
  // dx = g - softmax * sum(g)
  grad: ({ outputs: [y], grads: [g], attrs }) => [g!.sub(exp(y!).mul(reduceSum(g!, attrs.axis, true)))],
});

export function softmax(x: Tensor, axis = -1): Tensor {
  return x.graph.apply(Softmax, [x], { axis })[0]!;
}
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return x.graph.apply(LogSoftmax, [x], { axis })[0]!;
}
