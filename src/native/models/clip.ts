/**
 * The CLIP heads and the two training losses of CLEFT, as graph functions:
 *
 *   text  = normalize(text_feature  @ text_projectionᵀ)     (no bias)
 *   image = normalize(image_feature @ visual_projectionᵀ)   (no bias)
 *   logits_per_image = exp(logit_scale) * image @ textᵀ     (rows = images)
 *
 * - Contrastive (stage 1): symmetric InfoNCE over the B pairs (image i <-> text i), the mean of the
 *   cross-entropy over rows and over columns.
 * - Prompt learning (stage 2): class prompts are the text side (one row per class), the loss is the
 *   cross-entropy of logits_per_image with the image labels.
 *
 * The workflow code builds training steps from these with `grad()`; tests check the gradients against
 * PyTorch (reference-a `clip.grad.*`, `prompt.grad.ctx`).
 */
import { ops, type Graph, type ParamValue, type Tensor } from '../graph/index';
import type { Dim } from '../graph/shape';
import { LOGIT_SCALE, TEXT_PROJECTION, VISUAL_PROJECTION, type Heads } from './heads';

export interface HeadParams {
  /** [proj, dText] */
  textProjection: Tensor;
  /** [proj, dImage] */
  visualProjection: Tensor;
  /** scalar (shape []) */
  logitScale: Tensor;
}

/**
 * Graph parameters for the heads. Trainable ones are fed per step under their file names
 * (`text_projection.weight`, ...); frozen ones become inline initializers from `heads`.
 */
export function headParams(g: Graph, heads: Heads, opts: { trainable?: boolean; prefix?: string } = {}): HeadParams {
  const prefix = opts.prefix ?? '';
  const trainable = opts.trainable ?? false;
  const make = (name: string, data: Float32Array, shape: number[]): Tensor =>
    trainable ? g.param(prefix + name, shape, { trainable: true }) : g.param(prefix + name, shape, { value: inline(data) });
  return {
    textProjection: make(TEXT_PROJECTION, heads.textProjection, [heads.projDim, heads.textDim]),
    visualProjection: make(VISUAL_PROJECTION, heads.visualProjection, [heads.projDim, heads.imageDim]),
    logitScale: make(LOGIT_SCALE, Float32Array.of(heads.logitScale), []),
  };
}

function inline(d: Float32Array): ParamValue {
  return { kind: 'inline', bytes: new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)) };
}

/** x @ Wᵀ (no bias), L2-normalised along the last axis (torch.nn.functional.normalize). */
export function projectAndNormalize(x: Tensor, projection: Tensor): Tensor {
  return x.matmul(projection.transpose()).l2normalize(-1);
}

/** exp(logit_scale) * image @ textᵀ: [images, texts]. Both sides already normalised. */
export function clipLogits(image: Tensor, text: Tensor, logitScale: Tensor): Tensor {
  return image.matmul(text.transpose()).mul(logitScale.exp());
}

/** Symmetric InfoNCE: (CE(logits, arange) + CE(logitsᵀ, arange)) / 2 for square logits [B, B]. */
export function clipLoss(logitsPerImage: Tensor): Tensor {
  const n: Dim = logitsPerImage.shape[0]!;
  const labels = ops.arange(logitsPerImage.graph, n);
  const byImage = ops.crossEntropy(logitsPerImage, labels);
  const byText = ops.crossEntropy(logitsPerImage.transpose(), labels);
  return byImage.add(byText).mul(0.5);
}

export interface ClipOutputs {
  image: Tensor;
  text: Tensor;
  logitsPerImage: Tensor;
}

/** Features -> normalised embeddings -> logits. */
export function clipHead(imageFeature: Tensor, textFeature: Tensor, heads: HeadParams): ClipOutputs {
  const image = projectAndNormalize(imageFeature, heads.visualProjection);
  const text = projectAndNormalize(textFeature, heads.textProjection);
  return { image, text, logitsPerImage: clipLogits(image, text, heads.logitScale) };
}

/**
 * Prompt-learning loss: logits of each image against every class prompt, cross-entropy with the
 * image labels (int64 [images]). Returns the loss and the logits [images, classes].
 */
export function promptLoss(
  imageFeature: Tensor,
  classTextFeature: Tensor,
  labels: Tensor,
  heads: HeadParams,
): { loss: Tensor; logits: Tensor; probs: Tensor } {
  const { logitsPerImage } = clipHead(imageFeature, classTextFeature, heads);
  return { loss: ops.crossEntropy(logitsPerImage, labels), logits: logitsPerImage, probs: logitsPerImage.softmax(-1) };
}
