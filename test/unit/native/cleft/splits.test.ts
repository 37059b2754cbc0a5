// Splits by group: every row of a group on one side, groups stratified by their label, seeded.
import { describe, expect, it } from 'vitest';
import { groupLabel, groupStratifiedSplit, groupsInSeveralParts, trainValSplit } from '../../../../src/native/cleft/splits';

describe('trainValSplit', () => {
  it('without groups holds out the fraction of each class, seeded, and every row lands once', () => {
    const labels = [...Array<number>(30).fill(0), ...Array<number>(10).fill(1), 2];
    const a = trainValSplit(labels, 0.2, 7);
    expect(a.val.filter((i) => labels[i] === 0)).toHaveLength(6);
    expect(a.val.filter((i) => labels[i] === 1)).toHaveLength(2);
    expect(a.val.filter((i) => labels[i] === 2)).toHaveLength(0); // a single example stays in training
    expect([...a.train, ...a.val].sort((x, y) => x - y)).toEqual(labels.map((_, i) => i));
    expect(trainValSplit(labels, 0.2, 7)).toEqual(a);
    expect(trainValSplit(labels, 0.2, 8).val).not.toEqual(a.val);
    expect(trainValSplit(labels, 0, 7)).toEqual({ train: labels.map((_, i) => i), val: [] });
  });

  it('keeps the rows of a group together whatever the seed', () => {
    // 20 patients x 4 views, labels by patient
    const groups = Array.from({ length: 80 }, (_, i) => `P${Math.floor(i / 4)}`);
    const labels = groups.map((g) => Number(g.slice(1)) % 2);
    for (let seed = 0; seed < 25; seed++) {
      const s = trainValSplit(labels, 0.25, seed, groups);
      const valGroups = new Set(s.val.map((i) => groups[i]));
      expect(s.train.some((i) => valGroups.has(groups[i]!))).toBe(false);
      expect(valGroups.size).toBe(6); // round(10 × 0.25) = 3 patients per class
    }
  });
});

describe('groupStratifiedSplit', () => {
  it('stratifies at the group level: each label keeps its share of groups in every part', () => {
    // 40 groups of label 0 (3 rows each), 10 of label 1 (1 row each)
    const groups: string[] = [];
    const labels: number[] = [];
    for (let g = 0; g < 50; g++)
      for (let k = 0; k < (g < 40 ? 3 : 1); k++) {
        groups.push(`g${g}`);
        labels.push(g < 40 ? 0 : 1);
      }
    const s = groupStratifiedSplit(groups, labels, { val: 0.1, test: 0.2 }, 3);
    const groupsIn = (rows: number[], y: number) => new Set(rows.filter((i) => labels[i] === y).map((i) => groups[i])).size;
    expect([groupsIn(s.train, 0), groupsIn(s.val, 0), groupsIn(s.test, 0)]).toEqual([28, 4, 8]);
    expect([groupsIn(s.train, 1), groupsIn(s.val, 1), groupsIn(s.test, 1)]).toEqual([7, 1, 2]);
    expect([...s.train, ...s.val, ...s.test].sort((a, b) => a - b)).toEqual(groups.map((_, i) => i));
    expect(groupsInSeveralParts(rowsByPart(s, groups))).toEqual([]);
  });

  it('a group is labelled by its most frequent label, and training keeps one group of a small stratum', () => {
    expect(groupLabel([1, 2, 2, null])).toBe(2);
    expect(groupLabel([3, 1])).toBe(1);
    expect(groupLabel([null])).toBeNull();
    const s = groupStratifiedSplit(['a', 'b'], [0, 0], { val: 0.3, test: 0.3 }, 0);
    expect(s.train).toHaveLength(1);
    expect(s.val).toHaveLength(1);
    expect(s.test).toHaveLength(0);
    expect(() => groupStratifiedSplit(['a'], [0], { val: 0.5, test: 0.5 }, 0)).toThrow(/nothing to train/);
  });
});

describe('groupsInSeveralParts', () => {
  it('names each group found in two parts with those parts', () => {
    expect(
      groupsInSeveralParts([
        { group: 'P2', part: 'test' },
        { group: 'P1', part: 'train' },
        { group: 'P2', part: 'train' },
        { group: 'P1', part: 'train' },
      ]),
    ).toEqual([{ group: 'P2', parts: ['train', 'test'] }]);
  });
});

function rowsByPart(s: { train: number[]; val: number[]; test: number[] }, groups: string[]) {
  return (['train', 'val', 'test'] as const).flatMap((part) => s[part].map((i) => ({ group: groups[i]!, part })));
}
