/** Functional op API: `ops.matmul(x, w)` etc. Every function is also a Tensor method where it reads well. */
export { add, sub, mul, div, pow, maximum, minimum } from './elementwise';
export { neg, abs, sign, sqrt, exp, log, tanh, sigmoid, reciprocal, relu, erf } from './unary';
export { equal, greater, less, greaterOrEqual, lessOrEqual, not, and, or, where } from './compare';
export { reduceSum, reduceMean, reduceMax, sumTo } from './reduce';
export { matmul, gemm } from './matmul';
export { softmax, logSoftmax } from './softmax';
export { gelu, type GeluApprox } from './activation';
export { layerNorm, l2normalize } from './norm';
export { reshape, transpose, slice, concat, split, expand, unsqueeze, squeeze, stopGradient } from './layout';
export { gather, gatherElements, gatherND, scatterNDAdd, scatterElementsAdd } from './indexing';
export { trilu, causalMask } from './mask';
export { cast, indexToInt32 } from './cast';
export { fill, arange, sizeOf } from './creation';
export { resizeBicubic, cubicMatrix } from './resize';
export { crossEntropy } from './loss';
export { dropout, hashField, dropoutSeedWords, DROPOUT_SEED_SHAPE, DROPOUT_MASK_HASH } from './dropout';
export { matmulInt8, quantizeInt8, dequantizeInt8, transposeF32, INT8_BLOCK_SIZE, type Int8Weight, type Int8Blocks } from './quant';
