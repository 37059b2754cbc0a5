// Modality LUT (rescale or LUT sequence) and VOI LUT (window with LINEAR / LINEAR_EXACT / SIGMOID,
// or a VOI LUT Sequence), per PS3.3 C.11.1 and C.11.2. Output of the VOI stage is [0, 255] float so
// both presets hand the geometry stage the same range.
import type { DataSet } from 'dicom-parser';
import type { DicomHeader } from '../header';

export interface Lut {
  firstMapped: number;
  data: Float64Array;
  /** Bits per entry (descriptor value 3), for normalising the output. */
  bits: number;
}

/** Reads the LUT of the first item of a LUT sequence (Modality 0028,3000 or VOI 0028,3010). */
export function readLutSequence(ds: DataSet, seqTag: string, pixelRepresentation: number): Lut | undefined {
  const item = ds.elements[seqTag]?.items?.[0]?.dataSet;
  if (!item) return undefined;
  const desc = item.elements.x00283002;
  const dataEl = item.elements.x00283006;
  if (!desc || !dataEl || desc.length < 6) return undefined;
  let entries = item.uint16('x00283002', 0) ?? 0;
  if (entries === 0) entries = 65536; // PS3.3: 0 means 2^16 entries
  // First mapped value is US or SS depending on the pixel representation (C.11.1.1).
  const firstMapped = pixelRepresentation === 1 ? (item.int16('x00283002', 1) ?? 0) : (item.uint16('x00283002', 1) ?? 0);
  const bits = item.uint16('x00283002', 2) ?? 16;
  const data = new Float64Array(entries);
  const eightBitPacked = bits <= 8 && dataEl.length === entries; // 8-bit entries packed in OB/OW bytes
  for (let i = 0; i < entries; i++) {
    if (eightBitPacked) data[i] = item.byteArray[dataEl.dataOffset + i] ?? 0;
    else if (dataEl.dataOffset + 2 * i + 1 < item.byteArray.length && 2 * i + 1 < dataEl.length) data[i] = item.uint16('x00283006', i) ?? 0;
  }
  return { firstMapped, data, bits };
}

export function applyLut(v: number, lut: Lut): number {
  const i = Math.round(v) - lut.firstMapped;
  return lut.data[i < 0 ? 0 : i >= lut.data.length ? lut.data.length - 1 : i]!;
}

/** Stored values to modality values (Hounsfield-like units; usually identity for MG). */
export function applyModality(src: Int32Array | Uint32Array | Float32Array, header: DicomHeader, lut?: Lut): Float32Array {
  const out = new Float32Array(src.length);
  if (lut) {
    for (let i = 0; i < src.length; i++) out[i] = applyLut(src[i]!, lut);
    return out;
  }
  const slope = header.rescaleSlope ?? 1;
  const intercept = header.rescaleIntercept ?? 0;
  for (let i = 0; i < src.length; i++) out[i] = src[i]! * slope + intercept;
  return out;
}

export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

export interface Window {
  center: number;
  width: number;
  fn: VoiFunction;
}

/** Window centre/width transform to [ymin, ymax] (PS3.3 C.11.2.1.2). */
export function applyWindow(src: Float32Array, w: Window, ymin = 0, ymax = 255): Float32Array {
  const out = new Float32Array(src.length);
  const { center: c, fn } = w;
  const range = ymax - ymin;
  if (fn === 'SIGMOID') {
    for (let i = 0; i < src.length; i++) out[i] = range / (1 + Math.exp((-4 * (src[i]! - c)) / w.width)) + ymin;
  } else if (fn === 'LINEAR_EXACT') {
    const width = Math.max(w.width, Number.MIN_VALUE);
    const lo = c - width / 2;
    const hi = c + width / 2;
    for (let i = 0; i < src.length; i++) {
      const x = src[i]!;
      out[i] = x <= lo ? ymin : x > hi ? ymax : ((x - c) / width + 0.5) * range + ymin;
    }
  } else {
    const width = Math.max(w.width, 1); // LINEAR requires width >= 1
    const lo = c - 0.5 - (width - 1) / 2;
    const hi = c - 0.5 + (width - 1) / 2;
    for (let i = 0; i < src.length; i++) {
      const x = src[i]!;
      out[i] = x <= lo ? ymin : x > hi ? ymax : width === 1 ? ymax : ((x - (c - 0.5)) / (width - 1) + 0.5) * range + ymin;
    }
  }
  return out;
}

export function applyVoiLut(src: Float32Array, lut: Lut, ymax = 255): Float32Array {
  const out = new Float32Array(src.length);
  // Normalise by the LUT's actual maximum when it uses fewer bits than declared (common).
  let max = 0;
  for (const v of lut.data) if (v > max) max = v;
  const scale = ymax / Math.max(1, Math.min(2 ** lut.bits - 1, max) || 1);
  for (let i = 0; i < src.length; i++) out[i] = Math.min(ymax, applyLut(src[i]!, lut) * scale);
  return out;
}

/** Linear min..max to [0, 255]: the VOI of last resort when a file carries none. */
export function applyMinMax(src: Float32Array, ymax = 255): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of src) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float32Array(src.length);
  const s = hi > lo ? ymax / (hi - lo) : 0;
  for (let i = 0; i < src.length; i++) out[i] = (src[i]! - lo) * s;
  return out;
}

export function voiFunctionOf(h: DicomHeader): VoiFunction {
  const f = (h.voiLutFunction ?? 'LINEAR').toUpperCase();
  return f === 'SIGMOID' || f === 'LINEAR_EXACT' ? f : 'LINEAR';
}

/** The window to use: the `index`-th pair (first by default, as the issue asks), if any. */
export function windowOf(h: DicomHeader, index = 0): Window | undefined {
  const c = h.windowCenter[index] ?? h.windowCenter[0];
  const w = h.windowWidth[index] ?? h.windowWidth[0];
  if (c === undefined || w === undefined || !(w > 0)) return undefined;
  return { center: c, width: w, fn: voiFunctionOf(h) };
}
