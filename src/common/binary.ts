// Binary responses (decoded image frames for the viewer) over both transports. JSON would triple
// the size of a 3328x4096 16-bit frame, so these methods answer with one buffer:
//   [u32 LE: JSON length][JSON metadata (UTF-8)][zero padding to a multiple of 8][pixel bytes]
// The padding keeps the pixel bytes aligned for typed-array views.
import { z } from 'zod';

export const FrameRequest = z
  .object({
    instanceId: z.number().int().positive(),
    frame: z.number().int().min(0).default(0),
    /** Longest side wanted; the back end decodes (JPEG 2000) or bins down to at most this. */
    maxSize: z.number().int().min(64).max(16384).optional(),
  })
  .strict();
export type FrameRequest = z.infer<typeof FrameRequest>;

export const FrameMeta = z.object({
  instanceId: z.number().int(),
  frame: z.number().int(),
  numberOfFrames: z.number().int(),
  rows: z.number().int(),
  columns: z.number().int(),
  /** Rows of the full-resolution image, when the frame was reduced. */
  fullRows: z.number().int(),
  fullColumns: z.number().int(),
  /** 1 (grey) or 3: colour frames are always pixel-interleaved RGB (YBR is converted by the back end). */
  samples: z.number().int(),
  dataType: z.enum(['uint8', 'int16', 'uint16', 'int32', 'float32']),
  /** Stored values (no LUT applied); the viewer applies modality and VOI LUTs. */
  minValue: z.number(),
  maxValue: z.number(),
  photometric: z.string(),
  rescaleSlope: z.number(),
  rescaleIntercept: z.number(),
  windowCenter: z.array(z.number()),
  windowWidth: z.array(z.number()),
  windowExplanation: z.array(z.string()),
  voiLutFunction: z.string().nullable(),
  laterality: z.string().nullable(),
  viewPosition: z.string().nullable(),
  /** PatientOrientation (0020,0020) row and column directions, e.g. ["A", "R"], when present. */
  patientOrientation: z.array(z.string()).nullable(),
  /** PixelSpacing (0028,0030) as written; which spacing a measurement uses is chooseSpacing's (common/imaging/spacing.ts). */
  pixelSpacing: z.tuple([z.number(), z.number()]).nullable(),
  /** ImagerPixelSpacing (0018,1164), EstimatedRadiographicMagnificationFactor (0018,1114), PixelSpacingCalibrationType (0028,0A02). */
  imagerPixelSpacing: z.tuple([z.number(), z.number()]).nullish(),
  magnificationFactor: z.number().nullish(),
  spacingCalibration: z.string().nullish(),
  forProcessing: z.boolean(),
});
export type FrameMeta = z.infer<typeof FrameMeta>;

export const binaryMethods = {
  'image.frame': { input: FrameRequest, meta: FrameMeta },
} as const;
export type BinaryMethodName = keyof typeof binaryMethods;
export type BinaryInput<M extends BinaryMethodName> = z.input<(typeof binaryMethods)[M]['input']>;
export type BinaryMeta<M extends BinaryMethodName> = z.output<(typeof binaryMethods)[M]['meta']>;

export function isBinaryMethodName(name: unknown): name is BinaryMethodName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(binaryMethods, name);
}

export function encodeBinary(meta: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(meta));
  const start = Math.ceil((4 + json.length) / 8) * 8;
  const out = new Uint8Array(start + data.byteLength);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  out.set(data, start);
  return out;
}

export function decodeBinary(buffer: ArrayBuffer | Uint8Array): { meta: unknown; data: ArrayBuffer } {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  if (bytes.byteLength < 4) throw new Error('binary response too short');
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + len > bytes.byteLength) throw new Error('binary response header overruns the buffer');
  const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + len))) as unknown;
  const start = Math.ceil((4 + len) / 8) * 8;
  const data = bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return { meta, data };
}
