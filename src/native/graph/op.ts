/**
 * What an op is: shape/dtype inference, ONNX emission and the gradient rule, defined together in one
 * place (`defineOp`) so nobody adds a forward without thinking about its backward.
 */
import type { DType } from './dtype';
import type { Dim, Shape } from './shape';
import type { OnnxAttr } from './onnx/proto';
import type { Tensor } from './tensor';

export interface TensorType {
  dtype: DType;
  shape: Dim[];
}

/**
 * The execution provider a model is emitted for. 'cpu' (also right for CUDA) emits every op as its
 * one ONNX node; 'webgpu' rewrites ops the WebGPU EP of onnxruntime-node 1.30 has no kernel for into
 * ops it has, so they do not fall back to the CPU (docs/engine.md#webgpu-coverage).
 */
export type EmitTarget = 'cpu' | 'webgpu';

/** Services the emitter offers to an op's `emit`. All names it returns are unique in the model. */
export interface EmitCtx {
  readonly target: EmitTarget;
  /**
   * Append one ONNX node. `domain` names a contrib operator set ('com.microsoft'); the model then
   * imports it (opset 1), graphs without such nodes stay as they were.
   */
  node(opType: string, inputs: readonly string[], outputs: readonly string[], attrs?: Record<string, OnnxAttr>, domain?: string): void;
  /** A fresh value name derived from `hint`. */
  fresh(hint: string): string;
  /** An inline initializer (deduplicated by content). */
  constant(dtype: DType, dims: readonly number[], values: ArrayLike<number | bigint | boolean>): string;
  /** A 1-D int64 tensor with the runtime values of `shape`; symbolic dims are read from graph inputs. */
  dims(shape: Shape): string;
  /** `shape` with the static sizes the model is emitted with (EmitOptions.dims) substituted. */
  bind(shape: Shape): Dim[];
}

export interface EmitArgs<A> {
  inputs: readonly string[];
  /** One name per output; outputs nobody consumes are still named (ops with optional outputs may drop them). */
  outputs: readonly string[];
  used: readonly boolean[];
  attrs: A;
  inTypes: readonly TensorType[];
  outTypes: readonly TensorType[];
}

export interface GradArgs<A> {
  inputs: readonly Tensor[];
  outputs: readonly Tensor[];
  /** Gradient of the loss with respect to each output; null where no path reaches the loss. */
  grads: readonly (Tensor | null)[];
  /** Which inputs need a gradient: rules skip work for the others. */
  needs: readonly boolean[];
  attrs: A;
}

export interface OpDef<A = Record<string, never>> {
  name: string;
  infer(inputs: readonly TensorType[], attrs: A): TensorType[];
  emit(ctx: EmitCtx, args: EmitArgs<A>): void;
  /**
   * Gradient rule; returns one entry per input (null/undefined = no gradient). Omitted for ops whose
   * outputs are piecewise constant (comparisons, integer ops): they stop gradients.
   */
  grad?: (args: GradArgs<A>) => (Tensor | null | undefined)[];
}

export function defineOp<A>(def: OpDef<A>): OpDef<A> {
  return def;
}
