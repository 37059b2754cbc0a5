/** Public surface of the graph engine: build, differentiate, emit. */
export { Graph, type ParamOptions, type ParamValue, type Node } from './graph';
export { Tensor } from './tensor';
export { grad } from './autodiff';
export { emitOnnx, bindDim, dimsFromShapes, IR_VERSION, OPSET, type EmitOptions, type EmittedModel } from './onnx/emit';
export { defineOp, type OpDef, type EmitCtx, type GradArgs, type TensorType } from './op';
export type { DType } from './dtype';
export { ShapeError, type Dim, type Shape } from './shape';
export * as ops from './ops/index';
