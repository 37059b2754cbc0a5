// Labeling rules the viewer's panel follows: which key means which class, what one label is
// attached to (image, breast or exam) and where auto-advance goes next.
import type { Label, LabelScope, Task } from '../../../common/contract';
import { SLOTS, type Hanging, type SlotId } from './viewer/hanging';

export interface Target {
  taskId: number;
  studyId: number;
  scope: LabelScope;
  instanceId?: number;
  laterality?: 'L' | 'R';
}

/**
 * Key for each class: when every class is named by one digit (BI-RADS 0-6) the digit is the key,
 * otherwise 1..9 in order (density A-D -> 1-4).
 */
export function classKeys(task: Pick<Task, 'classes'>): Map<string, string> {
  const keys = new Map<string, string>();
  const digits = task.classes.every((c) => /^\d$/.test(c.name));
  task.classes.forEach((c, i) => {
    if (digits) keys.set(c.name, c.name);
    else if (i < 9) keys.set(String(i + 1), c.name);
  });
  return keys;
}

/**
 * The task to show when the user has not chosen one in this window: the one they used last (if it
 * still exists), else the one with the most labels (the demo's density, not the first template), else
 * the first. `labelCounts` holds each task's number of labels (tasks missing from it count 0).
 */
export function defaultTaskId(
  tasks: readonly Pick<Task, 'id'>[],
  lastUsed: number | null,
  labelCounts: ReadonlyMap<number, number>,
): number | null {
  if (lastUsed !== null && tasks.some((t) => t.id === lastUsed)) return lastUsed;
  let best: number | null = null;
  let most = 0;
  for (const t of tasks) {
    const n = labelCounts.get(t.id) ?? 0;
    if (n > most) [best, most] = [t.id, n];
  }
  return best ?? tasks[0]?.id ?? null;
}

/** The key that picks `className`, for the button's hint. */
export function keyFor(task: Pick<Task, 'classes'>, className: string): string | null {
  for (const [key, name] of classKeys(task)) if (name === className) return key;
  return null;
}

export function sameTarget(a: Target, b: Pick<Label, 'scope' | 'instanceId' | 'laterality'>): boolean {
  if (a.scope !== b.scope) return false;
  if (a.scope === 'image') return a.instanceId === b.instanceId;
  if (a.scope === 'breast') return a.laterality === b.laterality;
  return true;
}

export function targetOfLabel(label: Label): Target {
  return {
    taskId: label.taskId,
    studyId: label.studyId,
    scope: label.scope,
    ...(label.instanceId !== null ? { instanceId: label.instanceId } : {}),
    ...(label.laterality !== null ? { laterality: label.laterality } : {}),
  };
}

/** Where the reader is inside a study, as far as labeling cares. */
export interface Position {
  slot: SlotId;
  laterality: 'L' | 'R';
}

export type Advance = { kind: 'stay'; position: Position } | { kind: 'next-study' };

/**
 * After labeling at `position` with `scope`: breast R -> breast L -> next study; image ->
 * the next view present in reading order (RCC, LCC, RMLO, LMLO) -> next study; exam -> next study.
 */
export function nextPosition(scope: LabelScope, position: Position, hanging: Hanging): Advance {
  if (scope === 'breast') {
    if (position.laterality === 'R') {
      const slot = position.slot.endsWith('MLO') ? 'LMLO' : 'LCC';
      return { kind: 'stay', position: { slot, laterality: 'L' } };
    }
    return { kind: 'next-study' };
  }
  if (scope === 'image') {
    const index = SLOTS.findIndex((s) => s.id === position.slot);
    for (const s of SLOTS.slice(index + 1)) if (hanging[s.id]) return { kind: 'stay', position: { slot: s.id, laterality: s.laterality } };
    return { kind: 'next-study' };
  }
  return { kind: 'next-study' };
}

/** Where a study starts for labeling: the first view present (RCC normally), right breast. */
export function firstPosition(hanging: Hanging): Position {
  const s = SLOTS.find((x) => hanging[x.id]) ?? SLOTS[0]!;
  return { slot: s.id, laterality: s.laterality };
}
