/**
 * Gather / GatherElements / GatherND and their adjoints, the scatter-adds (ScatterND and
 * ScatterElements with reduction='add'): embedding gradients accumulate repeated token ids exactly.
 */
import { defineOp } from '../op';
import { attr } from '../onnx/proto';
import { fmtShape, normAxis, ShapeError, shapeEq, type Dim } from '../shape';
import type { Tensor } from '../tensor';
import { passthrough, requireDtype, type NoAttrs } from './util';
import { fill } from './creation';
import { transpose, unsqueeze } from './layout';

const INDEX_TYPES = ['int64', 'int32'] as const;

export const Gather = defineOp<{ axis: number }>({
  name: 'Gather',
  infer: ([data, idx], a) => {
    requireDtype('Gather', idx!, INDEX_TYPES, 'indices');
    const k = normAxis(a.axis, data!.shape.length, 'Gather');
    return [{ dtype: data!.dtype, shape: [...data!.shape.slice(0, k), ...idx!.shape, ...data!.shape.slice(k + 1)] }];
  },
  emit: (e, a) => e.node('Gather', a.inputs, a.outputs, { axis: attr.int(a.attrs.axis) }),
  grad: ({ inputs: [data, idx], grads: [g], attrs }) => {
    const k = normAxis(attrs.axis, data!.shape.length, 'Gather');
    const r = idx!.shape.length;
    const zeros = (shape: Dim[]) => fill(data!.graph, shape, 0, data!.dtype);
    if (k === 0) return [scatterNDAdd(zeros([...data!.shape]), unsqueeze(idx!, -1), g!), null];
    // Bring the gathered axis to the front, scatter rows there, move it back.
    const gPerm = [...Array(r).keys()]
      .map((i) => k + i)
      .concat(
        [...Array(k).keys()],
        [...Array(g!.shape.length - k - r).keys()].map((i) => k + r + i),
      );
    const front = [data!.shape[k]!, ...data!.shape.slice(0, k), ...data!.shape.slice(k + 1)];
    const s = scatterNDAdd(zeros(front), unsqueeze(idx!, -1), transpose(g!, gPerm));
    const back = [...Array(data!.shape.length).keys()].map((i) => (i < k ? i + 1 : i === k ? 0 : i));
    return [transpose(s, back), null];
  },
});

export const GatherElements = defineOp<{ axis: number }>({
  name: 'GatherElements',
  infer: ([data, idx], a) => {
    requireDtype('GatherElements', idx!, INDEX_TYPES, 'indices');
    normAxis(a.axis, data!.shape.length, 'GatherElements');
    if (idx!.shape.length !== data!.shape.length)
      throw new ShapeError(`GatherElements: indices ${fmtShape(idx!.shape)} and data ${fmtShape(data!.shape)} need equal rank`);
    return [{ dtype: data!.dtype, shape: [...idx!.shape] }];
  },
  emit: (e, a) => e.node('GatherElements', a.inputs, a.outputs, { axis: attr.int(a.attrs.axis) }),
  grad: ({ inputs: [data, idx], grads: [g], attrs }) => [
    scatterElementsAdd(fill(data!.graph, data!.shape, 0, data!.dtype), idx!, g!, attrs.axis),
    null,
  ],
});

export const GatherND = defineOp<NoAttrs>({
  name: 'GatherND',
  infer: ([data, idx]) => {
    requireDtype('GatherND', idx!, ['int64'], 'indices');
    const m = idx!.shape.at(-1);
    if (typeof m !== 'number' || m > data!.shape.length)
      throw new ShapeError(
        `GatherND: last indices dim must be static and <= rank (data ${fmtShape(data!.shape)}, indices ${fmtShape(idx!.shape)})`,
      );
    return [{ dtype: data!.dtype, shape: [...idx!.shape.slice(0, -1), ...data!.shape.slice(m)] }];
  },
  emit: passthrough('GatherND'),
  grad: ({ inputs: [data, idx], grads: [g] }) => [scatterNDAdd(fill(data!.graph, data!.shape, 0, data!.dtype), idx!, g!), null],
});

export const ScatterNDAdd = defineOp<NoAttrs>({
  name: 'ScatterNDAdd',
  infer: ([data, idx, upd]) => {
    requireDtype('ScatterND', idx!, ['int64'], 'indices');
    const m = idx!.shape.at(-1);
    if (typeof m !== 'number') throw new ShapeError('ScatterND: last indices dim must be static');
    const want = [...idx!.shape.slice(0, -1), ...data!.shape.slice(m)];
    if (!shapeEq(want, upd!.shape) || upd!.dtype !== data!.dtype) {
      throw new ShapeError(`ScatterND: updates ${upd!.dtype}${fmtShape(upd!.shape)} should be ${data!.dtype}${fmtShape(want)}`);
    }
    return [{ dtype: data!.dtype, shape: [...data!.shape] }];
  },
  emit: (e, a) => e.node('ScatterND', a.inputs, a.outputs, { reduction: attr.string('add') }),
  grad: ({ inputs: [, idx], grads: [g], needs }) => [g, null, needs[2] ? gatherND(g!, idx!) : null],
});

export const ScatterElementsAdd = defineOp<{ axis: number }>({
  name: 'ScatterElementsAdd',
  infer: ([data, idx, upd], a) => {
    requireDtype('ScatterElements', idx!, INDEX_TYPES, 'indices');
    normAxis(a.axis, data!.shape.length, 'ScatterElements');
    const ok = idx!.shape.length === data!.shape.length && shapeEq(idx!.shape, upd!.shape) && upd!.dtype === data!.dtype;
    if (!ok)
      throw new ShapeError(
        `ScatterElements: data ${fmtShape(data!.shape)}, indices ${fmtShape(idx!.shape)}, updates ${fmtShape(upd!.shape)} do not fit`,
      );
    return [{ dtype: data!.dtype, shape: [...data!.shape] }];
  },
  emit: (e, a) => e.node('ScatterElements', a.inputs, a.outputs, { axis: attr.int(a.attrs.axis), reduction: attr.string('add') }),
  grad: ({ inputs: [, idx], grads: [g], needs, attrs }) => [g, null, needs[2] ? gatherElements(g!, idx!, attrs.axis) : null],
});

export function gather(data: Tensor, indices: Tensor, axis = 0): Tensor {
  return data.graph.apply(Gather, [data, indices], { axis })[0]!;
}
export function gatherElements(data: Tensor, indices: Tensor, axis: number): Tensor {
  return data.graph.apply(GatherElements, [data, indices], { axis })[0]!;
}
export function gatherND(data: Tensor, indices: Tensor): Tensor {
  return data.graph.apply(GatherND, [data, indices], {})[0]!;
}
/** data with `updates` added at `indices` (duplicates accumulate). */
export function scatterNDAdd(data: Tensor, indices: Tensor, updates: Tensor): Tensor {
  return data.graph.apply(ScatterNDAdd, [data, indices, updates], {})[0]!;
}
export function scatterElementsAdd(data: Tensor, indices: Tensor, updates: Tensor, axis: number): Tensor {
  return data.graph.apply(ScatterElementsAdd, [data, indices, updates], { axis })[0]!;
}
