// The magnifier: a square of the image around a point, drawn from the stored values of the best
// frame at hand (the full frame once it is in) through the viewport's own modality and VOI LUT, so
// it shows real pixels, not an enlarged screen. Pure: fills an RGBA buffer.
import { windowMapper, type Window } from '../../../../common/imaging/voi';

export interface LoupeSource {
  stored: ArrayLike<number>;
  rows: number;
  columns: number;
  /** Full-resolution size the point is given in. */
  fullRows: number;
  fullColumns: number;
  slope: number;
  intercept: number;
}

export interface LoupeView {
  /** Centre, in full-resolution pixels. */
  x: number;
  y: number;
  /** Loupe pixels per full-resolution pixel. */
  scale: number;
  /** Mirrored as the viewport is (hflip). */
  flip: boolean;
  window: Window;
  /** MONOCHROME1 xor the user's invert. */
  invert: boolean;
}

/** RGBA pixels of a size x size loupe; outside the image is black. */
export function renderLoupe(src: LoupeSource, view: LoupeView, size: number): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(size * size * 4);
  const map = windowMapper(view.window, 0, 255);
  const half = size / 2;
  const sx = src.columns / src.fullColumns;
  const sy = src.rows / src.fullRows;
  for (let j = 0; j < size; j++) {
    const fy = view.y + (j + 0.5 - half) / view.scale;
    const y = Math.floor(fy * sy);
    for (let i = 0; i < size; i++) {
      const fx = view.x + ((view.flip ? -1 : 1) * (i + 0.5 - half)) / view.scale;
      const x = Math.floor(fx * sx);
      const o = (j * size + i) * 4;
      out[o + 3] = 255;
      if (x < 0 || y < 0 || x >= src.columns || y >= src.rows) continue;
      let g = map(src.stored[y * src.columns + x]! * src.slope + src.intercept);
      if (view.invert) g = 255 - g;
      out[o] = out[o + 1] = out[o + 2] = g;
    }
  }
  return out;
}
