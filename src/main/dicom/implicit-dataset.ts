// Datasets written in implicit VR although the meta header names an explicit VR transfer syntax
// (seen from writers that compress the pixels and relabel the file without re-encoding the rest).
// dicom-parser then reads value bytes as VRs and stops with "buffer overrun"; GDCM and pydicom
// notice the missing VR and read the dataset as implicit VR, and so do we, with a warning.
import dicomParser, { type ByteArray, type ByteArrayParser, type DataSet, type Element } from 'dicom-parser';
import { TS } from './transfer-syntax';

/** Transfer syntaxes whose dataset is not explicit VR little endian as stored. */
const NOT_EXPLICIT_LE = new Set<string>([TS.ImplicitLE, TS.ExplicitBE, TS.DeflatedLE]);

const isUpper = (c: number | undefined): boolean => c !== undefined && c >= 0x41 && c <= 0x5a;

const readAsImplicit = new WeakMap<DataSet, string>();

/** The warning for a dataset this module read as implicit VR, if it did. */
export function implicitReadWarning(ds: DataSet): string | undefined {
  return readAsImplicit.get(ds);
}

type DataSetCtor = new (parser: ByteArrayParser, byteArray: ByteArray, elements: Record<string, Element>) => DataSet;

/**
 * Parses `buf` (a Part 10 file with preamble) as implicit VR little endian after its meta header
 * when the meta header says explicit VR but the first dataset element carries no VR. Undefined
 * when that is not the case (the caller parses normally). Encapsulated Pixel Data is read by item
 * lengths, as in an explicit dataset; with `untilPixelData`, reading stops at its header.
 */
export function parseImplicitDespiteSyntax(buf: Uint8Array, untilPixelData = false): DataSet | undefined {
  let meta: DataSet & { position?: number };
  try {
    meta = dicomParser.readPart10Header(buf);
  } catch {
    return undefined;
  }
  const ts = (meta.string('x00020010') ?? '').replace(/\0/g, '').trim();
  const pos = meta.position;
  if (!ts || NOT_EXPLICIT_LE.has(ts) || pos === undefined || pos + 8 > buf.length) return undefined;
  if (isUpper(buf[pos + 4]) && isUpper(buf[pos + 5])) return undefined; // a VR is there: explicit, as announced
  const group = buf[pos]! | (buf[pos + 1]! << 8);
  if (group === 0x0002) return undefined;
  const parser = dicomParser.littleEndianByteArrayParser;
  const stream = new dicomParser.ByteStream(parser, buf, pos);
  const DataSetClass = (dicomParser as unknown as { DataSet: DataSetCtor }).DataSet;
  const ds = new DataSetClass(parser, buf, {});
  const warnings: string[] = [];
  (ds as DataSet & { warnings: string[] }).warnings = warnings;
  dicomParser.parseDicomDataSetImplicit(ds, stream, buf.length, { untilTag: 'x7fe00010' });
  const pixel = ds.elements.x7fe00010;
  if (pixel && !untilPixelData) {
    if (pixel.length === 0xffffffff) {
      pixel.vr = 'OB';
      dicomParser.findEndOfEncapsulatedElement(stream, pixel, warnings);
    } else if (stream.position + pixel.length <= buf.length) stream.seek(pixel.length);
    else stream.position = buf.length; // the truncation check of parseDataset reports it
    if (stream.position < buf.length) dicomParser.parseDicomDataSetImplicit(ds, stream, buf.length);
  }
  for (const [tag, el] of Object.entries(meta.elements)) ds.elements[tag] = el;
  const warning = `the dataset is encoded in implicit VR although transfer syntax ${ts} is explicit VR: read as implicit VR`;
  warnings.unshift(warning);
  readAsImplicit.set(ds, warning);
  return ds;
}
