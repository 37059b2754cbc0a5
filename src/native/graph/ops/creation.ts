/**
 * Tensors made from shapes rather than data: filled tensors, aranges, element counts. Their sizes may be
 * symbolic; the emitter reads symbolic dims from the graph inputs at run time.
 */
import { defineOp } from '../op';
import { encodeValues, ONNX_DTYPE, type DType } from '../dtype';
import { attr } from '../onnx/proto';
import { isStatic, type Dim, type Shape } from '../shape';
import type { Graph } from '../graph';
import type { Tensor } from '../tensor';

export const Fill = defineOp<{ shape: Dim[]; dtype: DType; value: number }>({
  name: 'Fill',
  infer: (_, a) => [{ dtype: a.dtype, shape: [...a.shape] }],
  emit: (e, a) =>
    e.node('ConstantOfShape', [e.dims(a.attrs.shape)], a.outputs, {
      value: attr.tensor({ name: '', dataType: ONNX_DTYPE[a.attrs.dtype], dims: [1], raw: encodeValues(a.attrs.dtype, [a.attrs.value]) }),
    }),
});

export function fill(g: Graph, shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  return g.apply(Fill, [], { shape: [...shape], dtype, value })[0]!;
}

/** Scalar with the product of `dims` (the element count behind a mean), as `dtype`. */
export const SizeOf = defineOp<{ dims: Dim[]; dtype: DType }>({
  name: 'SizeOf',
  infer: (_, a) => [{ dtype: a.dtype, shape: [] }],
  emit: (e, a) => {
    const dims = a.attrs.dims;
    if (isStatic(dims)) {
      const n = (dims as number[]).reduce((x, y) => x * y, 1);
      e.node('Identity', [e.constant(a.attrs.dtype, [], [n])], a.outputs);
      return;
    }
    const prod = e.fresh('size');
    e.node('ReduceProd', [e.dims(a.attrs.dims)], [prod], { keepdims: attr.int(0) });
    e.node('Cast', [prod], a.outputs, { to: attr.int(ONNX_DTYPE[a.attrs.dtype]) });
  },
});

export function sizeOf(g: Graph, dims: Shape, dtype: DType): Tensor {
  if (isStatic(dims))
    return g.scalar(
      dims.reduce((x, y) => x * y, 1),
      dtype,
    );
  return g.apply(SizeOf, [], { dims: [...dims], dtype })[0]!;
}

/** 0, 1, ..., n-1 as int64 (n may be symbolic, e.g. 'seq' for position ids). */
export const Arange = defineOp<{ n: Dim }>({
  name: 'Arange',
  infer: (_, a) => [{ dtype: 'int64', shape: [a.n] }],
  emit: (e, a) => {
    const n = e.fresh('n');
    e.node('Squeeze', [e.dims([a.attrs.n])], [n]);
    e.node('Range', [e.constant('int64', [], [0]), n, e.constant('int64', [], [1])], a.outputs);
  },
});

export function arange(g: Graph, n: Dim): Tensor {
  return g.apply(Arange, [], { n })[0]!;
}
