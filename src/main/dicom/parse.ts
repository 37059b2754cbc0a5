// Thin, defensive wrapper over dicom-parser. It adds: files without the 128-byte preamble (raw
// datasets, as some old modalities and PACS exports write them), deflate through node's zlib
// (also on a prefix of the file, for header-only reads), and one error type naming the file.
import dicomParser, { type DataSet } from 'dicom-parser';
import zlib from 'node:zlib';
import { DicomError, asDicomError } from './errors';
import { parseImplicitDespiteSyntax } from './implicit-dataset';
import { dicomLimits, limitName } from './limits';
import { sequenceNesting, type NestingOptions } from './nesting';
import { TS } from './transfer-syntax';

export const PIXEL_DATA_TAG = 'x7fe00010';

export interface ParseOptions {
  /** Stop at the top-level Pixel Data element (its offset and length are still recorded). */
  untilPixelData?: boolean;
  /** The bytes are only a prefix of the file: inflate deflated data without requiring its end. */
  partial?: boolean;
}

function hasPreamble(b: Uint8Array): boolean {
  return b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;
}

/** Guesses the encoding of a dataset without a file meta group from its first element. */
function sniffRawDataset(b: Uint8Array): string | undefined {
  if (b.length < 8) return undefined;
  const group = b[0]! | (b[1]! << 8);
  // A raw dataset starts with a low group (0002 command/meta, 0008 identifying); anything else is
  // almost surely not DICOM, and refusing early keeps random files out of the parser.
  if (group !== 0x0002 && group !== 0x0008 && group !== 0x0000 && group !== 0x0010) return undefined;
  const vr0 = b[4]!;
  const vr1 = b[5]!;
  const isUpper = (c: number): boolean => c >= 0x41 && c <= 0x5a;
  return isUpper(vr0) && isUpper(vr1) ? TS.ExplicitLE : TS.ImplicitLE;
}

/**
 * Meta group end and transfer syntax as dicom-parser will see them (value up to the first NUL),
 * read without recursion; undefined when the meta group is malformed (dicom-parser then says so).
 */
function metaTransferSyntax(b: Uint8Array, start: number, end: number): string | undefined {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let pos = start; pos + 8 <= end;) {
    const tag = ((dv.getUint16(pos, true) << 16) | dv.getUint16(pos + 2, true)) >>> 0;
    const vr = String.fromCharCode(b[pos + 4]!, b[pos + 5]!);
    const long = ['OB', 'OD', 'OL', 'OW', 'SQ', 'OF', 'UC', 'UR', 'UT', 'UN'].includes(vr);
    if (long && pos + 12 > end) return undefined;
    const length = long ? dv.getUint32(pos + 8, true) : dv.getUint16(pos + 6, true);
    const value = pos + (long ? 12 : 8);
    if (tag === 0x00020010) {
      if (value + length > b.length) return undefined;
      const text = Buffer.from(b.buffer, b.byteOffset + value, length).toString('latin1');
      const nul = text.indexOf('\0');
      return nul >= 0 ? text.slice(0, nul) : text;
    }
    if (length === 0xffffffff) return undefined;
    pos = value + length;
  }
  return undefined;
}

/** Refuses a dataset whose sequences nest deeper than the configured limit, before dicom-parser recurses into it. */
function checkNesting(b: Uint8Array, start: number, opts: NestingOptions, file: string): { end: number } {
  const limit = dicomLimits().maxSequenceDepth;
  const r = sequenceNesting(b, start, opts, limit);
  if (r.depth > limit) {
    throw new DicomError(file, 'too_large', `sequences nested more than ${limit} deep (the limit, ${limitName('maxSequenceDepth')})`);
  }
  return r;
}

function toBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Parses a DICOM Part 10 file (or a raw little-endian dataset) into a dicom-parser DataSet.
 * Throws DicomError('not_dicom' | 'truncated' | 'corrupt') naming `file`.
 */
export function parseDataset(bytes: Uint8Array, file: string, opts: ParseOptions = {}): DataSet {
  let buf = toBuffer(bytes);
  const options: Record<string, unknown> = {};
  if (opts.untilPixelData) options.untilTag = PIXEL_DATA_TAG;
  const untilTag = opts.untilPixelData ? 0x7fe00010 : undefined;
  options.inflater = (arr: Uint8Array, position: number): Uint8Array => {
    const deflated = arr.subarray(position);
    let inflated: Buffer;
    try {
      inflated = zlib.inflateRawSync(deflated, opts.partial ? { finishFlush: zlib.constants.Z_SYNC_FLUSH } : {});
    } catch (e) {
      throw new DicomError(file, 'corrupt', `deflated dataset does not inflate: ${(e as Error).message}`);
    }
    const out = Buffer.allocUnsafe(position + inflated.length);
    out.set(arr.subarray(0, position), 0);
    out.set(inflated, position);
    checkNesting(out, position, { explicit: true, bigEndian: false, untilTag }, file);
    return out;
  };
  if (!hasPreamble(buf)) {
    if (buf.length >= 4 && buf[0] === 0x44 && buf[1] === 0x49 && buf[2] === 0x43 && buf[3] === 0x4d) {
      // "DICM" without the 128-byte preamble: restore the preamble so the parser finds the meta group.
      const fixed = Buffer.alloc(128 + buf.length);
      fixed.set(buf, 128);
      buf = fixed;
    } else {
      const guess = sniffRawDataset(buf);
      if (!guess) throw new DicomError(file, 'not_dicom', 'no DICM preamble, not a raw dataset');
      options.TransferSyntaxUID = guess;
    }
  }
  if (options.TransferSyntaxUID) {
    const ts = options.TransferSyntaxUID as string;
    checkNesting(buf, 0, { explicit: ts !== TS.ImplicitLE, bigEndian: false, untilTag }, file);
  } else {
    const meta = checkNesting(buf, 132, { explicit: true, bigEndian: false, metaOnly: true }, file);
    const ts = metaTransferSyntax(buf, 132, meta.end);
    if (ts !== undefined && ts !== TS.DeflatedLE) {
      checkNesting(buf, meta.end, { explicit: ts !== TS.ImplicitLE, bigEndian: ts === TS.ExplicitBE, untilTag }, file);
    }
  }
  let ds: DataSet;
  try {
    // An implicit VR dataset under an explicit VR transfer syntax: read as implicit (implicit-dataset.ts).
    ds = (!options.TransferSyntaxUID && parseImplicitDespiteSyntax(buf, opts.untilPixelData)) || dicomParser.parseDicom(buf, options);
  } catch (err) {
    if (err instanceof DicomError) throw err;
    if (options.TransferSyntaxUID)
      throw new DicomError(file, 'not_dicom', `no preamble, and not readable as a raw dataset (${asDicomError(file, err).summary})`);
    throw asDicomError(file, err);
  }
  if (!opts.partial) {
    // dicom-parser seeks past element values without bounds checks, so a cut file parses "fine"
    // with lengths pointing past the end. Catch that here, once, for every consumer.
    const len = ds.byteArray.length;
    for (const el of Object.values(ds.elements)) {
      if (el.length === 0xffffffff || el.dataOffset === undefined) continue;
      if (el.tag === PIXEL_DATA_TAG && opts.untilPixelData) continue;
      if (el.dataOffset + el.length > len) {
        throw new DicomError(
          file,
          'truncated',
          `element (${tagName(el.tag)}) needs ${el.dataOffset + el.length} bytes, the file has ${len}`,
        );
      }
    }
    // Encapsulated pixel data: every fragment inside the file. A missing sequence delimiter after
    // whole fragments is tolerated (as dicom-parser does): the frame checks catch lost frames.
    const px = ds.elements[PIXEL_DATA_TAG];
    if (px?.encapsulatedPixelData) {
      for (const [i, f] of (px.fragments ?? []).entries()) {
        if (f.position + f.length > len)
          throw new DicomError(file, 'truncated', `pixel data fragment ${i + 1} needs ${f.position + f.length} bytes, the file has ${len}`);
      }
    }
  }
  if (options.TransferSyntaxUID) {
    // A raw dataset must at least look like an image or instance; otherwise we parsed noise.
    const e = ds.elements;
    if (!e.x00080016 && !e.x00080018 && !e.x00280010 && !e.x00080060) {
      throw new DicomError(file, 'not_dicom', 'no preamble, and no identifying attributes');
    }
    (ds as DataSet & { rawTransferSyntax?: string }).rawTransferSyntax = options.TransferSyntaxUID as string;
  }
  return ds;
}

/** "7FE0,0010" from dicom-parser's "x7fe00010". */
export function tagName(tag: string): string {
  return `${tag.slice(1, 5)},${tag.slice(5)}`.toUpperCase();
}

/** The transfer syntax of a parsed dataset (meta header, or the guess for raw datasets). */
export function datasetTransferSyntax(ds: DataSet): string {
  const raw = (ds as DataSet & { rawTransferSyntax?: string }).rawTransferSyntax;
  return (raw ?? ds.string('x00020010') ?? TS.ImplicitLE).replace(/\0/g, '').trim();
}
