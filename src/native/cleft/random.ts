import { mulberry32 } from '../io/random';

// The seeded PRNG (mulberry32): reproducible splits, shuffles and bootstrap samples from a seed.
export const seededRandom = mulberry32;

/**
 * Bootstrap draws from the same stream as seededRandom(seed): each call to `draw(weight)` draws
 * weight.length rows with replacement (row floor(random() * n), as resampling code would) and
 * leaves in weight how often each was drawn. The generator is inlined: a closure call per draw
 * made a million-row resample three times slower.
 */
export function seededMultiplicities(seed: number): { draw(weight: Int32Array): void } {
  let a = seed >>> 0;
  return {
    draw(weight) {
      const n = weight.length;
      weight.fill(0);
      for (let i = 0; i < n; i++) {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        weight[Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n)]!++;
      }
    },
  };
}

/** Fisher-Yates shuffle of 0..n-1 with the given generator. */
export function shuffledIndices(n: number, random: () => number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx;
}
