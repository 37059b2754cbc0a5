// Reading a source image's Patient/Study attributes and writing an SR as a Part 10 file, both
// through dcmjs (its dictionary, character sets and encoder) rather than by hand.
import fs from 'node:fs';
import dcmjs, { type NaturalDataset } from 'dcmjs';
import { IMPLEMENTATION_CLASS_UID } from '../dicom/uids';
import { SOURCE_STUDY_KEYWORDS } from './content';

const { DicomDict, DicomMessage, DicomMetaDictionary } = dcmjs.data;
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

/** The Patient and General Study attributes of a source image (read up to its pixel data). */
export function readSourceStudy(file: string): NaturalDataset {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read the source image ${file}: ${(err as Error).message}`);
  }
  let ds: NaturalDataset;
  try {
    const dict = DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, {
      untilTag: '7FE00010',
      includeUntilTagValue: false,
    });
    ds = DicomMetaDictionary.naturalizeDataset(dict.dict);
  } catch (err) {
    throw new Error(`cannot read the DICOM header of the source image ${file}: ${(err as Error).message}`);
  }
  const out: NaturalDataset = {};
  for (const k of [...SOURCE_STUDY_KEYWORDS.type2, ...SOURCE_STUDY_KEYWORDS.optional, 'StudyInstanceUID'])
    if (ds[k] !== undefined) out[k] = ds[k];
  return out;
}

/** A Part 10 file (Explicit VR Little Endian) of a naturalized dataset with SOPClassUID/SOPInstanceUID. */
export function encodePart10(dataset: NaturalDataset, implementationVersion: string): Uint8Array {
  const meta = DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: `CLEFT_${implementationVersion}`.slice(0, 16),
  });
  const dict = new DicomDict(meta);
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write());
}
