// Drawing the "where the model looks" map on a cornerstone viewport: each patch-grid cell is a
// rectangle in original-image pixels (ExplainResult.x / .y), mapped to the canvas with
// cornerstone's pixelToCanvas so zoom, pan and the hanging's mirror apply as they do to the image.
import type { ExplainResult } from '../../../../common/jobs';

export interface HeatmapLayer {
  result: ExplainResult;
  classIndex: number;
  /** 0..1 */
  opacity: number;
}

// Viridis at five stops (perceptually uniform, readable by colour-blind people), linearly blended.
const STOPS: readonly [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

/** Colour of t in [0, 1] on the map. */
export function viridis(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [STOPS[i]!, STOPS[i + 1]!];
  const c = a.map((v, k) => Math.round(v + (b[k]! - v) * f));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** The chosen class's map with its own range (a shared range would wash out weaker classes). */
export function classRange(r: ExplainResult, classIndex: number): { values: number[]; min: number; max: number } {
  const values = r.maps[classIndex] ?? [];
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { values, min, max };
}

export interface CellRect {
  row: number;
  col: number;
  /** Original-image pixels, clipped to the image. */
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  t: number;
}

/** Every cell that overlaps the image, with its normalised value. */
export function cellRects(r: ExplainResult, classIndex: number): CellRect[] {
  const { values, min, max } = classRange(r, classIndex);
  const span = max - min || 1;
  const out: CellRect[] = [];
  for (let row = 0; row < r.rows; row++)
    for (let col = 0; col < r.cols; col++) {
      const xa = r.x.origin + col * r.x.step;
      const xb = xa + r.x.step;
      const ya = r.y.origin + row * r.y.step;
      const yb = ya + r.y.step;
      const x0 = Math.max(0, Math.min(xa, xb));
      const x1 = Math.min(r.imageColumns, Math.max(xa, xb));
      const y0 = Math.max(0, Math.min(ya, yb));
      const y1 = Math.min(r.imageRows, Math.max(ya, yb));
      if (x1 <= x0 || y1 <= y0) continue; // over the zero padding
      out.push({ row, col, x0, x1, y0, y1, t: (values[row * r.cols + col]! - min) / span });
    }
  return out;
}

/**
 * Draws the layer on the viewport's canvas after cornerstone rendered the image. `ratio` is the
 * displayed image's columns over the full image's (a reduced frame may be on screen).
 */
export function drawHeatmap(
  ctx: CanvasRenderingContext2D,
  layer: HeatmapLayer,
  ratio: number,
  pixelToCanvas: (pt: { x: number; y: number }) => { x: number; y: number },
): number {
  const cells = cellRects(layer.result, layer.classIndex);
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.globalAlpha = layer.opacity;
  for (const c of cells) {
    const a = pixelToCanvas({ x: c.x0 * ratio, y: c.y0 * ratio });
    const b = pixelToCanvas({ x: c.x1 * ratio, y: c.y1 * ratio });
    ctx.fillStyle = viridis(c.t);
    // +0.5 px overlap hides seams between neighbouring cells.
    ctx.fillRect(Math.min(a.x, b.x), Math.min(a.y, b.y), Math.abs(b.x - a.x) + 0.5, Math.abs(b.y - a.y) + 0.5);
  }
  ctx.restore();
  return cells.length;
}
