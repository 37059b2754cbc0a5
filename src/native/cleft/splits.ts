// Train / validation / test splits by group (a patient, else a study): every row of a group lands
// in one part, so the CC and MLO of one breast and a patient's other studies never sit on both
// sides. Groups are stratified by their label (the most frequent label of their rows). Pure: the
// library's splits (src/main/library/splits.ts) and every training method use it.
import { seededRandom, shuffledIndices } from './random';

export const SPLIT_PARTS = ['train', 'val', 'test'] as const;
export type SplitPart = (typeof SPLIT_PARTS)[number];

export interface RowSplit {
  train: number[];
  val: number[];
  test: number[];
}

/** Fractions of groups sent to validation and test (the rest trains). */
export interface HeldOutFractions {
  val: number;
  test: number;
}

/** The label of a group: its most frequent row label (ties: the lowest), null when none is labelled. */
export function groupLabel(labels: readonly (number | null)[]): number | null {
  const counts = new Map<number, number>();
  for (const y of labels) if (y !== null) counts.set(y, (counts.get(y) ?? 0) + 1);
  let best: number | null = null;
  for (const [y, n] of counts) if (best === null || n > counts.get(best)! || (n === counts.get(best)! && y < best)) best = y;
  return best;
}

/**
 * Seeded split of rows by group, stratified by group label: in each stratum (groups of one label)
 * round(n × fraction) groups go to validation and to test, at least one each when the stratum has
 * enough groups for training to keep one. With every row its own group this is the classic
 * per-example stratified split (same order, same seed).
 */
export function groupStratifiedSplit(
  groups: readonly (string | number)[],
  labels: readonly (number | null)[],
  fractions: HeldOutFractions,
  seed: number,
): RowSplit {
  if (groups.length !== labels.length) throw new Error(`groups has ${groups.length} entries for ${labels.length} rows`);
  for (const [k, f] of Object.entries(fractions))
    if (!(f >= 0 && f < 1)) throw new Error(`the ${k} fraction must be at least 0 and below 1, got ${f}`);
  if (fractions.val + fractions.test >= 1) throw new Error(`validation and test fractions leave nothing to train on`);
  // groups in order of their first row, with their rows and label
  const rowsOf = new Map<string | number, number[]>();
  groups.forEach((g, i) => {
    const rows = rowsOf.get(g);
    if (rows) rows.push(i);
    else rowsOf.set(g, [i]);
  });
  const byStratum = new Map<number, (string | number)[]>();
  for (const [g, rows] of rowsOf) {
    const y = groupLabel(rows.map((r) => labels[r]!)) ?? Number.POSITIVE_INFINITY;
    byStratum.set(y, [...(byStratum.get(y) ?? []), g]);
  }
  const rand = seededRandom(seed ^ 0x5eed);
  const out: RowSplit = { train: [], val: [], test: [] };
  for (const y of [...byStratum.keys()].sort((a, b) => a - b)) {
    const gs = byStratum.get(y)!;
    const order = shuffledIndices(gs.length, rand).map((k) => gs[k]!);
    const n = order.length;
    let nVal = fractions.val > 0 && n >= 2 ? Math.max(1, Math.round(n * fractions.val)) : 0;
    let nTest = fractions.test > 0 && n >= 2 ? Math.max(1, Math.round(n * fractions.test)) : 0;
    // training keeps at least one group of the stratum: test gives way first
    while (nVal + nTest >= n && nTest > 0) nTest--;
    while (nVal + nTest >= n && nVal > 0) nVal--;
    order.forEach((g, k) => {
      const part = k < nVal ? out.val : k < nVal + nTest ? out.test : out.train;
      part.push(...rowsOf.get(g)!);
    });
  }
  for (const p of SPLIT_PARTS) out[p].sort((a, b) => a - b);
  return out;
}

/** Train / validation rows by group (default: every row its own group), no test part. */
export function trainValSplit(
  labels: readonly number[],
  valFraction: number,
  seed: number,
  groups: readonly (string | number)[] | null = null,
): { train: number[]; val: number[] } {
  if (valFraction <= 0) return { train: labels.map((_, i) => i), val: [] };
  const s = groupStratifiedSplit(groups ?? labels.map((_, i) => i), labels, { val: valFraction, test: 0 }, seed);
  return { train: s.train, val: s.val };
}

/** Groups whose rows sit in more than one part, with those parts (in train, val, test order). */
export function groupsInSeveralParts(rows: readonly { group: string; part: SplitPart }[]): { group: string; parts: SplitPart[] }[] {
  const parts = new Map<string, Set<SplitPart>>();
  for (const r of rows) parts.set(r.group, (parts.get(r.group) ?? new Set()).add(r.part));
  return [...parts]
    .filter(([, s]) => s.size > 1)
    .map(([group, s]) => ({ group, parts: SPLIT_PARTS.filter((p) => s.has(p)) }))
    .sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
}
