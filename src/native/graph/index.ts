/** Public surface of the graph engine: build, differentiate, emit. */
export { Graph, type ParamOptions, type ParamValue, type Node } from './graph.js';
export { Tensor } from './tensor.js';
export { grad } from './autodiff.js';
export { emitOnnx, IR_VERSION, OPSET, type EmitOptions, type EmittedModel } from './onnx/emit.js';
export { defineOp, type OpDef, type EmitCtx, type GradArgs, type TensorType } from './op.js';
export type { DType } from './dtype.js';
export { ShapeError, type Dim, type Shape } from './shape.js';
export * as ops from './ops/index.js';
