// Merging live training-curve points into the ones shown, kept sorted by step.
import type { MetricPoint } from '../../../common/jobs';

/** `points` (sorted by step) with `more` applied in order; most batches only append, which is O(batch). */
export function mergeByStep(points: MetricPoint[], more: MetricPoint[]): MetricPoint[] {
  const out = points.slice();
  let sorted = true;
  for (const p of more) {
    const last = out[out.length - 1];
    if (last === undefined || p.step > last.step) out.push(p);
    else {
      const i = out.findIndex((q) => q.step === p.step);
      if (i >= 0) out[i] = p;
      else {
        out.push(p);
        sorted = false;
      }
    }
  }
  return sorted ? out : out.sort((a, b) => a.step - b.step);
}

/**
 * A noisy loss curve (one point per mini-batch) smoothed for reading its trend: an exponential moving
 * average, debiased like TensorBoard's so the start is not pulled towards 0, over a span of about
 * 1/30 of the curve (at least 5 points). Empty for short curves, which read fine raw.
 */
export function smoothedCurve(points: readonly [number, number][], minPoints = 30): [number, number][] {
  if (points.length < minPoints) return [];
  const span = Math.max(5, points.length / 30);
  const beta = 1 - 2 / (span + 1);
  const out: [number, number][] = [];
  let ema = 0;
  let weight = 0;
  for (const [x, y] of points) {
    if (!Number.isFinite(y)) continue;
    ema = beta * ema + (1 - beta) * y;
    weight = beta * weight + (1 - beta);
    out.push([x, ema / weight]);
  }
  return out;
}
