// Mammography hanging: which image goes in which viewport (RCC | LCC over RMLO | LMLO), and
// whether to mirror it so the chest walls meet in the middle of the screen: right-breast images
// with the chest wall on the right of their viewport, left-breast images with it on the left.
import type { InstanceSummary } from '../../../../common/contract';

export type Side = 'left' | 'right';
export type SlotId = 'RCC' | 'LCC' | 'RMLO' | 'LMLO';

export interface Slot {
  id: SlotId;
  laterality: 'R' | 'L';
  view: 'CC' | 'MLO';
  /** Where this image's chest wall belongs on screen. */
  chestWall: Side;
}

/** Reading order: also the order of the 1-4 keys and of per-image auto-advance. */
export const SLOTS: readonly Slot[] = [
  { id: 'RCC', laterality: 'R', view: 'CC', chestWall: 'right' },
  { id: 'LCC', laterality: 'L', view: 'CC', chestWall: 'left' },
  { id: 'RMLO', laterality: 'R', view: 'MLO', chestWall: 'right' },
  { id: 'LMLO', laterality: 'L', view: 'MLO', chestWall: 'left' },
];

/** View positions that can stand in when the standard one is missing, best first. */
const VIEW_FALLBACKS: Record<Slot['view'], string[]> = {
  CC: ['CC', 'XCCL', 'XCCM', 'FB'],
  MLO: ['MLO', 'ML', 'LMO', 'LM', 'SIO'],
};

export type Hanging = Record<SlotId, InstanceSummary | null>;

/**
 * Picks one image per viewport. Among candidates: the standard view before a substitute, FOR
 * PRESENTATION before FOR PROCESSING, then the latest (highest id: a retake is imported later).
 */
export function assignHanging(instances: readonly InstanceSummary[]): Hanging {
  const out = { RCC: null, LCC: null, RMLO: null, LMLO: null } as Hanging;
  const used = new Set<number>();
  for (const slot of SLOTS) {
    const views = VIEW_FALLBACKS[slot.view];
    let best: InstanceSummary | null = null;
    let bestRank: number[] | null = null;
    for (const inst of instances) {
      if (used.has(inst.id)) continue;
      if ((inst.laterality ?? '').trim().toUpperCase() !== slot.laterality) continue;
      const vi = views.indexOf((inst.viewPosition ?? '').trim().toUpperCase());
      if (vi < 0) continue;
      const processing = /PROCESSING/i.test(inst.presentationIntent ?? '') ? 1 : 0;
      const rank = [vi, processing, -inst.id];
      if (!bestRank || lexLess(rank, bestRank)) {
        best = inst;
        bestRank = rank;
      }
    }
    if (best) {
      out[slot.id] = best;
      used.add(best.id);
    }
  }
  return out;
}

function lexLess(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/**
 * The chest-wall side of an image from PatientOrientation (0020,0020): its first value is the
 * direction of the rows (increasing column). Towards anterior (A) means the chest wall (posterior)
 * is at column 0, on the left; towards posterior (P) puts it on the right.
 */
export function chestWallFromOrientation(patientOrientation: string | null | undefined): Side | null {
  const first = (patientOrientation ?? '').split('\\')[0]?.trim().toUpperCase() ?? '';
  if (first.startsWith('A')) return 'left';
  if (first.startsWith('P')) return 'right';
  return null;
}

/**
 * The chest-wall side from the pixels: a mammogram puts tissue against the chest-wall edge and air
 * (background) at the other. Compares the mean brightness of the left and right 10% of columns
 * (MONOCHROME1 inverted first); null when they are too close to tell.
 */
export function chestWallFromPixels(
  pixels: ArrayLike<number>,
  rows: number,
  columns: number,
  opts: { monochrome1?: boolean; samples?: number } = {},
): Side | null {
  const samples = opts.samples ?? 1;
  const band = Math.max(1, Math.floor(columns * 0.1));
  const rowStep = Math.max(1, Math.floor(rows / 512));
  let left = 0;
  let right = 0;
  let min = Infinity;
  let max = -Infinity;
  let count = 0;
  for (let y = 0; y < rows; y += rowStep) {
    const base = y * columns;
    for (let x = 0; x < band; x++) {
      const a = pixels[(base + x) * samples]!;
      const b = pixels[(base + columns - 1 - x) * samples]!;
      left += a;
      right += b;
      if (a < min) min = a;
      if (b < min) min = b;
      if (a > max) max = a;
      if (b > max) max = b;
    }
    count += band;
  }
  if (count === 0 || !(max > min)) return null;
  let l = left / count;
  let r = right / count;
  if (opts.monochrome1) {
    l = max + min - l;
    r = max + min - r;
  }
  // Less than 2% of the value range apart: no side stands out.
  if (Math.abs(l - r) < 0.02 * (max - min)) return null;
  return l > r ? 'left' : 'right';
}

/** Whether to mirror an image so its chest wall lands where its viewport wants it. */
export function needsFlip(detected: Side | null, wanted: Side): boolean {
  return detected !== null && detected !== wanted;
}

/** The viewport a breast's laterality and a view name, e.g. ('R', 'MLO') -> RMLO. */
export function slotOf(laterality: string | null, view: string | null): Slot | null {
  return SLOTS.find((s) => s.laterality === laterality && VIEW_FALLBACKS[s.view].includes((view ?? '').toUpperCase())) ?? null;
}
