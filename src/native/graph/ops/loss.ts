/** Losses composed from primitive ops (their gradients come from the primitives' rules). */
import { ShapeError, fmtShape, shapeEq } from '../shape';
import type { Tensor } from '../tensor';
import { logSoftmax } from './softmax';
import { indexToInt32 } from './cast';
import { gatherElements } from './indexing';
import { unsqueeze } from './layout';
import { reduceMean } from './reduce';

/**
 * Mean cross-entropy from logits [..., C] and int64 labels [...]: mean(logsumexp(z) - z[label]).
 * The backward is softmax(z) - onehot(label) scaled by 1/N, produced by the LogSoftmax and
 * GatherElements rules (a scatter-add of -1/N into the label positions).
 */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  if (labels.dtype !== 'int64') throw new ShapeError(`crossEntropy: labels must be int64, got ${labels.dtype}`);
  if (!shapeEq(labels.shape, logits.shape.slice(0, -1))) {
    throw new ShapeError(
      `crossEntropy: labels ${fmtShape(labels.shape)} must match logits ${fmtShape(logits.shape)} without the class axis`,
    );
  }
  // int32 labels: the WebGPU EP cannot reshape an int64 input on the GPU (see indexToInt32)
  const picked = gatherElements(logSoftmax(logits, -1), unsqueeze(indexToInt32(labels, logits.shape.at(-1)!), -1), -1);
  return reduceMean(picked).neg();
}
