// The viewer's VOI: the table cornerstone-core applies and the window presets of a frame. The
// window math itself (LINEAR, LINEAR_EXACT, SIGMOID; PS3.3 C.11.2.1.2) is the model pipeline's,
// src/common/imaging/voi.ts: cornerstone-core's own windowing is a plain linear ramp, with no SIGMOID.
import type { FrameMeta } from '../../../../common/binary';
import {
  type VoiFunction,
  type VoiWindow,
  fullRangeWindow,
  modalityRange,
  normaliseVoiFunction,
  windowMapper,
} from '../../../../common/imaging/voi';

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
  const map = windowMapper({ ...window, fn }, 0, 255);
  for (let v = lo; v <= hi; v++) lut[v - lo] = Math.round(map(v));
  lut[hi - lo + 1] = 255;
  return { id: `voi:${lo}:${hi}:${window.center}:${window.width}:${fn}`, firstValueMapped: lo, numBitsPerEntry: 8, lut };
}

/** Modality value range of a frame (stored min/max through the rescale). */
export function frameModalityRange(meta: Pick<FrameMeta, 'minValue' | 'maxValue' | 'rescaleSlope' | 'rescaleIntercept'>): [number, number] {
  return modalityRange(meta.minValue, meta.maxValue, { slope: meta.rescaleSlope, intercept: meta.rescaleIntercept });
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
  const [lo, hi] = frameModalityRange(meta);
  out.push({
    id: 'full',
    label: 'Full range',
    detail: `All stored values: ${fmt(lo)} to ${fmt(hi)}, LINEAR`,
    window: fullRangeWindow(lo, hi),
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
  const [lo, hi] = frameModalityRange(meta);
  return fullRangeWindow(lo, hi);
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
