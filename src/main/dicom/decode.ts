// Opening a DICOM file for its pixels, and decoding frames in any supported transfer syntax.
import type { DataSet } from 'dicom-parser';
import { decodeHtj2k, decodeJ2k } from './codecs/j2k';
import { decodeJpegDct } from './codecs/jpeg';
import { decodeJpegLossless } from './codecs/jpeg-lossless';
import { decodeJpegLs } from './codecs/jpegls';
import { decodeRle } from './codecs/rle';
import type { CodecOutput } from './codecs/types';
import { DicomError, asDicomError } from './errors';
import { readRegularFile } from './file-access';
import { checkCodestreamClaim, checkDecodedTotal, checkRleFrame } from './limits';
import { checkDeclaredGeometry, checkPixelDataPresent } from './pixel-geometry';
import { groupFragments, encapsulatedFrame, type FragmentRef } from './frames';
import { type DicomHeader, headerFromDataset } from './header';
import { implicitReadWarning } from './implicit-dataset';
import { PIXEL_DATA_TAG, parseDataset } from './parse';
import { type DecodedFrame, type NormaliseOptions, type PixelLayout, fullSizeYbr422, normalise, readNativeFrame } from './pixels';
import { type TransferSyntaxInfo, transferSyntaxInfo } from './transfer-syntax';

export type { DecodedFrame } from './pixels';

export interface DicomImage {
  file: string;
  header: DicomHeader;
  dataSet: DataSet;
  transferSyntax: TransferSyntaxInfo;
  layout: PixelLayout;
  /** Fragment groups per frame (encapsulated syntaxes only), computed once per file. */
  frameFragments?: FragmentRef[][];
  /** How the file contradicts itself and how it was read anyway (also on every decoded frame). */
  warnings?: string[];
}

export interface DecodeOptions {
  /**
   * JPEG 2000 / HTJ2K only: decode at 1/2^level of the full size (clamped to the codestream's
   * decomposition levels). Other syntaxes decode at full size and report reduction 0.
   */
  level?: number;
}

/** Validates the pixel module so codecs never see nonsense geometry from a corrupt header. */
function layoutOf(h: DicomHeader, file: string): PixelLayout {
  try {
    checkDeclaredGeometry(h);
  } catch (err) {
    throw asDicomError(file, err);
  }
  const rows = h.rows!;
  const columns = h.columns!;
  const bitsAllocated = h.bitsAllocated ?? 0;
  const bitsStored = h.bitsStored && h.bitsStored <= bitsAllocated ? h.bitsStored : bitsAllocated;
  const spp = h.samplesPerPixel;
  return {
    rows,
    columns,
    samplesPerPixel: spp,
    bitsAllocated,
    bitsStored,
    highBit: h.highBit ?? bitsStored - 1,
    pixelRepresentation: h.pixelRepresentation === 1 ? 1 : 0,
    photometricInterpretation: (h.photometricInterpretation ?? (spp === 3 ? 'RGB' : 'MONOCHROME2')).toUpperCase(),
    planarConfiguration: h.planarConfiguration ?? 0,
  };
}

/** Parses a whole file held in memory; throws DicomError naming `file`. */
export function openDicomBytes(bytes: Uint8Array, file = '<buffer>'): DicomImage {
  const ds = parseDataset(bytes, file);
  let header: DicomHeader;
  try {
    header = headerFromDataset(ds);
  } catch (err) {
    throw asDicomError(file, err);
  }
  const transferSyntax = transferSyntaxInfo(header.transferSyntaxUID);
  if (!transferSyntax) throw new DicomError(file, 'unsupported', `transfer syntax ${header.transferSyntaxUID} is not supported`);
  const layout = layoutOf(header, file);
  const img: DicomImage = { file, header, dataSet: ds, transferSyntax, layout };
  const implicit = implicitReadWarning(ds);
  if (implicit) img.warnings = [implicit];
  const el = ds.elements[PIXEL_DATA_TAG] ?? ds.elements.x7fe00008 ?? ds.elements.x7fe00009;
  if (transferSyntax.encapsulated && !el?.encapsulatedPixelData)
    throw new DicomError(file, 'corrupt', `transfer syntax ${transferSyntax.name} but the pixel data is not encapsulated`);
  try {
    // The frame count and image size are believed only as far as the bytes present back them.
    checkPixelDataPresent(header, transferSyntax.encapsulated, {
      length: el!.length === 0xffffffff ? -1 : el!.length,
      available: ds.byteArray.length - el!.dataOffset,
      fragments: el!.fragments?.length,
    });
    if (transferSyntax.encapsulated) img.frameFragments = groupFragments(ds, el!, header.numberOfFrames, transferSyntax.codec);
  } catch (err) {
    throw asDicomError(file, err);
  }
  return img;
}

export async function openDicomFile(file: string): Promise<DicomImage> {
  return openDicomBytes(await readRegularFile(file), file);
}

function floatFrame(img: DicomImage, index: number): DecodedFrame {
  const ds = img.dataSet;
  const el = ds.elements.x7fe00008 ?? ds.elements.x7fe00009;
  if (!el) throw new DicomError(img.file, 'no_pixels', 'no pixel data');
  const double = el.tag === 'x7fe00009';
  const bps = double ? 8 : 4;
  const { rows, columns, samplesPerPixel } = img.layout;
  const n = rows * columns * samplesPerPixel;
  const start = el.dataOffset + index * n * bps;
  if (start + n * bps > ds.byteArray.length) throw new DicomError(img.file, 'truncated', `frame ${index} of float pixel data`);
  const dv = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + start, n * bps);
  const le = !img.transferSyntax.bigEndian;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = double ? dv.getFloat64(i * 8, le) : dv.getFloat32(i * 4, le);
  return { rows, columns, samples: samplesPerPixel, data, photometric: img.layout.photometricInterpretation, reduction: 0 };
}

/**
 * Reusable sample buffers for codecs we run in JS (RLE, JPEG lossless): a fresh 27 MB array costs
 * more in page faults than decoding into it. Only lent out within one synchronous decode+use.
 */
const scratch = { u16: new Uint16Array(0), u8: new Uint8Array(0), busy: false };

function lend16(n: number): Uint16Array | undefined {
  if (scratch.busy) return undefined;
  if (scratch.u16.length < n) scratch.u16 = new Uint16Array(n);
  return scratch.u16;
}

function lend8(n: number): Uint8Array | undefined {
  if (scratch.busy) return undefined;
  if (scratch.u8.length < n) scratch.u8 = new Uint8Array(n);
  return scratch.u8;
}

/** Runs the codec for `bytes` and hands its output to `use` (heap views / scratch: valid inside `use` only). */
async function runCodec<T>(img: DicomImage, bytes: Uint8Array, opts: DecodeOptions, use: (out: CodecOutput) => T): Promise<T> {
  const l = img.layout;
  const codecOpts = {
    level: opts.level ?? 0,
    rows: l.rows,
    columns: l.columns,
    samplesPerPixel: l.samplesPerPixel,
    bitsAllocated: l.bitsAllocated,
    pixelRepresentation: l.pixelRepresentation,
    photometricInterpretation: l.photometricInterpretation,
  };
  const n = l.rows * l.columns * l.samplesPerPixel;
  const lent = <R>(out: CodecOutput, f: (o: CodecOutput) => R): R => {
    scratch.busy = true;
    try {
      return f(out);
    } finally {
      scratch.busy = false;
    }
  };
  switch (img.transferSyntax.codec) {
    case 'rle':
      return lent(decodeRle(bytes, l, l.bitsAllocated === 16 ? lend16(n) : l.bitsAllocated === 8 ? lend8(n) : undefined), use);
    case 'jpeg-lossless':
      return lent(decodeJpegLossless(bytes, codecOpts, l.bitsAllocated > 8 ? lend16(n) : undefined), use);
    case 'jpeg-dct':
      return use(await decodeJpegDct(bytes, codecOpts));
    case 'jpeg-ls':
      return decodeJpegLs(bytes, codecOpts, use);
    case 'j2k':
      return decodeJ2k(bytes, codecOpts, use);
    case 'htj2k':
      return decodeHtj2k(bytes, codecOpts, use);
    case 'native':
      throw new Error('native pixel data has no codec');
  }
}

/** One frame's samples as the codec (or the native reader) produced them, before normalise(). */
export interface RawFrame {
  out: CodecOutput;
  layout: PixelLayout;
  normalise: NormaliseOptions;
}

/**
 * Decodes frame `index` and passes the raw samples to `use`, synchronously. The samples may live in
 * the codec's WASM heap, a reused scratch buffer or the file's bytes, so they are valid only during
 * `use`: copy what must outlive it. This is how the model path avoids full-size copies;
 * decodeFrame() is `use = normalise`.
 */
export async function withRawFrame<T>(img: DicomImage, index: number, opts: DecodeOptions, use: (raw: RawFrame) => T): Promise<T> {
  const { file, header, layout: l } = img;
  if (!Number.isInteger(index) || index < 0 || index >= header.numberOfFrames) {
    throw new DicomError(file, 'invalid_frame', `frame ${index} out of range (file has ${header.numberOfFrames})`);
  }
  if (header.floatPixelData) throw new DicomError(file, 'unsupported', 'float pixel data has no raw integer frame');
  const userErrors = new WeakSet<object>();
  const call = (out: CodecOutput, clampOk: boolean, layout = l): T => {
    const codecSigned = out.data instanceof Int16Array || out.data instanceof Int8Array;
    const clamp = clampOk && codecSigned === (l.pixelRepresentation === 1);
    try {
      return use({ out, layout, normalise: { applyHighBit: !img.transferSyntax.encapsulated, clamp } });
    } catch (err) {
      if (err && typeof err === 'object') userErrors.add(err);
      throw err;
    }
  };
  try {
    const ds = img.dataSet;
    const el = ds.elements[PIXEL_DATA_TAG]!;
    if (!img.transferSyntax.encapsulated) {
      if (el.length === 0xffffffff) throw new Error('native transfer syntax but the pixel data is encapsulated');
      const end = Math.min(el.dataOffset + el.length, ds.byteArray.length);
      const bytes = ds.byteArray.subarray(el.dataOffset, end);
      const swap8 = img.transferSyntax.bigEndian && el.vr === 'OW' && l.bitsAllocated === 8;
      const ybr = fullSizeYbr422(l, bytes.length, header.numberOfFrames);
      const out = readNativeFrame(bytes, ybr?.layout ?? l, index, img.transferSyntax.bigEndian, swap8);
      if (!ybr) return call(out, false);
      return call({ ...out, warnings: [ybr.warning] }, false, ybr.layout);
    }
    const bytes = encapsulatedFrame(ds, img.frameFragments!, index);
    const codec = img.transferSyntax.codec;
    // What the stream claims is checked before the codec allocates for it.
    if (codec === 'rle') checkRleFrame(bytes, bytes.length, l);
    else checkCodestreamClaim(bytes, l);
    return await runCodec(img, bytes, opts, (out) => {
      const expectW = Math.ceil(l.columns / 2 ** out.reduction);
      const expectH = Math.ceil(l.rows / 2 ** out.reduction);
      if (out.width !== expectW || out.height !== expectH) {
        throw new Error(`codestream is ${out.width}x${out.height}, header says ${expectW}x${expectH}`);
      }
      if (out.components !== l.samplesPerPixel)
        throw new Error(`codestream has ${out.components} components, header says ${l.samplesPerPixel}`);
      return call(out, codec === 'j2k' || codec === 'htj2k');
    });
  } catch (err) {
    if (err && typeof err === 'object' && userErrors.has(err)) throw err;
    throw asDicomError(file, err);
  }
}

/** Decodes frame `index` (0-based) to stored values. */
export async function decodeFrame(img: DicomImage, index = 0, opts: DecodeOptions = {}): Promise<DecodedFrame> {
  if (img.header.floatPixelData && Number.isInteger(index) && index >= 0 && index < img.header.numberOfFrames) {
    try {
      return floatFrame(img, index);
    } catch (err) {
      throw asDicomError(img.file, err);
    }
  }
  const frame = await withRawFrame(img, index, opts, (raw) => normalise(raw.out, raw.layout, raw.normalise));
  if (img.warnings) frame.warnings = [...img.warnings, ...(frame.warnings ?? [])];
  return frame;
}

/** Decodes every frame (multi-frame images), in order. */
export async function decodeAllFrames(img: DicomImage, opts: DecodeOptions = {}): Promise<DecodedFrame[]> {
  const { rows, columns, samplesPerPixel } = img.layout;
  try {
    checkDecodedTotal(img.header.numberOfFrames, rows, columns, samplesPerPixel);
  } catch (err) {
    throw asDicomError(img.file, err);
  }
  const out: DecodedFrame[] = [];
  for (let i = 0; i < img.header.numberOfFrames; i++) out.push(await decodeFrame(img, i, opts));
  return out;
}
