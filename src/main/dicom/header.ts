// Typed header attributes of one DICOM instance. Read up to the pixel data only, so an import can
// index thousands of files per second without touching (or decoding) the pixels. The object is
// plain JSON (nulls, not undefined) so the indexer can store it as columns or as one JSON blob.
import fs from 'node:fs/promises';
import type { DataSet } from 'dicom-parser';
import { DicomError, asDicomError } from './errors';
import { PIXEL_DATA_TAG, datasetTransferSyntax, parseDataset } from './parse';
import { transferSyntaxInfo } from './transfer-syntax';

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
  numberOfFrames: number;
  pixelSpacing: [number, number] | null;
  imagerPixelSpacing: [number, number] | null;
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
  /** ImageLaterality, else Laterality: 'L' | 'R' | 'B' | 'U' or null. */
  breastSide: string | null;
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

/** Builds the typed header from a parsed dataset (full or stopped at the pixel data). */
export function headerFromDataset(ds: DataSet): DicomHeader {
  const tsUid = datasetTransferSyntax(ds);
  const e = ds.elements;
  const pixel = e[PIXEL_DATA_TAG] ?? e.x7fe00008 ?? e.x7fe00009;
  const sopClassUID = str(ds, 'x00080016') ?? str(ds, 'x00020002');
  const presentationIntentType = str(ds, 'x00080068');
  const imageLaterality = str(ds, 'x00200062');
  const laterality = str(ds, 'x00200060');
  const nFrames = num(ds, 'x00280008');
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
    viewPosition: str(ds, 'x00185101'),
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
    numberOfFrames: nFrames !== null && nFrames >= 1 ? Math.floor(nFrames) : 1,
    pixelSpacing: pair(nums(ds, 'x00280030')),
    imagerPixelSpacing: pair(nums(ds, 'x00181164')),
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
    breastSide: (imageLaterality ?? laterality)?.toUpperCase() ?? null,
    forProcessing:
      (presentationIntentType ?? '').toUpperCase() === 'FOR PROCESSING' ||
      (sopClassUID !== null && FOR_PROCESSING_CLASSES.has(sopClassUID)),
  };
}

/** Header of an in-memory file (whole file or a prefix of it). */
export function readHeaderFromBytes(bytes: Uint8Array, file = '<buffer>'): DicomHeader {
  return headerFromDataset(parseDataset(bytes, file, { untilPixelData: true }));
}

const FIRST_READ = 64 * 1024;

/**
 * Reads only as much of `file` as needed to reach the pixel data: 64 KiB first, growing when the
 * header is longer (big private groups, embedded icons). Deflated files are inflated in a
 * streaming-tolerant mode so a prefix suffices there too.
 */
export async function readDicomHeader(file: string): Promise<DicomHeader> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch (err) {
    throw new DicomError(file, 'io', `cannot open: ${(err as Error).message}`);
  }
  try {
    const size = (await fh.stat()).size;
    let want = Math.min(size, FIRST_READ);
    let cut: DicomError | undefined;
    for (;;) {
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, 0);
      const bytes = buf.subarray(0, bytesRead);
      const complete = bytesRead >= size;
      try {
        const ds = parseDataset(bytes, file, { untilPixelData: true, partial: !complete });
        // Without reaching the pixel data the prefix may simply have been too short.
        if (!complete && !ds.elements[PIXEL_DATA_TAG]) {
          want = Math.min(size, want * 8);
          continue;
        }
        const header = headerFromDataset(ds);
        const info = transferSyntaxInfo(header.transferSyntaxUID);
        const { pixelDataOffset: off, pixelDataLength: len } = header;
        if (info && !info.deflated && off !== null && len !== null && len > 0 && off + len > size) {
          cut = new DicomError(file, 'truncated', `truncated: pixel data needs ${off + len} bytes, file has ${size}`);
          throw cut;
        }
        return header;
      } catch (err) {
        if (err === cut) throw err;
        const de = asDicomError(file, err);
        // A prefix that ends inside the header looks "truncated": read more before believing it.
        if (complete || de.reason === 'not_dicom') throw de;
        want = Math.min(size, want * 8);
      }
    }
  } finally {
    await fh.close();
  }
}
