// Which vertical edge of a mammogram the chest wall touches: one rule for the viewer's hanging and
// the model pipeline's flip, so both agree on which way an image faces.
//   1. PatientOrientation (0020,0020): its first value is the direction of the rows; towards
//      posterior (P) puts the chest wall on the right, towards anterior (A) on the left. The file
//      says how its pixels lie, so this wins.
//   2. Laterality (breastSideOf in mammo-view.ts: ImageLaterality, else Laterality, else their
//      codes): the standard storage of a mammogram, as it is hung, puts a right breast's chest wall
//      on the right edge and a left breast's on the left.
//   3. The pixels: tissue lies against the chest-wall edge and air at the other, so the outer
//      quarter of columns on that side carries more intensity. Undecided when the two quarters are
//      within a margin of each other.
// Header facts come first: they do not depend on how the pixels are windowed or how far they are
// reduced, so the viewer (stored values of a reduced frame) and the model (values after its
// intensity stage) cannot part ways on them, and a burned-in label or an implant cannot mislead
// them. Pure functions over numbers and typed arrays: no DOM, no Node.

export type Side = 'left' | 'right';
export type ChestWallSource = 'orientation' | 'laterality' | 'image';

export interface ChestWall {
  side: Side;
  source: ChestWallSource;
}

/** From PatientOrientation, as its values (["P", "L"]) or as written ("P\\L"); null when it says nothing. */
export function chestWallFromOrientation(patientOrientation: string | readonly string[] | null | undefined): Side | null {
  const values = typeof patientOrientation === 'string' ? patientOrientation.split('\\') : (patientOrientation ?? []);
  const rows = (values[0] ?? '').trim().toUpperCase();
  if (rows.startsWith('P')) return 'right';
  if (rows.startsWith('A')) return 'left';
  return null;
}

/** From the breast's laterality by the standard storage (R: chest wall right, L: left); else null. */
export function chestWallFromLaterality(laterality: string | null | undefined): Side | null {
  const v = (laterality ?? '').trim().toUpperCase();
  return v === 'R' ? 'right' : v === 'L' ? 'left' : null;
}

export interface HeaderFacts {
  patientOrientation: string | readonly string[] | null | undefined;
  /** The breast side (breastSideOf in mammo-view.ts: ImageLaterality, else Laterality, else their codes). */
  laterality: string | null | undefined;
}

/** Steps 1 and 2 of the rule: the side the header gives, and which field gave it. */
export function chestWallFromHeader(h: HeaderFacts): ChestWall | null {
  const fromOrientation = chestWallFromOrientation(h.patientOrientation);
  if (fromOrientation) return { side: fromOrientation, source: 'orientation' };
  const fromLaterality = chestWallFromLaterality(h.laterality);
  if (fromLaterality) return { side: fromLaterality, source: 'laterality' };
  return null;
}

/** Intensity sums of the outer quarter of columns on each side, and the extremes seen there. */
export interface EdgeBands {
  left: number;
  right: number;
  /** Values summed on each side. */
  count: number;
  min: number;
  max: number;
}

/**
 * An image for edgeBands: row-major, channels interleaved (the first is read). With `lut`, the
 * value of a pixel is lut[data[i] - lo] (stored values seen through an intensity table).
 */
export interface BandImage {
  width: number;
  height: number;
  channels?: number;
  data: ArrayLike<number>;
  lut?: ArrayLike<number>;
  lo?: number;
}

/** Width of each band: the outer quarter of the columns (at least one). */
export function bandWidth(columns: number): number {
  return Math.max(1, Math.floor(columns / 4));
}

/**
 * The sums over every row of the outer quarter of columns at each edge. A quarter is wide enough
 * that a label burned in near the air-side edge weighs little against a band of tissue.
 */
export function edgeBands(img: BandImage): EdgeBands {
  const { width: W, height: H, data } = img;
  const c = img.channels ?? 1;
  const q = bandWidth(W);
  let l = 0;
  let r = 0;
  let min = Infinity;
  let max = -Infinity;
  // Each sum adds in the same order (row by row, outside in) whichever way values are read.
  if (img.lut) {
    const { lut } = img;
    const lo = img.lo ?? 0;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < q; x++) {
        const a = lut[data[(y * W + x) * c]! - lo]!;
        const b = lut[data[(y * W + W - 1 - x) * c]! - lo]!;
        l += a;
        r += b;
        if (a < min) min = a;
        if (b < min) min = b;
        if (a > max) max = a;
        if (b > max) max = b;
      }
  } else {
    for (let y = 0; y < H; y++)
      for (let x = 0; x < q; x++) {
        const a = data[(y * W + x) * c]!;
        const b = data[(y * W + W - 1 - x) * c]!;
        l += a;
        r += b;
        if (a < min) min = a;
        if (b < min) min = b;
        if (a > max) max = a;
        if (b > max) max = b;
      }
  }
  return { left: l, right: r, count: H * q, min, max };
}

/** Band means closer than this fraction of the band's value range tell no side apart. */
export const UNDECIDED_MARGIN = 0.02;

export interface PixelRuleOptions {
  /** Tissue is darker than air (MONOCHROME1 values not inverted): the lighter band is the chest wall. */
  tissueDark?: boolean;
  /** Undecided margin, a fraction of the value range (default UNDECIDED_MARGIN). */
  margin?: number;
}

/** Step 3 of the rule: the brighter band (tissue) is the chest wall; null within the margin. */
export function chestWallFromBands(b: EdgeBands, opts: PixelRuleOptions = {}): Side | null {
  const margin = opts.margin ?? UNDECIDED_MARGIN;
  const range = b.max > b.min ? b.max - b.min : 0;
  // Sums over the same number of values compare as their means do (|L - R| / count vs range).
  if (b.count === 0 || Math.abs(b.left - b.right) <= margin * range * b.count) return null;
  return b.left > b.right !== Boolean(opts.tissueDark) ? 'left' : 'right';
}

export interface ChestWallInput extends HeaderFacts, PixelRuleOptions {
  /** The pixels' band sums, computed only when the header does not decide. */
  bands: () => EdgeBands;
}

/** The whole rule: header, else pixels; null when nothing tells. */
export function findChestWall(input: ChestWallInput): { side: Side; source: ChestWallSource } | null {
  const header = chestWallFromHeader(input);
  if (header) return header;
  const side = chestWallFromBands(input.bands(), input);
  return side ? { side, source: 'image' } : null;
}

/** Whether to mirror an image whose chest wall is on `detected` so that it lands on `wanted`. */
export function needsFlip(detected: Side | null, wanted: Side): boolean {
  return detected !== null && detected !== wanted;
}
