/** Trilu (triangular masking) and the causal mask built from it. */
import { defineOp } from '../op';
import { attr } from '../onnx/proto';
import { ShapeError, type Dim } from '../shape';
import type { Graph } from '../graph';
import type { Tensor } from '../tensor';
import { fill } from './creation';

export const Trilu = defineOp<{ upper: boolean; k: number }>({
  name: 'Trilu',
  infer: ([x]) => {
    if (x!.shape.length < 2) throw new ShapeError('Trilu: needs rank >= 2');
    return [{ dtype: x!.dtype, shape: [...x!.shape] }];
  },
  emit: (e, a) =>
    e.node('Trilu', [a.inputs[0]!, e.constant('int64', [], [a.attrs.k])], a.outputs, { upper: attr.int(a.attrs.upper ? 1 : 0) }),
  // Trilu is a fixed 0/1 mask: its own adjoint.
  grad: ({ grads: [g], attrs }) => [trilu(g!, attrs.upper, attrs.k)],
});

export function trilu(x: Tensor, upper: boolean, k = 0): Tensor {
  return x.graph.apply(Trilu, [x], { upper, k })[0]!;
}

/** bool [n, n], true where key position <= query position (n may be symbolic, e.g. 'seq'). */
export function causalMask(g: Graph, n: Dim): Tensor {
  return trilu(fill(g, [n, n], 1, 'bool'), false);
}
