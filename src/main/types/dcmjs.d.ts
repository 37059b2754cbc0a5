// dcmjs publishes no TypeScript types: the parts of it the app uses (reading a file's header,
// naturalized datasets, writing a Part 10 file), as far as we rely on them.
declare module 'dcmjs' {
  /** A dataset keyed by DICOM keywords (PatientName, ContentSequence, ...), sequences as arrays. */
  export type NaturalDataset = Record<string, unknown>;
  /** A dataset keyed by 8-digit hex tags, each `{ vr, Value }`. */
  export type DenaturalizedDataset = Record<string, { vr: string; Value?: unknown[] }>;

  export class DicomDict {
    constructor(meta: DenaturalizedDataset);
    meta: DenaturalizedDataset;
    dict: DenaturalizedDataset;
    write(options?: { allowInvalidVRLength?: boolean }): ArrayBuffer;
  }

  export interface ReadOptions {
    ignoreErrors?: boolean;
    /** Stop reading at this tag (8 hex digits, e.g. "7FE00010"). */
    untilTag?: string | null;
    includeUntilTagValue?: boolean;
    noCopy?: boolean;
    forceStoreRaw?: boolean;
  }

  const dcmjs: {
    data: {
      DicomDict: typeof DicomDict;
      DicomMessage: { readFile(buffer: ArrayBuffer, options?: ReadOptions): DicomDict };
      DicomMetaDictionary: {
        naturalizeDataset(dataset: DenaturalizedDataset): NaturalDataset;
        denaturalizeDataset(dataset: NaturalDataset): DenaturalizedDataset;
      };
    };
  };
  export default dcmjs;
}
