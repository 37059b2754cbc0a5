// Labeling rules: class keys, targets and where auto-advance goes.
import { describe, expect, it } from 'vitest';
import type { Label } from '../../../src/common/contract';
import { classKeys, defaultTaskId, firstPosition, keyFor, nextPosition, sameTarget } from '../../../src/renderer/src/lib/labeling';
import type { Hanging } from '../../../src/renderer/src/lib/viewer/hanging';

const cls = (names: string[]) => ({ classes: names.map((name) => ({ name, label: name, prompts: ['x'] })) });
const some = { id: 1 } as never;
const full: Hanging = { RCC: some, LCC: some, RMLO: some, LMLO: some };

describe('class keys', () => {
  it('numbers classes 1..N, except digit-named classes (BI-RADS) which keep their digit', () => {
    expect([...classKeys(cls(['A', 'B', 'C', 'D']))]).toEqual([
      ['1', 'A'],
      ['2', 'B'],
      ['3', 'C'],
      ['4', 'D'],
    ]);
    const birads = cls(['0', '1', '2', '3', '4', '5', '6']);
    expect(classKeys(birads).get('0')).toBe('0');
    expect(classKeys(birads).get('6')).toBe('6');
    expect(keyFor(birads, '4')).toBe('4');
    expect(keyFor(cls(['A', 'B']), 'B')).toBe('2');
    expect(classKeys(cls(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'])).size).toBe(9);
  });
});

describe('auto-advance', () => {
  it('breast: right then left then the next study', () => {
    expect(nextPosition('breast', { slot: 'RCC', laterality: 'R' }, full)).toEqual({
      kind: 'stay',
      position: { slot: 'LCC', laterality: 'L' },
    });
    expect(nextPosition('breast', { slot: 'RMLO', laterality: 'R' }, full)).toEqual({
      kind: 'stay',
      position: { slot: 'LMLO', laterality: 'L' },
    });
    expect(nextPosition('breast', { slot: 'LCC', laterality: 'L' }, full)).toEqual({ kind: 'next-study' });
  });

  it('image: the next view present in reading order, then the next study; exam: next study', () => {
    const partial: Hanging = { RCC: some, LCC: null, RMLO: some, LMLO: null };
    expect(nextPosition('image', { slot: 'RCC', laterality: 'R' }, full)).toEqual({
      kind: 'stay',
      position: { slot: 'LCC', laterality: 'L' },
    });
    expect(nextPosition('image', { slot: 'RCC', laterality: 'R' }, partial)).toEqual({
      kind: 'stay',
      position: { slot: 'RMLO', laterality: 'R' },
    });
    expect(nextPosition('image', { slot: 'RMLO', laterality: 'R' }, partial)).toEqual({ kind: 'next-study' });
    expect(nextPosition('exam', { slot: 'RCC', laterality: 'R' }, full)).toEqual({ kind: 'next-study' });
    expect(firstPosition({ RCC: null, LCC: some, RMLO: null, LMLO: null })).toEqual({ slot: 'LCC', laterality: 'L' });
  });
});

describe('targets', () => {
  const label = (over: Partial<Label>): Label => ({
    id: 1,
    taskId: 1,
    studyId: 1,
    scope: 'breast',
    instanceId: null,
    laterality: 'R',
    className: 'A',
    annotator: 'x',
    createdAt: '',
    ...over,
  });
  it('match by scope and by laterality or image', () => {
    expect(sameTarget({ taskId: 1, studyId: 1, scope: 'breast', laterality: 'R' }, label({}))).toBe(true);
    expect(sameTarget({ taskId: 1, studyId: 1, scope: 'breast', laterality: 'L' }, label({}))).toBe(false);
    expect(
      sameTarget({ taskId: 1, studyId: 1, scope: 'image', instanceId: 5 }, label({ scope: 'image', instanceId: 5, laterality: null })),
    ).toBe(true);
    expect(sameTarget({ taskId: 1, studyId: 1, scope: 'exam' }, label({ scope: 'exam', laterality: null }))).toBe(true);
    expect(sameTarget({ taskId: 1, studyId: 1, scope: 'exam' }, label({}))).toBe(false);
  });
});

describe('the task in view by default', () => {
  // Built-in tasks list BI-RADS first; the demo labels density.
  const tasks = [{ id: 1 }, { id: 2 }, { id: 3 }];

  it("is the user's last task while it exists", () => {
    expect(defaultTaskId(tasks, 3, new Map([[2, 40]]))).toBe(3);
    expect(defaultTaskId(tasks, 9, new Map([[2, 40]]))).toBe(2); // deleted since: by labels
  });

  it('else the task with the most labels, else the first', () => {
    expect(
      defaultTaskId(
        tasks,
        null,
        new Map([
          [1, 0],
          [2, 40],
          [3, 7],
        ]),
      ),
    ).toBe(2);
    expect(
      defaultTaskId(
        tasks,
        null,
        new Map([
          [1, 5],
          [2, 5],
        ]),
      ),
    ).toBe(1); // a tie keeps list order
    expect(defaultTaskId(tasks, null, new Map())).toBe(1);
    expect(defaultTaskId([], null, new Map())).toBeNull();
  });
});
