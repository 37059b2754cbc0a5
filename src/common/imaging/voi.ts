// The intensity math of a grey image, one definition for the viewer and the model pipeline:
// modality LUT (rescale slope/intercept or a LUT table, PS3.3 C.11.1) and VOI LUT (window centre/
// width with VOILUTFunction LINEAR / LINEAR_EXACT / SIGMOID, PS3.3 C.11.2.1.2, or a VOI LUT table).
// Pure functions over numbers and typed arrays: no DOM, no Node, no DICOM parser.

export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';
export const VOI_FUNCTIONS: readonly VoiFunction[] = ['LINEAR', 'LINEAR_EXACT', 'SIGMOID'];

export interface VoiWindow {
  center: number;
  width: number;
}

export interface Window extends VoiWindow {
  fn: VoiFunction;
}

/** VOILUTFunction (0028,1056) as written in a header; anything else, or nothing, is LINEAR. */
export function normaliseVoiFunction(value: string | null | undefined): VoiFunction {
  const v = (value ?? '').trim().toUpperCase();
  return v === 'SIGMOID' || v === 'LINEAR_EXACT' ? v : 'LINEAR';
}

/** The constants of a window on [ymin, ymax], worked out once per window. */
interface WindowConstants {
  fn: VoiFunction;
  c: number;
  width: number;
  lo: number;
  hi: number;
  ymin: number;
  ymax: number;
  range: number;
}

function constants(w: Window, ymin: number, ymax: number): WindowConstants {
  const c = w.center;
  if (w.fn === 'LINEAR') {
    const width = Math.max(w.width, 1); // LINEAR requires width >= 1
    return { fn: w.fn, c, width, lo: c - 0.5 - (width - 1) / 2, hi: c - 0.5 + (width - 1) / 2, ymin, ymax, range: ymax - ymin };
  }
  const width = Math.max(w.width, Number.MIN_VALUE);
  return { fn: w.fn, c, width, lo: c - width / 2, hi: c + width / 2, ymin, ymax, range: ymax - ymin };
}

// The window functions of PS3.3 C.11.2.1.2 for one modality value. Every float operation (in
// float64, in this order) is what the model pipeline's tests pin down.
function sigmoidAt(x: number, k: WindowConstants): number {
  return k.range / (1 + Math.exp((-4 * (x - k.c)) / k.width)) + k.ymin;
}

function linearExactAt(x: number, k: WindowConstants): number {
  return x <= k.lo ? k.ymin : x > k.hi ? k.ymax : ((x - k.c) / k.width + 0.5) * k.range + k.ymin;
}

function linearAt(x: number, k: WindowConstants): number {
  // Width 1 is a step: nothing lies in (lo, hi], so the ramp's division by zero is never reached.
  if (x <= k.lo) return k.ymin;
  if (x > k.hi) return k.ymax;
  return k.width === 1 ? k.ymax : ((x - (k.c - 0.5)) / (k.width - 1) + 0.5) * k.range + k.ymin;
}

const WINDOW_AT: Record<VoiFunction, (x: number, k: WindowConstants) => number> = {
  LINEAR: linearAt,
  LINEAR_EXACT: linearExactAt,
  SIGMOID: sigmoidAt,
};

/** The window as a function of one modality value onto [ymin, ymax] (the viewer's table). */
export function windowMapper(w: Window, ymin = 0, ymax = 255): (x: number) => number {
  const k = constants(w, ymin, ymax);
  const at = WINDOW_AT[k.fn];
  return (x) => at(x, k);
}

/** Window centre/width transform of every value to [ymin, ymax]. */
export function applyWindow(src: ArrayLike<number>, w: Window, ymin = 0, ymax = 255): Float32Array {
  const k = constants(w, ymin, ymax);
  const out = new Float32Array(src.length);
  // One loop per function, so each loop's call is to one known function (inlined).
  if (k.fn === 'SIGMOID') for (let i = 0; i < src.length; i++) out[i] = sigmoidAt(src[i]!, k);
  else if (k.fn === 'LINEAR_EXACT') for (let i = 0; i < src.length; i++) out[i] = linearExactAt(src[i]!, k);
  else for (let i = 0; i < src.length; i++) out[i] = linearAt(src[i]!, k);
  return out;
}

/** A LUT (modality or VOI): entries for values firstMapped, firstMapped + 1, ... */
export interface Lut {
  firstMapped: number;
  data: Float64Array;
  /** Bits per entry (descriptor value 3), for normalising the output. */
  bits: number;
}

/** One value through a LUT: rounded to an entry, values outside it clamp to the first/last entry. */
export function applyLut(v: number, lut: Lut): number {
  const i = Math.round(v) - lut.firstMapped;
  return lut.data[i < 0 ? 0 : i >= lut.data.length ? lut.data.length - 1 : i]!;
}

export interface Rescale {
  slope: number | null | undefined;
  intercept: number | null | undefined;
}

/** Stored value to modality value by Rescale Slope/Intercept (absent: 1 and 0). */
export function rescaleValue(v: number, r: Rescale): number {
  return v * (r.slope ?? 1) + (r.intercept ?? 0);
}

/** Stored values to modality values: the Modality LUT when there is one, else the rescale. */
export function applyModality(src: ArrayLike<number>, rescale: Rescale, lut?: Lut): Float32Array {
  const out = new Float32Array(src.length);
  if (lut) {
    for (let i = 0; i < src.length; i++) out[i] = applyLut(src[i]!, lut);
    return out;
  }
  const slope = rescale.slope ?? 1;
  const intercept = rescale.intercept ?? 0;
  for (let i = 0; i < src.length; i++) out[i] = src[i]! * slope + intercept;
  return out;
}

/** Modality range [low, high] of stored values min..max (a negative slope swaps the ends). */
export function modalityRange(min: number, max: number, rescale: Rescale): [number, number] {
  const a = rescaleValue(min, rescale);
  const b = rescaleValue(max, rescale);
  return [Math.min(a, b), Math.max(a, b)];
}

/** VOI LUT table to [0, ymax], scaled by the largest entry the table actually holds. */
export function applyVoiLut(src: ArrayLike<number>, lut: Lut, ymax = 255): Float32Array {
  const out = new Float32Array(src.length);
  // Normalise by the LUT's actual maximum when it uses fewer bits than declared (common).
  let max = 0;
  for (const v of lut.data) if (v > max) max = v;
  const scale = ymax / Math.max(1, Math.min(2 ** lut.bits - 1, max) || 1);
  for (let i = 0; i < src.length; i++) out[i] = Math.min(ymax, applyLut(src[i]!, lut) * scale);
  return out;
}

/** Linear min..max to [0, ymax]: the VOI of last resort when a file carries none. */
export function applyMinMax(src: ArrayLike<number>, ymax = 255): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float32Array(src.length);
  const s = hi > lo ? ymax / (hi - lo) : 0;
  for (let i = 0; i < src.length; i++) out[i] = (src[i]! - lo) * s;
  return out;
}

/** The full range of modality values lo..hi as a LINEAR window (width at least 1). */
export function fullRangeWindow(lo: number, hi: number): VoiWindow {
  return { center: (lo + hi) / 2, width: Math.max(1, hi - lo + 1) };
}
