// What the intensity stage reads from a DICOM file: the LUT of a Modality or VOI LUT Sequence and
// the window to use (PS3.3 C.11.1, C.11.2). The math that applies them, shared with the viewer,
// is src/common/imaging/voi.ts.
import type { DataSet } from 'dicom-parser';
import { type Lut, type Window, normaliseVoiFunction } from '../../../common/imaging/voi';
import type { DicomHeader } from '../header';

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

/** The window to use: the `index`-th pair (first by default, as the issue asks), if any. */
export function windowOf(h: DicomHeader, index = 0): Window | undefined {
  const c = h.windowCenter[index] ?? h.windowCenter[0];
  const w = h.windowWidth[index] ?? h.windowWidth[0];
  if (c === undefined || w === undefined || !(w > 0)) return undefined;
  return { center: c, width: w, fn: normaliseVoiFunction(h.voiLutFunction) };
}
