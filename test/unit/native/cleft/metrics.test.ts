import { describe, expect, it } from 'vitest';
import {
  accuracy,
  argmax,
  balancedAccuracy,
  calibration,
  confusionMatrix,
  evaluate,
  macroAuc,
  MAX_CLASSES,
  rocCurve,
} from '../../../../src/native/cleft/metrics';
import { combineViews } from '../../../../src/native/cleft/aggregate';
import { seededRandom } from '../../../../src/native/cleft/random';
import reference from '../../../fixtures/metrics/sklearn-reference.json';

/** AUC by definition: P(score of a positive > score of a negative) + 0.5 P(tie), over all pairs. */
function pairwiseAuc(scores: number[], positive: boolean[]): number {
  let wins = 0;
  let pairs = 0;
  scores.forEach((s, i) => {
    if (!positive[i]) return;
    scores.forEach((t, j) => {
      if (positive[j]) return;
      pairs++;
      wins += s > t ? 1 : s === t ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

function randomCase(n: number, k: number, seed: number): { y: number[]; p: number[][] } {
  const r = seededRandom(seed);
  const y = Array.from({ length: n }, () => Math.floor(r() * k));
  const p = y.map((t) => {
    // Informative but noisy scores, rounded so ties happen.
    const raw = Array.from({ length: k }, (_, c) => Math.round((r() + (c === t ? 0.6 : 0)) * 10) / 10 + 0.01);
    const s = raw.reduce((a, b) => a + b, 0);
    return raw.map((v) => v / s);
  });
  return { y, p };
}

describe('metrics', () => {
  it('AUC equals the pairwise (Mann-Whitney) definition, ties included', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { y, p } = randomCase(60, 3, seed);
      for (let c = 0; c < 3; c++) {
        const scores = p.map((row) => row[c]!);
        const pos = y.map((t) => t === c);
        expect(rocCurve(scores, pos)!.auc).toBeCloseTo(pairwiseAuc(scores, pos), 12);
      }
    }
    expect(rocCurve([0.1, 0.2], [true, true])).toBeNull();
  });

  it('matches scikit-learn on a recorded case', () => {
    const { y, p, classes } = reference.input;
    const report = evaluate(y, p, classes, { bootstrapSamples: 0 });
    expect(report.accuracy.estimate).toBeCloseTo(reference.expected.accuracy, 12);
    expect(report.balancedAccuracy).toBeCloseTo(reference.expected.balanced_accuracy, 12);
    expect(report.macroAuc!.estimate).toBeCloseTo(reference.expected.macro_auc_ovr, 12);
    expect(report.confusion).toEqual(reference.expected.confusion);
    report.perClass.forEach((c, i) => expect(c.sensitivity).toBeCloseTo(reference.expected.recall[i]!, 12));
  });

  it('confusion matrix, balanced accuracy, sensitivity and specificity on a hand case', () => {
    const y = [0, 0, 0, 1, 1, 2];
    const pred = [0, 0, 1, 1, 2, 2];
    const cm = confusionMatrix(y, pred, 3);
    expect(cm).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    expect(balancedAccuracy(cm)).toBeCloseTo((2 / 3 + 1 / 2 + 1) / 3, 12);
    const probs = pred.map((c) => [0, 1, 2].map((k) => (k === c ? 0.8 : 0.1)));
    const r = evaluate(y, probs, ['a', 'b', 'c'], { bootstrapSamples: 50 });
    expect(r.perClass[1]).toMatchObject({ support: 2, sensitivity: 0.5, specificity: 3 / 4 });
  });

  it('expected calibration error on a hand case', () => {
    // Four cases at confidence 0.9 (3 right, 1 wrong) and two at 0.6 (both right).
    const probs = [
      [0.9, 0.1],
      [0.9, 0.1],
      [0.9, 0.1],
      [0.9, 0.1],
      [0.6, 0.4],
      [0.4, 0.6],
    ];
    const y = [0, 0, 0, 1, 0, 1];
    const { ece, reliability } = calibration(y, probs, 10);
    expect(ece).toBeCloseTo((4 / 6) * Math.abs(0.75 - 0.9) + (2 / 6) * Math.abs(1 - 0.6), 12);
    expect(reliability.filter((b) => b.count > 0).map((b) => b.count)).toEqual([2, 4]);
  });

  it('bootstrap intervals bracket the estimate and are reproducible from the seed', () => {
    const { y, p } = randomCase(200, 4, 7);
    const a = evaluate(y, p, ['A', 'B', 'C', 'D'], { bootstrapSamples: 300, seed: 3 });
    const b = evaluate(y, p, ['A', 'B', 'C', 'D'], { bootstrapSamples: 300, seed: 3 });
    expect(a.macroAuc).toEqual(b.macroAuc);
    expect(a.macroAuc!.low).toBeLessThan(a.macroAuc!.estimate);
    expect(a.macroAuc!.high).toBeGreaterThan(a.macroAuc!.estimate);
    expect(a.macroAuc!.high - a.macroAuc!.low).toBeLessThan(0.2);
    expect(a.accuracy.low).toBeLessThanOrEqual(a.accuracy.estimate);
    expect(a.accuracy.high).toBeGreaterThanOrEqual(a.accuracy.estimate);
  });

  it('the bootstrap gives the intervals of resampling the rows themselves (the definition)', () => {
    // The definition: draw n rows with replacement (same generator), recompute accuracy and macro AUC.
    const naive = (y: number[], p: number[][], k: number, samples: number, seed: number) => {
      const random = seededRandom(seed);
      const accs: number[] = [];
      const aucs: number[] = [];
      for (let s = 0; s < samples; s++) {
        const t: number[] = [];
        const q: number[][] = [];
        for (let i = 0; i < y.length; i++) {
          const j = Math.floor(random() * y.length);
          t.push(y[j]!);
          q.push(p[j]!);
        }
        accs.push(accuracy(t, q.map(argmax)));
        const a = macroAuc(t, q, k);
        if (a !== null) aucs.push(a);
      }
      const pct = (v: number[], f: number) => {
        v.sort((a, b) => a - b);
        const pos = (v.length - 1) * f;
        return v[Math.floor(pos)]! + (v[Math.ceil(pos)]! - v[Math.floor(pos)]!) * (pos - Math.floor(pos));
      };
      return { acc: [pct(accs, 0.025), pct(accs, 0.975)], auc: [pct(aucs, 0.025), pct(aucs, 0.975)] };
    };
    for (const [n, k, seed] of [
      [40, 2, 1],
      [120, 3, 2],
      [15, 5, 3], // small: some resamples miss a class
      [90, 2, 4], // binary with p and 1 - p: one AUC serves both classes
    ] as const) {
      const { y, p } = randomCase(n, k, seed);
      if (seed === 4) p.forEach((row) => (row[1] = 1 - row[0]!));
      const r = evaluate(
        y,
        p,
        Array.from({ length: k }, (_, c) => `c${c}`),
        { bootstrapSamples: 200, seed },
      );
      const want = naive(y, p, k, 200, seed);
      expect([r.accuracy.low, r.accuracy.high]).toEqual(want.acc);
      // AUC summed in integers and divided once: the same value up to rounding
      expect(r.macroAuc!.low).toBeCloseTo(want.auc[0]!, 13);
      expect(r.macroAuc!.high).toBeCloseTo(want.auc[1]!, 13);
      // and the point estimates and curves are those of rocCurve
      for (let c = 0; c < k; c++) {
        expect(r.roc[c]).toEqual(
          rocCurve(
            p.map((row) => row[c]!),
            y.map((t) => t === c),
          ),
        );
      }
    }
  });

  it('bootstraps many rows from typed arrays in one pass per resample, reporting progress', () => {
    // Before: each resample copied and re-sorted the rows (1000 resamples of 10^6 rows ran past 10 minutes).
    const n = 200_000;
    const r = seededRandom(5);
    const y = new Int32Array(n);
    const data = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      y[i] = r() < 0.3 ? 1 : 0;
      const p1 = Math.round(Math.min(1, Math.max(0, (y[i] ? 0.65 : 0.35) + (r() - 0.5) * 0.8)) * 1000) / 1000;
      data[2 * i] = 1 - p1;
      data[2 * i + 1] = p1;
    }
    const seen: number[] = [];
    const rep = evaluate(y, { n, k: 2, data }, ['neg', 'pos'], { bootstrapSamples: 20, seed: 1, onProgress: (d) => seen.push(d) });
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(rep.n).toBe(n);
    expect(rep.macroAuc!.low).toBeLessThan(rep.macroAuc!.estimate);
    expect(rep.macroAuc!.high).toBeGreaterThan(rep.macroAuc!.estimate);
    expect(rep.macroAuc!.high - rep.macroAuc!.low).toBeLessThan(0.02);
  });

  it('refuses more classes than it can hold', () => {
    const k = MAX_CLASSES + 1;
    expect(() => evaluate([0], [new Array<number>(k).fill(1 / k)], Array.from({ length: k }, String))).toThrow(
      `evaluate: ${k} classes; at most ${MAX_CLASSES} are supported`,
    );
  });

  it('refuses mismatched inputs with a clear message', () => {
    expect(() => evaluate([0, 1], [[1, 0]], ['a', 'b'])).toThrow(/2 labels but 1 probability rows/);
    expect(() =>
      evaluate(
        [0, 5],
        [
          [1, 0],
          [0, 1],
        ],
        ['a', 'b'],
      ),
    ).toThrow(/label 5 at row 1/);
  });

  it('combines views by the mean of probabilities per breast and per exam', () => {
    const r = combineViews([
      { laterality: 'R', probabilities: [0.8, 0.2] },
      { laterality: 'R', probabilities: [0.6, 0.4] },
      { laterality: 'L', probabilities: [0.2, 0.8] },
    ]);
    expect(r.breast.R![0]).toBeCloseTo(0.7, 12);
    expect(r.breast.L).toEqual([0.2, 0.8]);
    expect(r.exam[1]).toBeCloseTo((0.2 + 0.4 + 0.8) / 3, 12);
  });
});
