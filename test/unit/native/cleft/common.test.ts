// Training lengths in epochs and the stratified split they are counted on.
import { describe, it, expect } from 'vitest';
import { stepsForEpochs, stratifiedSplit } from '../../../../src/native/cleft/common';

describe('stepsForEpochs', () => {
  it('gives the updates that show the training rows the asked number of times', () => {
    expect(stepsForEpochs(1, 76, 32)).toBe(3); // 32 + 32 + 12
    expect(stepsForEpochs(5, 76, 32)).toBe(12); // 380 rows / 32 = 11.9
    expect(stepsForEpochs(2, 64, 32)).toBe(4); // exact: no extra update
    expect(stepsForEpochs(0.1, 10, 32)).toBe(1); // at least one
    expect(stepsForEpochs(3, 48, 8 * 2)).toBe(9); // batch 8 with accumulation 2
  });
  it('refuses lengths it cannot turn into updates', () => {
    expect(() => stepsForEpochs(0, 10, 4)).toThrow(/0 epochs/);
    expect(() => stepsForEpochs(1, 0, 4)).toThrow(/0 rows/);
  });
});

describe('stratifiedSplit', () => {
  it('holds out the fraction of each class, seeded, and every row lands once', () => {
    const labels = [...Array(30).fill(0), ...Array(10).fill(1), 2];
    const a = stratifiedSplit(labels, 0.2, 7);
    expect(a.val.filter((i) => labels[i] === 0)).toHaveLength(6);
    expect(a.val.filter((i) => labels[i] === 1)).toHaveLength(2);
    expect(a.val.filter((i) => labels[i] === 2)).toHaveLength(0); // a single example stays in training
    expect([...a.train, ...a.val].sort((x, y) => x - y)).toEqual(labels.map((_, i) => i));
    expect(stratifiedSplit(labels, 0.2, 7)).toEqual(a);
    expect(stratifiedSplit(labels, 0.2, 8).val).not.toEqual(a.val);
    expect(stratifiedSplit(labels, 0, 7)).toEqual({ train: labels.map((_, i) => i), val: [] });
  });
});
