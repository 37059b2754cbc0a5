// The cluster bootstrap: resampling patients instead of images. On data where a patient's images
// agree (each patient's four views all right or all wrong), resampling images pretends there are
// four times as many independent cases and narrows the interval; resampling patients does not.
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../../../src/native/cleft/metrics';
import { seededRandom } from '../../../../src/native/cleft/random';

/** 40 patients x 4 images; a patient's images share its label and its (noisy) score. */
function correlated(seed: number) {
  const random = seededRandom(seed);
  const y: number[] = [];
  const probs: number[][] = [];
  const patients: string[] = [];
  for (let p = 0; p < 40; p++) {
    const label = p % 2;
    const score = Math.min(0.99, Math.max(0.01, (label ? 0.62 : 0.38) + (random() - 0.5) * 0.7));
    for (let v = 0; v < 4; v++) {
      y.push(label);
      probs.push([1 - score, score]);
      patients.push(`P${p}`);
    }
  }
  return { y, probs, patients };
}

const width = (i: { low: number; high: number }) => i.high - i.low;

describe('cluster bootstrap', () => {
  it('is at least as wide as the per-image bootstrap on correlated data, for accuracy and AUC, on every seed', () => {
    for (let seed = 0; seed < 5; seed++) {
      const { y, probs, patients } = correlated(seed);
      const perImage = evaluate(y, probs, ['A', 'B'], { bootstrapSamples: 400, seed });
      const perPatient = evaluate(y, probs, ['A', 'B'], { bootstrapSamples: 400, seed, clusters: patients });
      // same point estimates: only the intervals change
      expect(perPatient.accuracy.estimate).toBe(perImage.accuracy.estimate);
      expect(perPatient.macroAuc!.estimate).toBe(perImage.macroAuc!.estimate);
      expect(width(perPatient.accuracy)).toBeGreaterThanOrEqual(width(perImage.accuracy));
      expect(width(perPatient.macroAuc!)).toBeGreaterThanOrEqual(width(perImage.macroAuc!));
      expect(perPatient.bootstrap).toEqual({ samples: 400, seed, clusters: 40 });
      expect(perImage.bootstrap).toEqual({ samples: 400, seed });
    }
  });

  it('is deterministic by seed, and another seed gives other intervals', () => {
    const { y, probs, patients } = correlated(9);
    const run = (seed: number) => evaluate(y, probs, ['A', 'B'], { bootstrapSamples: 200, seed, clusters: patients });
    expect(run(3)).toEqual(run(3));
    expect(run(4).accuracy).not.toEqual(run(3).accuracy);
  });

  it('with one image per patient it draws exactly as the per-image bootstrap', () => {
    const { y, probs } = correlated(2);
    const own = y.map((_, i) => `row${i}`);
    expect(evaluate(y, probs, ['A', 'B'], { bootstrapSamples: 100, seed: 1, clusters: own }).accuracy).toEqual(
      evaluate(y, probs, ['A', 'B'], { bootstrapSamples: 100, seed: 1 }).accuracy,
    );
  });

  it('refuses a cluster key list of the wrong length', () => {
    expect(() =>
      evaluate(
        [0, 1],
        [
          [0.6, 0.4],
          [0.3, 0.7],
        ],
        ['A', 'B'],
        { clusters: ['P1'] },
      ),
    ).toThrow(/1 cluster keys for 2 rows/);
  });
});
