// Training lengths in epochs and the stratified split they are counted on.
import { describe, it, expect } from 'vitest';
import { stepsForEpochs } from '../../../../src/native/cleft/common';

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
