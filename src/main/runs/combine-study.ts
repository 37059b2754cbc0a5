// A study's per-breast and per-exam probabilities from its views' (combineViews: the mean), with the
// views taken in SOP Instance UID order: floating-point sums depend on their order, and this order
// is the study's own, not the order a library happened to index its files in. So the classify job,
// a sharded classification and its merge give the same bits for the same images in any library.
import { combineViews } from '../../native/cleft/aggregate';

export interface StudyView {
  sopInstanceUid: string;
  laterality: 'L' | 'R' | null;
  probabilities: number[];
}

const byUid = (a: StudyView, b: StudyView): number =>
  a.sopInstanceUid < b.sopInstanceUid ? -1 : a.sopInstanceUid > b.sopInstanceUid ? 1 : 0;

export function combineStudy(views: readonly StudyView[]): ReturnType<typeof combineViews> {
  return combineViews([...views].sort(byUid).map((v) => ({ laterality: v.laterality, probabilities: v.probabilities })));
}
