// Decodes one frame of an instance for display: stored values in the smallest exact integer type,
// reduced to at most `maxSize` on the long side (JPEG 2000 decodes at that resolution directly;
// other syntaxes are binned by an integer factor, averaging so thumbnails stay smooth).
import { decodeFrame, openDicomFile } from '../dicom/decode';
import type { FrameMeta } from '../../common/binary';

export interface FrameJob {
  instanceId: number;
  file: string;
  frame: number;
  maxSize?: number | undefined;
}

export async function decodeForDisplay(job: FrameJob): Promise<{ meta: FrameMeta; data: Uint8Array }> {
  const img = await openDicomFile(job.file);
  const h = img.header;
  const fullRows = h.rows ?? 0;
  const fullColumns = h.columns ?? 0;
  if (job.frame >= h.numberOfFrames) throw new Error(`${job.file}: frame ${job.frame} requested, the image has ${h.numberOfFrames}`);
  const longSide = Math.max(fullRows, fullColumns);
  const level = job.maxSize && longSide > job.maxSize ? Math.floor(Math.log2(longSide / job.maxSize)) : 0;
  let decoded = await decodeFrame(img, job.frame, level > 0 ? { level } : {});
  let { rows, columns } = decoded;
  let values: Int32Array | Uint32Array | Float32Array = decoded.data;
  const factor = job.maxSize ? Math.ceil(Math.max(rows, columns) / job.maxSize) : 1;
  if (factor > 1) {
    const binned = binDown(values, rows, columns, decoded.samples, factor);
    values = binned.data;
    rows = binned.rows;
    columns = binned.columns;
  }
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (values.length === 0) min = max = 0;
  const { dataType, bytes } = compact(values, min, max);
  decoded = { ...decoded, rows, columns };
  const meta: FrameMeta = {
    instanceId: job.instanceId,
    frame: job.frame,
    numberOfFrames: h.numberOfFrames,
    rows,
    columns,
    fullRows,
    fullColumns,
    samples: decoded.samples,
    dataType,
    minValue: min,
    maxValue: max,
    photometric: decoded.photometric,
    rescaleSlope: h.rescaleSlope ?? 1,
    rescaleIntercept: h.rescaleIntercept ?? 0,
    windowCenter: h.windowCenter,
    windowWidth: h.windowWidth,
    windowExplanation: h.windowExplanation,
    voiLutFunction: h.voiLutFunction,
    laterality: h.breastSide,
    viewPosition: h.mammoView,
    patientOrientation: h.patientOrientation,
    pixelSpacing: h.pixelSpacing,
    imagerPixelSpacing: h.imagerPixelSpacing,
    magnificationFactor: h.magnificationFactor,
    spacingCalibration: h.pixelSpacingCalibrationType,
    forProcessing: h.forProcessing,
  };
  return { meta, data: bytes };
}

/** Mean over factor x factor blocks (edge blocks averaged over what exists). */
function binDown(src: Int32Array | Uint32Array | Float32Array, rows: number, columns: number, samples: number, factor: number) {
  const outRows = Math.ceil(rows / factor);
  const outColumns = Math.ceil(columns / factor);
  const sum = new Float64Array(outRows * outColumns * samples);
  const count = new Uint32Array(outRows * outColumns);
  for (let y = 0; y < rows; y++) {
    const oy = (y / factor) | 0;
    for (let x = 0; x < columns; x++) {
      const o = oy * outColumns + ((x / factor) | 0);
      count[o]!++;
      const si = (y * columns + x) * samples;
      for (let s = 0; s < samples; s++) sum[o * samples + s]! += src[si + s]!;
    }
  }
  const isFloat = src instanceof Float32Array;
  const data = isFloat
    ? new Float32Array(sum.length)
    : src instanceof Uint32Array
      ? new Uint32Array(sum.length)
      : new Int32Array(sum.length);
  for (let i = 0; i < sum.length; i++) {
    const v = sum[i]! / count[(i / samples) | 0]!;
    data[i] = isFloat ? v : Math.round(v);
  }
  return { data, rows: outRows, columns: outColumns };
}

function compact(
  values: Int32Array | Uint32Array | Float32Array,
  min: number,
  max: number,
): { dataType: FrameMeta['dataType']; bytes: Uint8Array } {
  const view = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (values instanceof Float32Array) return { dataType: 'float32', bytes: view(values) };
  // Unsigned 32-bit values past Int32's range: float32 keeps the display exact enough (24-bit mantissa).
  if (max > 0x7fffffff) return { dataType: 'float32', bytes: view(Float32Array.from(values)) };
  if (min >= 0 && max <= 255) return { dataType: 'uint8', bytes: Uint8Array.from(values) };
  if (min >= 0 && max <= 65535) return { dataType: 'uint16', bytes: view(Uint16Array.from(values)) };
  if (min >= -32768 && max <= 32767) return { dataType: 'int16', bytes: view(Int16Array.from(values)) };
  return { dataType: 'int32', bytes: view(values instanceof Int32Array ? values : Int32Array.from(values)) };
}
