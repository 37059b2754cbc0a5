// Where a model-input pixel came from in the original DICOM image: the pipeline mirrors the image
// (chest wall to one side), resizes its long side and zero-pads to a square, crops the Otsu box and
// resizes that to the model size. All of these are axis-aligned, so each axis maps linearly:
// original = origin + step * (grid cell index). Cells over the zero padding fall outside the image.
import type { PreparedImage } from '../dicom/pipeline/prepare';
import type { PreprocessSpec } from '../dicom/pipeline/spec';
import { longSideSize } from '../dicom/pipeline/geometry';

export interface GridAxes {
  x: { origin: number; step: number };
  y: { origin: number; step: number };
}

/**
 * Grid axes in full-resolution original pixels for a `rows x cols` patch grid over the model input
 * of `spec.size` (patch = size / cols), given the image's full size (columns x rows).
 */
export function gridAxes(
  image: Pick<PreparedImage, 'flipped' | 'crop' | 'decodeReduction'>,
  spec: Pick<PreprocessSpec, 'size' | 'padLongSide'>,
  full: { columns: number; rows: number },
  grid: { rows: number; cols: number },
  patch: { width: number; height: number },
): GridAxes {
  const S = spec.size;
  // Model pixel u -> the image the crop was taken from ("stage" image), per axis.
  let stageW: number;
  let stageH: number;
  // Stage pixel -> original pixel (before the mirror).
  let toOrigX: number;
  let toOrigY: number;
  if (spec.padLongSide !== null) {
    const P = spec.padLongSide;
    const { w, h } = longSideSize(full.columns, full.rows, P);
    stageW = P;
    stageH = P;
    toOrigX = full.columns / w;
    toOrigY = full.rows / h;
  } else {
    // No first resize: the stage image is the decoded frame (possibly a reduced J2K level).
    const f = 2 ** image.decodeReduction;
    stageW = Math.ceil(full.columns / f);
    stageH = Math.ceil(full.rows / f);
    toOrigX = f;
    toOrigY = f;
  }
  const box = image.crop ?? { x: 0, y: 0, width: stageW, height: stageH };
  const sx = box.width / S; // stage pixels per model pixel
  const sy = box.height / S;
  const x0 = box.x * toOrigX; // original x (mirrored frame) at model u = 0
  const y0 = box.y * toOrigY;
  const dx = patch.width * sx * toOrigX; // per grid column
  const dy = patch.height * sy * toOrigY;
  void grid;
  return {
    // The model saw the mirrored image: its x runs from the right edge leftwards in the original.
    x: image.flipped ? { origin: full.columns - x0, step: -dx } : { origin: x0, step: dx },
    y: { origin: y0, step: dy },
  };
}
