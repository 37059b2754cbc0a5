/** Shape-only ops: Reshape, Transpose, Slice, Concat, Split, Expand, Unsqueeze, Squeeze, Identity, StopGradient. */
import { defineOp, type EmitCtx } from '../op';
import { attr } from '../onnx/proto';
import { broadcastShapes, dimAdd, dimDiv, dimEq, dimSub, fmtShape, normAxis, numel, ShapeError, type Dim, type Shape } from '../shape';
import type { Tensor } from '../tensor';
import { passthrough, sameDtype, type NoAttrs } from './util';
import { sumTo } from './reduce';
import { fill } from './creation';

// ---------------------------------------------------------------- Reshape
export const Reshape = defineOp<{ shape: Dim[] }>({
  name: 'Reshape',
  infer: ([x], a) => {
    const holes = a.shape.filter((d) => d === -1).length;
    if (holes > 1) throw new ShapeError(`Reshape: at most one -1 in ${fmtShape(a.shape)}`);
    if (a.shape.some((d) => (typeof d === 'number' && d < -1) || d === 0)) throw new ShapeError(`Reshape: bad target ${fmtShape(a.shape)}`);
    const total = numel(x!.shape);
    let shape = [...a.shape];
    if (holes === 1) {
      const known = numel(shape.filter((d) => d !== -1));
      const rest = dimDiv(total, known);
      if (rest === null) throw new ShapeError(`Reshape: cannot infer -1 for ${fmtShape(x!.shape)} -> ${fmtShape(a.shape)}`);
      shape = shape.map((d) => (d === -1 ? rest : d));
    }
    if (!dimEq(numel(shape), total)) {
      throw new ShapeError(`Reshape: ${fmtShape(x!.shape)} (${total} elements) cannot become ${fmtShape(shape)} (${numel(shape)})`);
    }
    return [{ dtype: x!.dtype, shape }];
  },
  emit: (e, a) => {
    const inShape = a.inTypes[0]!.shape;
    const out = a.outTypes[0]!.shape;
    // Prefer a constant target: 0 copies the input dim at the same index, -1 takes what is left. Only
    // when two or more dims need run-time values is the shape computed from the inputs' shapes.
    const target: number[] = [];
    let runtime = 0;
    out.forEach((d, i) => {
      if (typeof d === 'number') target.push(d);
      else if (i < inShape.length && dimEq(inShape[i]!, d)) target.push(0);
      else {
        target.push(-1);
        runtime++;
      }
    });
    const shapeName = runtime <= 1 ? e.constant('int64', [target.length], target) : e.dims(out);
    e.node('Reshape', [a.inputs[0]!, shapeName], a.outputs);
  },
  grad: ({ inputs: [x], grads: [g] }) => [reshape(g!, x!.shape)],
});

export function reshape(x: Tensor, shape: Shape): Tensor {
  if (x.shape.length === shape.length && x.shape.every((d, i) => dimEq(d, shape[i]!))) return x;
  return x.graph.apply(Reshape, [x], { shape: [...shape] })[0]!;
}

// ---------------------------------------------------------------- Transpose
export const Transpose = defineOp<{ perm: number[] }>({
  name: 'Transpose',
  infer: ([x], a) => {
    const r = x!.shape.length;
    const sorted = [...a.perm].sort((p, q) => p - q);
    if (a.perm.length !== r || sorted.some((p, i) => p !== i))
      throw new ShapeError(`Transpose: perm [${a.perm}] is not a permutation of rank ${r}`);
    return [{ dtype: x!.dtype, shape: a.perm.map((p) => x!.shape[p]!) }];
  },
  emit: (e, a) => e.node('Transpose', a.inputs, a.outputs, { perm: attr.ints(a.attrs.perm) }),
  grad: ({ grads: [g], attrs }) => {
    const inv: number[] = [];
    attrs.perm.forEach((p, i) => (inv[p] = i));
    return [transpose(g!, inv)];
  },
});

/** transpose(x) swaps the last two axes; transpose(x, perm) permutes. */
export function transpose(x: Tensor, perm?: number[]): Tensor {
  const r = x.shape.length;
  const p = perm ?? [...Array(r).keys()].map((i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i));
  if (p.every((v, i) => v === i)) return x;
  return x.graph.apply(Transpose, [x], { perm: p })[0]!;
}

// ---------------------------------------------------------------- Slice
export interface SliceAttrs {
  axes: number[];
  starts: Dim[];
  ends: Dim[];
  steps: number[];
}

/** Start and length of a slice along one dim; symbolic dims assume in-range bounds (no clamping). */
function sliceBounds(d: Dim, start: Dim, end: Dim, step: number): { start: Dim; len: Dim } {
  if (typeof d === 'number' && typeof start === 'number' && typeof end === 'number') {
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    const s = clamp(start);
    const en = clamp(end);
    return { start: s, len: Math.max(0, Math.ceil((en - s) / step)) };
  }
  if (step !== 1) throw new ShapeError(`Slice: step ${step} on symbolic bounds (${d}, ${start}:${end}) is not supported`);
  const norm = (v: Dim) => (typeof v === 'number' && v < 0 ? dimAdd(d, v) : typeof v === 'number' && v >= Number.MAX_SAFE_INTEGER ? d : v);
  const s = norm(start);
  return { start: s, len: dimSub(norm(end), s) };
}

export const Slice = defineOp<SliceAttrs>({
  name: 'Slice',
  infer: ([x], a) => {
    const shape = [...x!.shape];
    a.axes.forEach((ax, i) => {
      const k = normAxis(ax, shape.length, 'Slice');
      if (a.steps[i]! <= 0) throw new ShapeError('Slice: only positive steps are supported');
      shape[k] = sliceBounds(x!.shape[k]!, a.starts[i]!, a.ends[i]!, a.steps[i]!).len;
    });
    return [{ dtype: x!.dtype, shape }];
  },
  emit: (e, a) =>
    e.node(
      'Slice',
      [
        a.inputs[0]!,
        e.dims(a.attrs.starts),
        e.dims(a.attrs.ends),
        e.constant('int64', [a.attrs.axes.length], a.attrs.axes),
        e.constant('int64', [a.attrs.steps.length], a.attrs.steps),
      ],
      a.outputs,
    ),
  grad: ({ inputs: [x], grads: [g], attrs }) => {
    if (attrs.steps.some((s) => s !== 1)) throw new ShapeError('Slice: gradient of strided slices is not implemented');
    const axes = attrs.axes.map((ax) => normAxis(ax, x!.shape.length, 'Slice'));
    const begins = axes.map((k, i) => sliceBounds(x!.shape[k]!, attrs.starts[i]!, attrs.ends[i]!, 1).start);
    const ends = axes.map((k, i) => dimSub(dimSub(x!.shape[k]!, begins[i]!), g!.shape[k]!));
    return [x!.graph.apply(PadZeros, [g!], { axes, pads: [...begins, ...ends] })[0]!];
  },
});

/** Zero padding (Pad-18 with axes), the adjoint of a unit-step slice. */
export const PadZeros = defineOp<{ axes: number[]; pads: Dim[] }>({
  name: 'PadZeros',
  infer: ([x], a) => {
    const shape = [...x!.shape];
    a.axes.forEach((k, i) => (shape[k] = dimAdd(dimAdd(shape[k]!, a.pads[i]!), a.pads[i + a.axes.length]!)));
    return [{ dtype: x!.dtype, shape }];
  },
  emit: (e, a) =>
    e.node('Pad', [a.inputs[0]!, e.dims(a.attrs.pads), '', e.constant('int64', [a.attrs.axes.length], a.attrs.axes)], a.outputs),
  grad: ({ inputs: [x], grads: [g], attrs }) => [
    slice(
      g!,
      attrs.axes,
      attrs.pads.slice(0, attrs.axes.length),
      attrs.axes.map((k, i) => dimAdd(attrs.pads[i]!, x!.shape[k]!)),
    ),
  ],
});

/** x[..., start:end, ...] along `axes`; ends may be symbolic ('seq'); omit end for "to the end". */
export function slice(x: Tensor, axes: number[], starts: Dim[], ends?: Dim[], steps?: number[]): Tensor {
  return x.graph.apply(Slice, [x], {
    axes,
    starts,
    ends: ends ?? axes.map(() => Number.MAX_SAFE_INTEGER),
    steps: steps ?? axes.map(() => 1),
  })[0]!;
}

// ---------------------------------------------------------------- Concat / Split
export const Concat = defineOp<{ axis: number }>({
  name: 'Concat',
  infer: (ins, a) => {
    const dtype = sameDtype('Concat', ins);
    const r = ins[0]!.shape.length;
    const k = normAxis(a.axis, r, 'Concat');
    let total: Dim = 0;
    for (const t of ins) {
      const ok = t.shape.length === r && t.shape.every((d, i) => i === k || dimEq(d, ins[0]!.shape[i]!));
      if (!ok) throw new ShapeError(`Concat: shapes differ outside axis ${a.axis} (${ins.map((x) => fmtShape(x.shape)).join(', ')})`);
      total = dimAdd(total, t.shape[k]!);
    }
    const shape = [...ins[0]!.shape];
    shape[k] = total;
    return [{ dtype, shape }];
  },
  emit: (e, a) => e.node('Concat', a.inputs, a.outputs, { axis: attr.int(a.attrs.axis) }),
  grad: ({ inputs, grads: [g], attrs }) => {
    const k = normAxis(attrs.axis, g!.shape.length, 'Concat');
    return split(
      g!,
      attrs.axis,
      inputs.map((t) => t.shape[k]!),
    );
  },
});

export function concat(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 1) return xs[0]!;
  return xs[0]!.graph.apply(Concat, xs, { axis })[0]!;
}

export const Split = defineOp<{ axis: number; sizes: Dim[] }>({
  name: 'Split',
  infer: ([x], a) => {
    const k = normAxis(a.axis, x!.shape.length, 'Split');
    const total = a.sizes.reduce<Dim>((s, d) => dimAdd(s, d), 0);
    if (!dimEq(total, x!.shape[k]!))
      throw new ShapeError(`Split: sizes [${a.sizes}] do not add up to dim ${x!.shape[k]} of ${fmtShape(x!.shape)}`);
    return a.sizes.map((d) => {
      const shape = [...x!.shape];
      shape[k] = d;
      return { dtype: x!.dtype, shape };
    });
  },
  emit: (e, a) => e.node('Split', [a.inputs[0]!, e.dims(a.attrs.sizes)], a.outputs, { axis: attr.int(a.attrs.axis) }),
  grad: ({ outputs, grads, attrs }) => {
    // Pieces nobody used get zeros so the concatenation has the input's full extent.
    const parts = outputs.map((o, i) => grads[i] ?? fill(o.graph, o.shape, 0, o.dtype));
    return [concat(parts, attrs.axis)];
  },
});

/** Split along `axis` into pieces of the given sizes (or `n` equal pieces). */
export function split(x: Tensor, axis: number, sizes: Dim[] | number): Tensor[] {
  if (typeof sizes === 'number') {
    const d = x.shape[normAxis(axis, x.shape.length, 'split')]!;
    const part = dimDiv(d, sizes);
    if (part === null) throw new ShapeError(`split: dim ${d} is not divisible into ${sizes} parts`);
    sizes = Array(sizes).fill(part) as Dim[];
  }
  return x.graph.apply(Split, [x], { axis, sizes })!;
}

// ---------------------------------------------------------------- Expand / Unsqueeze / Squeeze
export const Expand = defineOp<{ shape: Dim[] }>({
  name: 'Expand',
  infer: ([x], a) => [{ dtype: x!.dtype, shape: broadcastShapes('Expand', [x!.shape, a.shape], ['x', 'shape']) }],
  emit: (e, a) => e.node('Expand', [a.inputs[0]!, e.dims(a.attrs.shape)], a.outputs),
  grad: ({ inputs: [x], grads: [g] }) => [sumTo(g!, x!.shape)],
});

export function expand(x: Tensor, shape: Shape): Tensor {
  if (x.shape.length === shape.length && x.shape.every((d, i) => dimEq(d, shape[i]!))) return x;
  return x.graph.apply(Expand, [x], { shape: [...shape] })[0]!;
}

function axesInput(e: EmitCtx, axes: number[]): string {
  return e.constant('int64', [axes.length], axes);
}

export const Unsqueeze = defineOp<{ axes: number[] }>({
  name: 'Unsqueeze',
  infer: ([x], a) => {
    const r = x!.shape.length + a.axes.length;
    const axes = a.axes.map((ax) => normAxis(ax, r, 'Unsqueeze'));
    const rest = [...x!.shape];
    const shape: Dim[] = [];
    for (let i = 0; i < r; i++) shape.push(axes.includes(i) ? 1 : rest.shift()!);
    return [{ dtype: x!.dtype, shape }];
  },
  emit: (e, a) => e.node('Unsqueeze', [a.inputs[0]!, axesInput(e, a.attrs.axes)], a.outputs),
  grad: ({ inputs: [x], grads: [g] }) => [reshape(g!, x!.shape)],
});

export const Squeeze = defineOp<{ axes: number[] }>({
  name: 'Squeeze',
  infer: ([x], a) => {
    const axes = a.axes.map((ax) => normAxis(ax, x!.shape.length, 'Squeeze'));
    for (const k of axes) if (x!.shape[k] !== 1) throw new ShapeError(`Squeeze: dim ${k} of ${fmtShape(x!.shape)} is not 1`);
    return [{ dtype: x!.dtype, shape: x!.shape.filter((_, i) => !axes.includes(i)) }];
  },
  emit: (e, a) => e.node('Squeeze', [a.inputs[0]!, axesInput(e, a.attrs.axes)], a.outputs),
  grad: ({ inputs: [x], grads: [g] }) => [reshape(g!, x!.shape)],
});

export function unsqueeze(x: Tensor, axes: number | number[]): Tensor {
  return x.graph.apply(Unsqueeze, [x], { axes: typeof axes === 'number' ? [axes] : axes })[0]!;
}
export function squeeze(x: Tensor, axes: number | number[]): Tensor {
  return x.graph.apply(Squeeze, [x], { axes: typeof axes === 'number' ? [axes] : axes })[0]!;
}

// ---------------------------------------------------------------- Identity / StopGradient
export const Identity = defineOp<NoAttrs>({
  name: 'Identity',
  infer: ([x]) => [{ dtype: x!.dtype, shape: [...x!.shape] }],
  emit: passthrough('Identity'),
  grad: ({ grads: [g] }) => [g],
});

/** Forward identity, backward zero: autodiff does not look through it. */
export const StopGradient = defineOp<NoAttrs>({
  name: 'StopGradient',
  infer: ([x]) => [{ dtype: x!.dtype, shape: [...x!.shape] }],
  emit: passthrough('Identity'),
});

export function stopGradient(x: Tensor): Tensor {
  return x.graph.apply(StopGradient, [x], {})[0]!;
}
