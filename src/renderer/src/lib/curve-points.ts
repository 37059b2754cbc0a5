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
