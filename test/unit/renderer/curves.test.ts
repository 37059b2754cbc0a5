// Live training curves: points merged by step in batches, and long curves thinned for drawing
// without losing their shape (every pixel column keeps its first, lowest, highest and last point).
import { describe, expect, it } from 'vitest';
import type { MetricPoint } from '../../../src/common/jobs';
import { decimate, type Point } from '../../../src/renderer/src/components/charts/decimate';
import { mergeByStep, smoothedCurve } from '../../../src/renderer/src/lib/curve-points';
import { niceTicks, tickLabel } from '../../../src/renderer/src/components/charts/ticks';

const pt = (step: number, loss: number): MetricPoint => ({ step, loss });

describe('mergeByStep', () => {
  it('appends in order, replaces a repeated step, and sorts a late one into place', () => {
    const shown = [pt(1, 3), pt(2, 2.5)];
    const merged = mergeByStep(shown, [pt(3, 2), pt(2, 2.4), pt(5, 1), pt(4, 1.5)]);
    expect(merged.map((p) => [p.step, p.loss])).toEqual([
      [1, 3],
      [2, 2.4],
      [3, 2],
      [4, 1.5],
      [5, 1],
    ]);
    expect(shown.map((p) => p.step)).toEqual([1, 2]); // the shown array is not mutated (it is state)
  });

  it('the later of two copies of a step in one batch wins', () => {
    expect(mergeByStep([], [pt(7, 1), pt(7, 0.5)])).toEqual([pt(7, 0.5)]);
  });
});

describe('decimate', () => {
  const curve = (n: number): Point[] => Array.from({ length: n }, (_, i) => [i + 1, Math.sin(i / 50) + (i === 7777 ? 9 : 0)]);

  it('leaves a short curve as it is', () => {
    const short = curve(100);
    expect(decimate(short, 290)).toBe(short);
  });

  it('thins 20,000 points to at most 4 per column, keeping ends, extremes and order', () => {
    const long = curve(20_000);
    const thin = decimate(long, 290);
    expect(thin.length).toBeLessThanOrEqual(4 * 290);
    expect(thin.length).toBeGreaterThan(290);
    expect(thin[0]).toEqual(long[0]);
    expect(thin[thin.length - 1]).toEqual(long[long.length - 1]);
    for (let i = 1; i < thin.length; i++) expect(thin[i]![0]).toBeGreaterThan(thin[i - 1]![0]);
    // The one spike survives, and so do the global minimum and maximum of each column.
    expect(thin).toContainEqual(long[7777]);
    const ys = long.map((p) => p[1]);
    expect(Math.min(...thin.map((p) => p[1]))).toBe(Math.min(...ys));
  });

  it('keeps each column min and max', () => {
    const long = curve(5000);
    const thin = decimate(long, 50);
    const width = (long[long.length - 1]![0] - long[0]![0]) / 50;
    for (let c = 0; c < 50; c++) {
      const inCol = (p: Point) => Math.min(49, Math.floor((p[0] - 1) / width)) === c;
      const col = long.filter(inCol).map((p) => p[1]);
      const kept = thin.filter(inCol).map((p) => p[1]);
      expect(Math.max(...kept)).toBe(Math.max(...col));
      expect(Math.min(...kept)).toBe(Math.min(...col));
    }
  });
});

describe('niceTicks', () => {
  it('puts ticks at round values inside the domain', () => {
    expect(niceTicks(1, 10_000, 5, true)).toEqual([2000, 4000, 6000, 8000, 10000]);
    expect(niceTicks(1, 10, 5, true)).toEqual([2, 4, 6, 8, 10]);
    expect(niceTicks(1, 3, 5, true)).toEqual([1, 2, 3]);
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.22, 3.39)).toEqual([1, 2, 3]);
    expect(niceTicks(0, 11, 5, true)).toEqual([0, 5, 10]); // whole steps only
    expect(niceTicks(0, 11)).toEqual([0, 2.5, 5, 7.5, 10]);
    expect(niceTicks(0.2, 0.9)).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(0.1, 0.4)).toEqual([0.1, 0.2, 0.3, 0.4]);
    expect(niceTicks(5, 5)).toEqual([5]);
  });

  it('labels them with the decimals the step needs', () => {
    const t = niceTicks(0, 1);
    expect(t.map((v) => tickLabel(v, t))).toEqual(['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
    const u = niceTicks(0, 11);
    expect(u.map((v) => tickLabel(v, u))).toEqual(['0.0', '2.5', '5.0', '7.5', '10.0']);
    const w = niceTicks(1, 10_000, 5, true);
    expect(w.map((v) => tickLabel(v, w))).toEqual(['2000', '4000', '6000', '8000', '10000']);
    const z = niceTicks(0.001, 0.0042);
    expect(z.map((v) => tickLabel(v, z))).toEqual(['0.001', '0.002', '0.003', '0.004']);
  });
});

describe('smoothedCurve', () => {
  it('follows the trend of a noisy curve, starts at its first value, and skips short curves', () => {
    const noisy: [number, number][] = Array.from({ length: 3000 }, (_, i) => [i + 1, 2 - i / 3000 + (i % 2 ? 0.5 : -0.5)]);
    const smooth = smoothedCurve(noisy);
    expect(smooth).toHaveLength(3000);
    expect(smooth[0]).toEqual(noisy[0]); // debiased: not pulled towards 0
    // The ±0.5 alternation averages out; the downward trend stays (lagging by about half the span).
    for (const i of [500, 1500, 2999]) expect(Math.abs(smooth[i]![1] - (2 - i / 3000))).toBeLessThan(0.05);
    expect(smoothedCurve(noisy.slice(0, 10))).toEqual([]);
  });
});
