// The prior exam for a current|prior hanging: the most recent earlier study of the same patient in
// the library. Pure, so the choice is tested without a page.
import type { StudySummary } from '../../../../common/contract';

type Dated = Pick<StudySummary, 'id' | 'patientId' | 'studyDate'>;

/**
 * The latest study of `current.patientId` dated before `current` (StudyDate, YYYYMMDD). Studies
 * without a date cannot be ordered against the current one and are never offered as its prior.
 */
export function pickPrior<T extends Dated>(current: Dated, candidates: readonly T[]): T | null {
  const date = current.studyDate;
  if (!date) return null;
  let best: T | null = null;
  for (const c of candidates) {
    if (c.id === current.id || c.patientId !== current.patientId || !c.studyDate || c.studyDate >= date) continue;
    if (!best || c.studyDate > best.studyDate!) best = c;
  }
  return best;
}
