/** Small helpers shared by op definitions: dtype checks, scalar lifting, simple emitters. */
import type { DType } from '../dtype';
import { isFloat } from '../dtype';
import { fmtShape, ShapeError } from '../shape';
import type { EmitArgs, EmitCtx, TensorType } from '../op';
import type { Tensor } from '../tensor';

export type NoAttrs = Record<string, never>;
export const NO_ATTRS: NoAttrs = {};

export function describe(types: readonly TensorType[], names = 'abcdefgh'): string {
  return types.map((t, i) => `${names[i] ?? i}: ${t.dtype}${fmtShape(t.shape)}`).join(', ');
}

export function sameDtype(op: string, types: readonly TensorType[]): DType {
  const d = types[0]!.dtype;
  for (const t of types) {
    if (t.dtype !== d) throw new ShapeError(`${op}: dtypes differ (${describe(types)})`);
  }
  return d;
}

export function requireFloat(op: string, t: TensorType): void {
  if (!isFloat(t.dtype)) throw new ShapeError(`${op}: needs a float tensor, got ${t.dtype}${fmtShape(t.shape)}`);
}

export function requireDtype(op: string, t: TensorType, dtypes: readonly DType[], what: string): void {
  if (!dtypes.includes(t.dtype)) throw new ShapeError(`${op}: ${what} must be ${dtypes.join('/')}, got ${t.dtype}`);
}

/** `x.mul(2)`: numbers become scalar constants of the other operand's dtype. */
export function lift(like: Tensor, v: Tensor | number): Tensor {
  return typeof v === 'number' ? like.graph.scalar(v, like.dtype) : v;
}

/** Emit one ONNX node of the same name with the op's inputs and outputs. */
export function passthrough(onnxOp: string) {
  return (e: EmitCtx, a: EmitArgs<unknown>): void => e.node(onnxOp, a.inputs, a.outputs);
}
