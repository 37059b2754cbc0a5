/** Learning-rate schedules, data order and derived seeds: pure functions of (seed, step, position). */
import { describe, expect, it } from 'vitest';
import { DataOrder, deriveSeed, epochPermutation, learningRate } from '../../../../src/native/training/index';

describe('learningRate', () => {
  it('constant', () => {
    expect(learningRate({ kind: 'constant', lr: 0.1 }, 1)).toBe(0.1);
    expect(learningRate({ kind: 'constant', lr: 0.1 }, 1000)).toBe(0.1);
  });
  it('linear warmup, then cosine from lr to minLr at totalSteps, then flat', () => {
    const s = { kind: 'cosine' as const, lr: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 };
    expect(learningRate(s, 1)).toBeCloseTo(0.1, 12);
    expect(learningRate(s, 5)).toBeCloseTo(0.5, 12);
    expect(learningRate(s, 10)).toBeCloseTo(1, 12);
    expect(learningRate(s, 60)).toBeCloseTo(0.55, 12); // halfway: min + (lr-min)/2
    expect(learningRate(s, 110)).toBeCloseTo(0.1, 12);
    expect(learningRate(s, 500)).toBeCloseTo(0.1, 12);
    expect(learningRate({ kind: 'cosine', lr: 1, warmupSteps: 0, totalSteps: 4 }, 2)).toBeCloseTo(0.5, 12);
  });
});

describe('data order and seeds', () => {
  it('epoch permutations are permutations, deterministic per (seed, epoch), different across epochs and seeds', () => {
    const p = epochPermutation(100, 7, 0);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect([...epochPermutation(100, 7, 0)]).toEqual([...p]);
    expect([...epochPermutation(100, 7, 1)]).not.toEqual([...p]);
    expect([...epochPermutation(100, 8, 0)]).not.toEqual([...p]);
  });
  it('DataOrder cuts each epoch into floor(n/b) micro-batches and is random access', () => {
    const o = new DataOrder(10, 3, 1);
    expect(o.perEpoch).toBe(3);
    const epoch0 = [0, 1, 2].flatMap((i) => o.indices(i));
    expect(new Set(epoch0).size).toBe(9);
    const later = o.indices(4); // epoch 1, second batch
    const fresh = new DataOrder(10, 3, 1);
    expect(fresh.indices(4)).toEqual(later);
    expect(fresh.indices(1)).toEqual(o.indices(1));
    expect(new DataOrder(5, 2, 1, false).indices(3)).toEqual([2, 3]);
    expect(() => new DataOrder(2, 3, 1)).toThrow(/cannot make a batch of 3/);
  });
  it('derived seeds are non-negative int64 values, distinct per (seed, step, micro)', () => {
    const seen = new Set<bigint>();
    for (let step = 1; step <= 50; step++) for (let j = 0; j < 4; j++) seen.add(deriveSeed(3, step, j));
    expect(seen.size).toBe(200);
    for (const s of seen) expect(s >= 0n && s < 1n << 62n).toBe(true);
    expect(deriveSeed(3, 1, 0)).toBe(deriveSeed(3, 1, 0));
    expect(deriveSeed(4, 1, 0)).not.toBe(deriveSeed(3, 1, 0));
  });
});
