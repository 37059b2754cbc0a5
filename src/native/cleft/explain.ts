// "Where the model looks": each image patch token, projected and normalised exactly like the pooled
// image feature, compared by cosine with every class's text embedding. A map per class over the
// patch grid. It shows which regions resemble the class text in the shared embedding space; it is
// an explanation aid with no guarantee of causality (not a gradient or occlusion saliency).
import type { Heads } from '../models/heads';
import { projectAndNormalizeRows } from './math';

export interface PatchMaps {
  rows: number;
  cols: number;
  classes: number;
  /** [classes, rows * cols] cosines, row-major over the patch grid. */
  maps: Float32Array;
}

/**
 * lastHidden [1, tokens, d] of one image (after the final layer norm; tokens = CLS + registers +
 * rows*cols patches), the bundle heads and class embeddings [classes, projDim] (already normalised).
 */
export function patchClassSimilarity(o: {
  lastHidden: Float32Array;
  tokens: number;
  grid: readonly [number, number];
  heads: Heads;
  classEmbeddings: Float32Array;
}): PatchMaps {
  const { heads } = o;
  const d = heads.imageDim;
  const p = heads.projDim;
  const [rows, cols] = o.grid;
  const patches = rows * cols;
  if (o.lastHidden.length !== o.tokens * d) throw new Error(`patch tokens: ${o.lastHidden.length} values, [${o.tokens}, ${d}] expected`);
  const prefix = o.tokens - patches;
  if (prefix < 1) throw new Error(`patch tokens: ${o.tokens} tokens cannot hold CLS and a ${rows}x${cols} grid`);
  const patchRows = o.lastHidden.subarray(prefix * d);
  const emb = projectAndNormalizeRows(patchRows, patches, d, heads.visualProjection, p);
  const classes = o.classEmbeddings.length / p;
  const maps = new Float32Array(classes * patches);
  for (let c = 0; c < classes; c++)
    for (let i = 0; i < patches; i++) {
      let dot = 0;
      for (let k = 0; k < p; k++) dot += emb[i * p + k]! * o.classEmbeddings[c * p + k]!;
      maps[c * patches + i] = dot;
    }
  return { rows, cols, classes, maps };
}
