// Reading the DICOM JSON model (PS3.18 F.2) that QIDO-RS, WADO-RS metadata and STOW-RS answers use:
// an object per dataset keyed by 8-hex-digit tags, each {vr, Value?: [...]}.
export type DicomJsonElement = { vr?: string; Value?: unknown[] };
export type DicomJsonDataset = Record<string, DicomJsonElement | undefined>;

export const TAG = {
  SpecificCharacterSet: '00080005',
  StudyDate: '00080020',
  StudyTime: '00080030',
  AccessionNumber: '00080050',
  ModalitiesInStudy: '00080061',
  Modality: '00080060',
  RetrieveURL: '00081190',
  StudyDescription: '00081030',
  SeriesDescription: '0008103E',
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  FailureReason: '00081197',
  WarningReason: '00081196',
  FailedSOPSequence: '00081198',
  ReferencedSOPSequence: '00081199',
  ReferencedSOPClassUID: '00081150',
  ReferencedSOPInstanceUID: '00081155',
  PatientName: '00100010',
  PatientID: '00100020',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  SeriesNumber: '00200011',
  InstanceNumber: '00200013',
  NumberOfStudyRelatedSeries: '00201206',
  NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209',
} as const;

function element(ds: DicomJsonDataset, tag: string): DicomJsonElement | undefined {
  // Tags are upper-case hex in the standard; some servers write lower case.
  return ds[tag] ?? ds[tag.toLowerCase()];
}

/** The first value as a string (PN: its Alphabetic group), null when absent or empty. */
export function str(ds: DicomJsonDataset, tag: string): string | null {
  const v = element(ds, tag)?.Value?.[0];
  if (v === undefined || v === null) return null;
  if (typeof v === 'object') {
    const alpha = (v as { Alphabetic?: unknown }).Alphabetic;
    return typeof alpha === 'string' && alpha !== '' ? alpha : null;
  }
  const s = String(v).trim();
  return s === '' ? null : s;
}

/** Every value as strings. */
export function strs(ds: DicomJsonDataset, tag: string): string[] {
  return (element(ds, tag)?.Value ?? []).filter((v) => v !== null && typeof v !== 'object').map((v) => String(v).trim());
}

/** The first value as an integer (IS values may arrive as numbers or strings), null when absent. */
export function int(ds: DicomJsonDataset, tag: string): number | null {
  const v = element(ds, tag)?.Value?.[0];
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.trim()) : NaN;
  return Number.isInteger(n) ? n : null;
}

/** The items of a sequence. */
export function items(ds: DicomJsonDataset, tag: string): DicomJsonDataset[] {
  return (element(ds, tag)?.Value ?? []).filter((v): v is DicomJsonDataset => typeof v === 'object' && v !== null);
}

/** An answer that must be a JSON array of datasets (QIDO-RS). */
export function datasets(json: unknown): DicomJsonDataset[] | null {
  if (!Array.isArray(json)) return null;
  return json.every((d) => typeof d === 'object' && d !== null && !Array.isArray(d)) ? (json as DicomJsonDataset[]) : null;
}
