/** ReduceSum / ReduceMean / ReduceMax (opset 18: axes are an input), plus sumTo for broadcasting grads. */
import { defineOp, type EmitArgs, type EmitCtx, type TensorType } from '../op';
import { dimEq, normAxis, type Dim, type Shape } from '../shape';
import type { Tensor } from '../tensor';
import { attr } from '../onnx/proto';
import { cast } from './cast';
import { equal } from './compare';
import { expand, reshape } from './layout';
import { sizeOf } from './creation';

export interface ReduceAttrs {
  axes: number[];
  keepdims: boolean;
}

function inferReduce(name: string) {
  return ([x]: readonly TensorType[], a: ReduceAttrs): TensorType[] => {
    const rank = x!.shape.length;
    const axes = a.axes.map((ax) => normAxis(ax, rank, name));
    const shape: Dim[] = [];
    x!.shape.forEach((d, i) => {
      if (!axes.includes(i)) shape.push(d);
      else if (a.keepdims) shape.push(1);
    });
    return [{ dtype: x!.dtype, shape }];
  };
}

function emitReduce(onnxOp: string) {
  return (e: EmitCtx, a: EmitArgs<ReduceAttrs>): void => {
    const rank = a.inTypes[0]!.shape.length;
    const axes = a.attrs.axes.map((ax) => normAxis(ax, rank, onnxOp));
    e.node(onnxOp, [a.inputs[0]!, e.constant('int64', [axes.length], axes)], a.outputs, {
      keepdims: attr.int(a.attrs.keepdims ? 1 : 0),
    });
  };
}

/** The reduced gradient `g` (shape of the op output) brought back to x's shape. */
function unreduce(g: Tensor, x: Tensor, a: ReduceAttrs): Tensor {
  const rank = x.shape.length;
  const axes = a.axes.map((ax) => normAxis(ax, rank, 'grad'));
  const keepShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const gk = a.keepdims ? g : reshape(g, keepShape);
  return expand(gk, x.shape);
}

export const ReduceSum = defineOp<ReduceAttrs>({
  name: 'ReduceSum',
  infer: inferReduce('ReduceSum'),
  emit: emitReduce('ReduceSum'),
  grad: ({ inputs: [x], grads: [g], attrs }) => [unreduce(g!, x!, attrs)],
});

export const ReduceMean = defineOp<ReduceAttrs>({
  name: 'ReduceMean',
  infer: inferReduce('ReduceMean'),
  emit: emitReduce('ReduceMean'),
  grad: ({ inputs: [x], grads: [g], attrs }) => {
    const rank = x!.shape.length;
    const count = attrs.axes.map((ax) => x!.shape[normAxis(ax, rank, 'ReduceMean')]!);
    return [unreduce(g!, x!, attrs).div(sizeOf(x!.graph, count, x!.dtype))];
  },
});

export const ReduceMax = defineOp<ReduceAttrs>({
  name: 'ReduceMax',
  infer: inferReduce('ReduceMax'),
  emit: emitReduce('ReduceMax'),
  grad: ({ inputs: [x], outputs: [y], grads: [g], attrs }) => {
    // Ties share the gradient equally (like PyTorch's amax), so the rule stays exact when they occur.
    const keep = { axes: attrs.axes, keepdims: true };
    const yk = attrs.keepdims ? y! : reshape(y!, inferReduce('ReduceMax')([{ dtype: x!.dtype, shape: [...x!.shape] }], keep)[0]!.shape);
    const mask = cast(equal(x!, yk), x!.dtype);
    const share = mask.div(reduceSum(mask, attrs.axes, true));
    return [unreduce(g!, x!, attrs).mul(share)];
  },
});

function allAxes(x: Tensor, axes: number | number[] | undefined): number[] {
  if (axes === undefined) return x.shape.map((_, i) => i);
  return typeof axes === 'number' ? [axes] : axes;
}

export function reduceSum(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
  return x.graph.apply(ReduceSum, [x], { axes: allAxes(x, axes), keepdims })[0]!;
}
export function reduceMean(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
  return x.graph.apply(ReduceMean, [x], { axes: allAxes(x, axes), keepdims })[0]!;
}
export function reduceMax(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
  return x.graph.apply(ReduceMax, [x], { axes: allAxes(x, axes), keepdims })[0]!;
}

/**
 * Sum a broadcast gradient back to `shape` (the gradient rule of every broadcasting op): sum over the
 * leading axes broadcasting added and over axes where `shape` has 1, then restore the rank.
 */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  const lead = g.shape.length - shape.length;
  const kept: number[] = [];
  shape.forEach((d, i) => {
    if (d === 1 && g.shape[i + lead] !== 1) kept.push(i + lead);
  });
  const leadAxes = Array.from({ length: lead }, (_, i) => i);
  if (kept.length === 0 && lead === 0) return g;
  if (kept.length === 0) return reduceSum(g, leadAxes, false);
  const s = reduceSum(g, [...leadAxes, ...kept], true);
  return lead > 0 ? reshape(s, shape) : s;
}

/** True when `from` equals `to` after broadcasting (used by checks in grad rules). */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => dimEq(d, b[i]!));
}
