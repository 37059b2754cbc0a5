// The viewer's ruler and ellipse-area measurements: kept in full-resolution image pixels (so they
// stay put when the reduced frame is swapped for the full one, or the view zooms and pans), measured
// with the frame's spacing choice (common/imaging/spacing.ts), and drawn on the cornerstone canvas
// through pixelToCanvas so the hanging's mirror, zoom and pan apply as they do to the image.
import { formatMeasure, measureEllipseArea, measureLength, type ImagePoint, type SpacingChoice } from '../../../../common/imaging/spacing';

export type MeasureKind = 'line' | 'ellipse';

export interface Measurement {
  kind: MeasureKind;
  a: ImagePoint;
  b: ImagePoint;
}

/** "Length 42.3 mm" or "Area 612 mm²", in the choice's unit (pixels when the file has no spacing). */
export function measurementText(m: Measurement, spacing: SpacingChoice): string {
  return m.kind === 'line'
    ? `Length ${formatMeasure(measureLength(m.a, m.b, spacing), spacing.unit)}`
    : `Area ${formatMeasure(measureEllipseArea(m.a, m.b, spacing), spacing.unit, true)}`;
}

/** Draws measurements; `toCanvas` maps a full-resolution image point to canvas pixels. */
export function drawMeasurements(
  ctx: CanvasRenderingContext2D,
  items: readonly Measurement[],
  spacing: SpacingChoice,
  toCanvas: (p: ImagePoint) => ImagePoint,
): void {
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.lineWidth = 1.5;
  ctx.font = '12px ui-monospace, monospace';
  ctx.textBaseline = 'bottom';
  for (const m of items) {
    const a = toCanvas(m.a);
    const b = toCanvas(m.b);
    // A dark halo under the yellow line keeps it visible on bright tissue and on air.
    for (const [colour, width] of [
      ['rgba(0,0,0,0.8)', 3.5],
      ['#f2d04b', 1.5],
    ] as const) {
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.beginPath();
      if (m.kind === 'line') {
        ctx.moveTo(a.x, a.y);
        ctx.lineTo(b.x, b.y);
      } else {
        ctx.ellipse((a.x + b.x) / 2, (a.y + b.y) / 2, Math.abs(b.x - a.x) / 2, Math.abs(b.y - a.y) / 2, 0, 0, Math.PI * 2);
      }
      ctx.stroke();
    }
    const text = measurementText(m, spacing);
    const w = ctx.measureText(text).width;
    // Beside the shape's upper right, kept on the canvas.
    const x = Math.max(4, Math.min(Math.max(a.x, b.x) + 6, ctx.canvas.width - w - 4));
    const y = Math.max(18, Math.min(Math.min(a.y, b.y) - 4, ctx.canvas.height - 4));
    // On a scrim, so the figure reads on any grey.
    ctx.fillStyle = 'rgba(0,0,0,0.65)';
    ctx.fillRect(x - 3, y - 15, w + 6, 17);
    ctx.fillStyle = '#f2d04b';
    ctx.fillText(text, x, y);
  }
  ctx.restore();
}
