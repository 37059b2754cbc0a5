// VOI LUT math for the viewer, the same as the back end's pixel pipeline (PS3.3 C.11.2.1.2):
// LINEAR, LINEAR_EXACT and SIGMOID window functions over modality values, and the table
// cornerstone-core applies (its own windowing is a plain linear ramp, with no SIGMOID).
import type { FrameMeta } from '../../../../common/binary';

export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';
export const VOI_FUNCTIONS: readonly VoiFunction[] = ['LINEAR', 'LINEAR_EXACT', 'SIGMOID'];

export interface VoiWindow {
  center: number;
  width: number;
}

export function normaliseVoiFunction(value: string | null | undefined): VoiFunction {
  const v = (value ?? '').trim().toUpperCase();
  return v === 'SIGMOID' || v === 'LINEAR_EXACT' ? v : 'LINEAR';
}

/** One modality value through a window, as a fraction 0..1 of the display range. */
export function voiValue(x: number, center: number, width: number, fn: VoiFunction): number {
  if (fn === 'SIGMOID') return 1 / (1 + Math.exp((-4 * (x - center)) / Math.max(width, Number.MIN_VALUE)));
  if (fn === 'LINEAR_EXACT') {
    const w = Math.max(width, Number.MIN_VALUE);
    if (x <= center - w / 2) return 0;
    if (x > center + w / 2) return 1;
    return (x - center) / w + 0.5;
  }
  const w = Math.max(width, 1); // LINEAR requires width >= 1
  if (x <= center - 0.5 - (w - 1) / 2) return 0;
  if (x > center - 0.5 + (w - 1) / 2) return 1;
  return w === 1 ? 1 : (x - (center - 0.5)) / (w - 1) + 0.5;
}

export interface VoiLutTable {
  /** cornerstone-core tells tables apart by id (its cache key). */
  id: string;
  firstValueMapped: number;
  numBitsPerEntry: number;
  lut: number[];
}

/**
 * The VOI table over (rounded) modality values first..last, 8-bit entries. cornerstone-core works
 * out the entry size from the largest entry, so one 255 entry past `last` (never reached by a
 * pixel) pins the scale; without it a window that leaves every pixel dark would render bright.
 */
export function buildVoiLut(first: number, last: number, window: VoiWindow, fn: VoiFunction): VoiLutTable {
  const lo = Math.floor(Math.min(first, last));
  const hi = Math.ceil(Math.max(first, last));
  const lut = new Array<number>(hi - lo + 2);
  for (let v = lo; v <= hi; v++) lut[v - lo] = Math.round(255 * voiValue(v, window.center, window.width, fn));
  lut[hi - lo + 1] = 255;
  return { id: `voi:${lo}:${hi}:${window.center}:${window.width}:${fn}`, firstValueMapped: lo, numBitsPerEntry: 8, lut };
}

/** Modality value range of a frame (stored min/max through the rescale). */
export function modalityRange(meta: Pick<FrameMeta, 'minValue' | 'maxValue' | 'rescaleSlope' | 'rescaleIntercept'>): [number, number] {
  const a = meta.minValue * meta.rescaleSlope + meta.rescaleIntercept;
  const b = meta.maxValue * meta.rescaleSlope + meta.rescaleIntercept;
  return [Math.min(a, b), Math.max(a, b)];
}

export interface VoiPreset {
  id: string;
  label: string;
  /** Where it comes from, for the tooltip. */
  detail: string;
  window: VoiWindow;
  fn: VoiFunction;
}

/**
 * Presets for one frame: each window in its header (with its explanation and the header's VOI
 * function), the full range of its values, and a narrow window (40% of the default width on the
 * default centre) that spreads the dense fibroglandular range, as a soft-tissue window does in CT.
 */
export function presetsFor(meta: FrameMeta): VoiPreset[] {
  const fn = normaliseVoiFunction(meta.voiLutFunction);
  const out: VoiPreset[] = [];
  const n = Math.min(meta.windowCenter.length, meta.windowWidth.length);
  for (let i = 0; i < n; i++) {
    const explanation = meta.windowExplanation[i]?.trim();
    const window = { center: meta.windowCenter[i]!, width: meta.windowWidth[i]! };
    out.push({
      id: `dicom-${i}`,
      label: explanation || `Window ${i + 1}`,
      detail: `From the DICOM header: C ${fmt(window.center)} / W ${fmt(window.width)}, ${fn}`,
      window,
      fn,
    });
  }
  const [lo, hi] = modalityRange(meta);
  out.push({
    id: 'full',
    label: 'Full range',
    detail: `All stored values: ${fmt(lo)} to ${fmt(hi)}, LINEAR`,
    window: { center: (lo + hi) / 2, width: Math.max(1, hi - lo + 1) },
    fn: 'LINEAR',
  });
  const base = defaultWindow(meta);
  out.push({
    id: 'narrow',
    label: 'Narrow (dense tissue)',
    detail: 'A narrow window on the default centre (40% of its width), for dense tissue',
    window: { center: base.center, width: Math.max(1, base.width * 0.4) },
    fn,
  });
  return out;
}

/** The header's first window, else the full range of the frame's values. */
export function defaultWindow(meta: FrameMeta): VoiWindow {
  const c = meta.windowCenter[0];
  const w = meta.windowWidth[0];
  if (c !== undefined && w !== undefined && Number.isFinite(c) && Number.isFinite(w) && w > 0) return { center: c, width: w };
  const [lo, hi] = modalityRange(meta);
  return { center: (lo + hi) / 2, width: Math.max(1, hi - lo + 1) };
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
