// Typed header attributes of one DICOM instance. Read up to the pixel data only, so an import can
// index thousands of files per second without touching (or decoding) the pixels. The object is
// plain JSON (nulls, not undefined) so the indexer can store it as columns or as one JSON blob.
import type fs from 'node:fs/promises';
import type { DataSet } from 'dicom-parser';
import { type CodedConcept, breastSideOf, mammoViewOf } from '../../common/imaging/mammo-view';
import { DicomError, asDicomError } from './errors';
import { openRegularFile } from './file-access';
import { checkCodestreamClaim, checkRleFrame } from './limits';
import { PIXEL_DATA_TAG, datasetTransferSyntax, parseDataset } from './parse';
import { checkDeclaredGeometry, checkPixelDataPresent, parseNumberOfFrames } from './pixel-geometry';
import { type TransferSyntaxInfo, transferSyntaxInfo } from './transfer-syntax';

export const SOP_CLASS = {
  MgForPresentation: '1.2.840.10008.5.1.4.1.1.1.2',
  MgForProcessing: '1.2.840.10008.5.1.4.1.1.1.2.1',
  DxForPresentation: '1.2.840.10008.5.1.4.1.1.1',
  DxForProcessing: '1.2.840.10008.5.1.4.1.1.1.1',
  BreastTomosynthesis: '1.2.840.10008.5.1.4.1.1.13.1.3',
  SecondaryCapture: '1.2.840.10008.5.1.4.1.1.7',
  MediaStorageDirectory: '1.2.840.10008.1.3.10',
} as const;

const FOR_PROCESSING_CLASSES = new Set<string>([
  SOP_CLASS.MgForProcessing,
  SOP_CLASS.DxForProcessing,
  '1.2.840.10008.5.1.4.1.1.1.3.1', // intra-oral for processing
]);

export interface DicomHeader {
  transferSyntaxUID: string;
  /** Human name of the transfer syntax, null if we do not decode it. */
  transferSyntaxName: string | null;
  sopClassUID: string | null;
  sopInstanceUID: string | null;
  patientID: string | null;
  patientName: string | null;
  studyInstanceUID: string | null;
  seriesInstanceUID: string | null;
  studyDate: string | null; // YYYYMMDD as stored
  studyTime: string | null;
  accessionNumber: string | null;
  studyDescription: string | null;
  seriesDescription: string | null;
  seriesNumber: number | null;
  instanceNumber: number | null;
  modality: string | null;
  presentationIntentType: string | null;
  manufacturer: string | null;
  manufacturerModelName: string | null;
  bodyPartExamined: string | null;
  imageLaterality: string | null;
  laterality: string | null;
  viewPosition: string | null;
  /** FrameLaterality (0020,9072) of the shared (else first per-frame) Frame Anatomy functional group. */
  frameLaterality: string | null;
  /** View Code Sequence items (CID 4014), as written. */
  viewCodes: CodedConcept[];
  /** Anatomic Region Sequence items and their modifiers (where some vendors code the laterality). */
  anatomicCodes: CodedConcept[];
  /** Column and row directions, e.g. ["A","R"]; drives orientation when present. */
  patientOrientation: string[] | null;
  rows: number | null;
  columns: number | null;
  bitsAllocated: number | null;
  bitsStored: number | null;
  highBit: number | null;
  pixelRepresentation: number | null;
  photometricInterpretation: string | null;
  samplesPerPixel: number;
  planarConfiguration: number | null;
  /** Frames to decode: NumberOfFrames when it is a whole number ≥ 1, else 1 (see declaredNumberOfFrames). */
  numberOfFrames: number;
  /** NumberOfFrames as written, null when absent: "abc", "-1" or "0" make the image refused, not one frame. */
  declaredNumberOfFrames: string | null;
  pixelSpacing: [number, number] | null;
  imagerPixelSpacing: [number, number] | null;
  /** EstimatedRadiographicMagnificationFactor (0018,1114). */
  magnificationFactor: number | null;
  /** PixelSpacingCalibrationType (0028,0A02): GEOMETRY, FIDUCIAL, or null when PixelSpacing was not calibrated. */
  pixelSpacingCalibrationType: string | null;
  windowCenter: number[];
  windowWidth: number[];
  windowExplanation: string[];
  voiLutFunction: string | null;
  rescaleSlope: number | null;
  rescaleIntercept: number | null;
  rescaleType: string | null;
  hasVoiLutSequence: boolean;
  hasModalityLutSequence: boolean;
  hasPixelData: boolean;
  /** Float (7FE0,0008) or double (7FE0,0009) pixel data rather than integer. */
  floatPixelData: boolean;
  /** Byte offset and length of the Pixel Data value in the (inflated) file; length -1 = undefined (encapsulated). */
  pixelDataOffset: number | null;
  pixelDataLength: number | null;
  // Derived, so consumers do not each re-derive them.
  /** ImageLaterality, else Laterality, else the codes (common/imaging/mammo-view.ts): 'L' | 'R' | 'B' | 'U' or null. */
  breastSide: string | null;
  /** ViewPosition, else the view of the View Code Sequence (common/imaging/mammo-view.ts): 'CC', 'MLO', ... or null. */
  mammoView: string | null;
  /** PresentationIntentType FOR PROCESSING or a for-processing SOP class: not for display or models. */
  forProcessing: boolean;
}

/** Decodes a string element honouring the charset (UTF-8 when declared, else Latin-1). */
function rawString(ds: DataSet, tag: string): string | undefined {
  const el = ds.elements[tag];
  if (!el || !(el.length > 0) || el.length === 0xffffffff) return undefined;
  const end = el.dataOffset + el.length;
  if (end > ds.byteArray.length) return undefined; // cut file: treat as absent rather than garbage
  const bytes = ds.byteArray.subarray(el.dataOffset, end);
  const cs = ds.elements.x00080005 ? (ds.string('x00080005') ?? '') : '';
  const text = /ISO_IR 192/.test(cs) ? new TextDecoder('utf-8').decode(bytes) : Buffer.from(bytes).toString('latin1');
  return text.replace(/[\0 ]+$/g, '');
}

function str(ds: DataSet, tag: string): string | null {
  const s = rawString(ds, tag)?.trim();
  return s ? s : null;
}

function strs(ds: DataSet, tag: string): string[] {
  const s = rawString(ds, tag);
  return s ? s.split('\\').map((v) => v.trim()) : [];
}

function nums(ds: DataSet, tag: string): number[] {
  return strs(ds, tag)
    .map((v) => Number(v))
    .filter((v) => Number.isFinite(v));
}

function num(ds: DataSet, tag: string): number | null {
  const v = nums(ds, tag)[0];
  return v === undefined ? null : v;
}

/** US values; tolerant of the element being absent or too short. */
function us(ds: DataSet, tag: string): number | null {
  const el = ds.elements[tag];
  if (!el || el.length < 2 || el.dataOffset + 2 > ds.byteArray.length) return null;
  return ds.uint16(tag) ?? null;
}

function pair(v: number[]): [number, number] | null {
  return v.length >= 2 ? [v[0]!, v[1]!] : null;
}

function items(ds: DataSet | undefined, tag: string): DataSet[] {
  return (ds?.elements[tag]?.items ?? []).map((i) => i.dataSet).filter((d): d is DataSet => d !== undefined);
}

function codeOf(ds: DataSet): CodedConcept {
  return { value: str(ds, 'x00080100'), scheme: str(ds, 'x00080102'), meaning: str(ds, 'x00080104') };
}

/** FrameLaterality from the shared functional groups, else the first frame's. */
function frameLateralityOf(ds: DataSet): string | null {
  for (const groups of [items(ds, 'x52009229'), items(ds, 'x52009230').slice(0, 1)])
    for (const g of groups)
      for (const anatomy of items(g, 'x00209071')) {
        const v = str(anatomy, 'x00209072');
        if (v) return v;
      }
  return null;
}

/** Builds the typed header from a parsed dataset (full or stopped at the pixel data). */
export function headerFromDataset(ds: DataSet): DicomHeader {
  const tsUid = datasetTransferSyntax(ds);
  const e = ds.elements;
  const pixel = e[PIXEL_DATA_TAG] ?? e.x7fe00008 ?? e.x7fe00009;
  const sopClassUID = str(ds, 'x00080016') ?? str(ds, 'x00020002');
  const presentationIntentType = str(ds, 'x00080068');
  const imageLaterality = str(ds, 'x00200062');
  const laterality = str(ds, 'x00200060');
  const framesText = str(ds, 'x00280008');
  const viewPosition = str(ds, 'x00185101');
  const frameLaterality = frameLateralityOf(ds);
  const viewCodes = items(ds, 'x00540220').map(codeOf);
  const anatomicCodes = items(ds, 'x00082218').flatMap((r) => [codeOf(r), ...items(r, 'x00082220').map(codeOf)]);
  const viewFacts = { imageLaterality, laterality, frameLaterality, anatomicCodes, viewPosition, viewCodes };
  return {
    transferSyntaxUID: tsUid,
    transferSyntaxName: transferSyntaxInfo(tsUid)?.name ?? null,
    sopClassUID,
    sopInstanceUID: str(ds, 'x00080018') ?? str(ds, 'x00020003'),
    patientID: str(ds, 'x00100020'),
    patientName: str(ds, 'x00100010'),
    studyInstanceUID: str(ds, 'x0020000d'),
    seriesInstanceUID: str(ds, 'x0020000e'),
    studyDate: str(ds, 'x00080020'),
    studyTime: str(ds, 'x00080030'),
    accessionNumber: str(ds, 'x00080050'),
    studyDescription: str(ds, 'x00081030'),
    seriesDescription: str(ds, 'x0008103e'),
    seriesNumber: num(ds, 'x00200011'),
    instanceNumber: num(ds, 'x00200013'),
    modality: str(ds, 'x00080060'),
    presentationIntentType,
    manufacturer: str(ds, 'x00080070'),
    manufacturerModelName: str(ds, 'x00081090'),
    bodyPartExamined: str(ds, 'x00180015'),
    imageLaterality,
    laterality,
    viewPosition,
    frameLaterality,
    viewCodes,
    anatomicCodes,
    patientOrientation: strs(ds, 'x00200020').length ? strs(ds, 'x00200020') : null,
    rows: us(ds, 'x00280010'),
    columns: us(ds, 'x00280011'),
    bitsAllocated: us(ds, 'x00280100'),
    bitsStored: us(ds, 'x00280101'),
    highBit: us(ds, 'x00280102'),
    pixelRepresentation: us(ds, 'x00280103'),
    photometricInterpretation: str(ds, 'x00280004'),
    samplesPerPixel: us(ds, 'x00280002') ?? 1,
    planarConfiguration: us(ds, 'x00280006'),
    numberOfFrames: (framesText !== null ? parseNumberOfFrames(framesText) : null) ?? 1,
    declaredNumberOfFrames: framesText,
    pixelSpacing: pair(nums(ds, 'x00280030')),
    imagerPixelSpacing: pair(nums(ds, 'x00181164')),
    magnificationFactor: num(ds, 'x00181114'),
    pixelSpacingCalibrationType: str(ds, 'x00280a02'),
    windowCenter: nums(ds, 'x00281050'),
    windowWidth: nums(ds, 'x00281051'),
    windowExplanation: strs(ds, 'x00281055'),
    voiLutFunction: str(ds, 'x00281056'),
    rescaleSlope: num(ds, 'x00281053'),
    rescaleIntercept: num(ds, 'x00281052'),
    rescaleType: str(ds, 'x00281054'),
    hasVoiLutSequence: Boolean(e.x00283010?.items?.length),
    hasModalityLutSequence: Boolean(e.x00283000?.items?.length),
    hasPixelData: Boolean(pixel),
    floatPixelData: !e[PIXEL_DATA_TAG] && Boolean(e.x7fe00008 ?? e.x7fe00009),
    pixelDataOffset: pixel ? pixel.dataOffset : null,
    pixelDataLength: pixel ? (pixel.length === 0xffffffff ? -1 : pixel.length) : null,
    breastSide: breastSideOf(viewFacts),
    mammoView: mammoViewOf(viewFacts),
    forProcessing: isForProcessing(presentationIntentType, sopClassUID),
  };
}

/** FOR PROCESSING by PresentationIntentType or by SOP class (what `--only-for-presentation` leaves out). */
export function isForProcessing(presentationIntentType: string | null, sopClassUID: string | null): boolean {
  return (
    (presentationIntentType ?? '').trim().toUpperCase() === 'FOR PROCESSING' ||
    (sopClassUID !== null && FOR_PROCESSING_CLASSES.has(sopClassUID))
  );
}

/** Header of an in-memory file (whole file or a prefix of it). */
export function readHeaderFromBytes(bytes: Uint8Array, file = '<buffer>'): DicomHeader {
  return headerFromDataset(parseDataset(bytes, file, { untilPixelData: true }));
}

const FIRST_READ = 64 * 1024;

export interface ReadHeaderOptions {
  /**
   * Also check that the pixel data can be decoded as declared (pixel-geometry.ts): geometry,
   * transfer syntax, the data present against Rows x Columns x BitsAllocated x NumberOfFrames,
   * encapsulated fragments inside the file, the first codestream's size. What an import runs so
   * that the library only indexes files that decode. Reads a few more small pieces of the file.
   */
  checkPixelData?: boolean;
}

/**
 * Reads only as much of `file` as needed to reach the pixel data: 64 KiB first, growing when the
 * header is longer (big private groups, embedded icons). Deflated files are inflated in a
 * streaming-tolerant mode so a prefix suffices there too. Only regular files are opened.
 */
export async function readDicomHeader(file: string, opts: ReadHeaderOptions = {}): Promise<DicomHeader> {
  const { fh, size } = await openRegularFile(file);
  try {
    let want = Math.min(size, FIRST_READ);
    let cut: DicomError | undefined;
    for (;;) {
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, 0);
      const bytes = buf.subarray(0, bytesRead);
      const complete = bytesRead >= size;
      let header: DicomHeader;
      try {
        const ds = parseDataset(bytes, file, { untilPixelData: true, partial: !complete });
        // Without reaching the pixel data the prefix may simply have been too short.
        if (!complete && !ds.elements[PIXEL_DATA_TAG]) {
          want = Math.min(size, want * 8);
          continue;
        }
        header = headerFromDataset(ds);
        const info = transferSyntaxInfo(header.transferSyntaxUID);
        const { pixelDataOffset: off, pixelDataLength: len } = header;
        if (info && !info.deflated && off !== null && len !== null && len > 0 && off + len > size) {
          cut = new DicomError(file, 'truncated', `pixel data needs ${off + len} bytes, the file has ${size}`);
          throw cut;
        }
      } catch (err) {
        if (err === cut) throw err;
        const de = asDicomError(file, err);
        // A prefix that ends inside the header looks "truncated": read more before believing it.
        if (complete || de.reason === 'not_dicom' || de.reason === 'too_large') throw de;
        want = Math.min(size, want * 8);
        continue;
      }
      if (opts.checkPixelData && header.hasPixelData) await checkPixelsInFile(file, fh, size, header);
      return header;
    }
  } finally {
    await fh.close();
  }
}

/** Reads `file` through a 64 KiB window, so walking many small fragment headers costs few reads. */
function windowedReader(fh: fs.FileHandle, size: number): (pos: number, n: number) => Promise<Uint8Array> {
  let start = 0;
  let win = new Uint8Array(0);
  return async (pos, n) => {
    if (pos < start || pos + n > start + win.length) {
      const len = Math.min(Math.max(n, 64 * 1024), size - pos);
      const buf = Buffer.allocUnsafe(Math.max(len, 0));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      start = pos;
      win = buf.subarray(0, bytesRead);
    }
    return win.subarray(pos - start, pos - start + n);
  };
}

/** Import-time check that the pixel data can be decoded as the header declares (see ReadHeaderOptions). */
async function checkPixelsInFile(file: string, fh: fs.FileHandle, size: number, header: DicomHeader): Promise<void> {
  try {
    const info = transferSyntaxInfo(header.transferSyntaxUID);
    if (!info) throw new DicomError(file, 'unsupported', `transfer syntax ${header.transferSyntaxUID}`);
    checkDeclaredGeometry(header);
    if (info.deflated) {
      // Offsets are in the inflated dataset: inflate the whole file, as decoding will.
      const bytes = Buffer.allocUnsafe(size);
      await fh.read(bytes, 0, size, 0);
      const ds = parseDataset(bytes, file);
      const el = ds.elements[PIXEL_DATA_TAG] ?? ds.elements.x7fe00008 ?? ds.elements.x7fe00009;
      if (!el) throw new DicomError(file, 'no_pixels', 'no Pixel Data element');
      checkPixelDataPresent(header, info.encapsulated, {
        length: el.length === 0xffffffff ? -1 : el.length,
        available: ds.byteArray.length - el.dataOffset,
        fragments: el.fragments?.length,
      });
      return;
    }
    const offset = header.pixelDataOffset!;
    if (!info.encapsulated) {
      checkPixelDataPresent(header, false, { length: header.pixelDataLength ?? 0, available: size - offset });
      return;
    }
    if (header.pixelDataLength !== -1)
      throw new DicomError(file, 'corrupt', `transfer syntax ${info.name} but the pixel data is not encapsulated`);
    await checkFragments(file, windowedReader(fh, size), offset, size, header, info);
  } catch (err) {
    throw asDicomError(file, err);
  }
}

/** Walks the encapsulated pixel data's items: all inside the file, ended by the delimiter, enough for the frames. */
async function checkFragments(
  file: string,
  read: (pos: number, n: number) => Promise<Uint8Array>,
  start: number,
  size: number,
  header: DicomHeader,
  info: TransferSyntaxInfo,
): Promise<void> {
  let pos = start;
  let fragments = -1; // the first item is the Basic Offset Table
  let first: { pos: number; length: number } | undefined;
  for (;;) {
    // No sequence delimiter after whole fragments: tolerated, as when decoding (parse.ts).
    if (pos + 8 > size) break;
    const h = await read(pos, 8);
    const dv = new DataView(h.buffer, h.byteOffset, 8);
    const tag = ((dv.getUint16(0, true) << 16) | dv.getUint16(2, true)) >>> 0;
    const length = dv.getUint32(4, true);
    if (tag === 0xfffee0dd) break;
    if (fragments === -1 && tag !== 0xfffee000) {
      throw new DicomError(file, 'corrupt', 'encapsulated pixel data does not start with an offset table item');
    }
    if (pos + 8 + length > size) {
      throw new DicomError(file, 'truncated', `pixel data fragment ${fragments + 1} needs ${pos + 8 + length} bytes, the file has ${size}`);
    }
    fragments++;
    if (fragments === 1) first = { pos: pos + 8, length };
    pos += 8 + length;
    // dicom-parser takes an unexpected tag as the last fragment; so do we.
    if (tag !== 0xfffee000) break;
  }
  checkPixelDataPresent(header, true, { length: -1, available: size - start, fragments: Math.max(fragments, 0) });
  if (first) {
    const expect = {
      rows: header.rows ?? 0,
      columns: header.columns ?? 0,
      samplesPerPixel: header.samplesPerPixel,
      bitsAllocated: header.bitsAllocated ?? 0,
    };
    const head = await read(first.pos, Math.min(first.length, 4096));
    // A frame may span fragments: the first one's length is a lower bound, checked where it is the whole frame.
    if (info.codec === 'rle') checkRleFrame(head, header.numberOfFrames === fragments ? first.length : Infinity, expect);
    else checkCodestreamClaim(head, expect);
  }
}
