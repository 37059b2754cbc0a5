// Combines per-view probabilities into per-breast and per-exam results by the mean of the views'
// probabilities (stated in the UI), the simplest rule that needs no training.

export interface ViewProbabilities {
  laterality: 'L' | 'R' | null;
  probabilities: number[];
}

export function meanProbabilities(rows: number[][]): number[] {
  if (rows.length === 0) throw new Error('meanProbabilities: no views to combine');
  const k = rows[0]!.length;
  const out = new Array<number>(k).fill(0);
  for (const r of rows) {
    if (r.length !== k) throw new Error(`meanProbabilities: views disagree on the number of classes (${k} vs ${r.length})`);
    r.forEach((p, i) => (out[i]! += p / rows.length));
  }
  return out;
}

export function combineViews(views: ViewProbabilities[]): { breast: Partial<Record<'L' | 'R', number[]>>; exam: number[] } {
  const breast: Partial<Record<'L' | 'R', number[]>> = {};
  for (const side of ['L', 'R'] as const) {
    const rows = views.filter((v) => v.laterality === side).map((v) => v.probabilities);
    if (rows.length) breast[side] = meanProbabilities(rows);
  }
  return { breast, exam: meanProbabilities(views.map((v) => v.probabilities)) };
}
