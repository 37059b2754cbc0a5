/** Functional op API: `ops.matmul(x, w)` etc. Every function is also a Tensor method where it reads well. */
export { add, sub, mul, div, pow, maximum, minimum, mod, bitwiseXor } from './elementwise.js';
export { neg, abs, sign, sqrt, exp, log, tanh, sigmoid, reciprocal, relu, erf } from './unary.js';
export { equal, greater, less, greaterOrEqual, lessOrEqual, not, and, or, where } from './compare.js';
export { reduceSum, reduceMean, reduceMax, sumTo } from './reduce.js';
export { matmul, gemm } from './matmul.js';
export { softmax, logSoftmax } from './softmax.js';
export { gelu, type GeluApprox } from './activation.js';
export { layerNorm, l2normalize } from './norm.js';
export { reshape, transpose, slice, concat, split, expand, unsqueeze, squeeze, stopGradient } from './layout.js';
export { gather, gatherElements, gatherND, scatterNDAdd, scatterElementsAdd } from './indexing.js';
export { trilu, causalMask } from './mask.js';
export { cast } from './cast.js';
export { fill, arange, sizeOf } from './creation.js';
export { resizeBicubic, cubicMatrix } from './resize.js';
export { crossEntropy } from './loss.js';
export { dropout, hashUniform } from './dropout.js';
