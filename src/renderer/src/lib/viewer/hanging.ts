// Mammography hanging: which image goes in which viewport (RCC | LCC over RMLO | LMLO), and
// whether to mirror it so the chest walls meet in the middle of the screen: right-breast images
// with the chest wall on the right of their viewport, left-breast images with it on the left.
// Which edge an image's chest wall is on is the model pipeline's rule: src/common/imaging/chest-wall.ts.
import type { FrameMeta } from '../../../../common/binary';
import type { InstanceSummary } from '../../../../common/contract';
import { type Side, edgeBands, findChestWall } from '../../../../common/imaging/chest-wall';
import { MAMMO_VIEW_SUBSTITUTES } from '../../../../common/imaging/mammo-view';

export type { Side };
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
const VIEW_FALLBACKS: Record<Slot['view'], readonly string[]> = MAMMO_VIEW_SUBSTITUTES;

export type Hanging = Record<SlotId, InstanceSummary | null>;

/**
 * Picks one image per viewport, by each image's laterality and view as the index read them
 * (ImageLaterality / ViewPosition, else their codes: common/imaging/mammo-view.ts). Among
 * candidates: the standard view before a substitute, FOR PRESENTATION before FOR PROCESSING, then
 * the latest (highest id: a retake is imported later).
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
 * The chest-wall side of a decoded frame by the model pipeline's rule: PatientOrientation, else
 * laterality, else the pixels (stored values; MONOCHROME1 tissue is dark). Null when nothing
 * tells, and the image is then shown as stored: a near-tie is not worth a mirror.
 */
export function chestWallOfFrame(
  meta: Pick<FrameMeta, 'patientOrientation' | 'laterality' | 'photometric' | 'rows' | 'columns'>,
  stored: ArrayLike<number>,
): Side | null {
  const found = findChestWall({
    patientOrientation: meta.patientOrientation,
    laterality: meta.laterality,
    bands: () => edgeBands({ width: meta.columns, height: meta.rows, data: stored }),
    tissueDark: meta.photometric === 'MONOCHROME1',
  });
  return found?.side ?? null;
}

/** The viewport a breast's laterality and a view name, e.g. ('R', 'MLO') -> RMLO. */
export function slotOf(laterality: string | null, view: string | null): Slot | null {
  return SLOTS.find((s) => s.laterality === laterality && VIEW_FALLBACKS[s.view].includes((view ?? '').toUpperCase())) ?? null;
}
