// How an import's left-out files are grouped for people: files that are not DICOM at all (reports,
// label files beside the images: normal), duplicate SOP instances (another file was kept), other
// skipped files (DICOMDIRs, FIFOs, links), and refused DICOM (should have been readable: a problem).
// The import records each file with a kind and a reason; the reason's opening phrase says the group.

/** The reason phrase of a file that is not DICOM (the DICOM layer's wording for `not_dicom`). */
export const NOT_DICOM_PHRASE = 'not a DICOM file';
/** The reason phrase of a file skipped because another file with its SOPInstanceUID was kept. */
export const DUPLICATE_PHRASE = 'duplicate of';

export type ProblemGroup = 'notDicom' | 'duplicate' | 'skipped' | 'refused';

export function problemGroup(p: { kind: 'skipped' | 'refused'; reason: string }): ProblemGroup {
  if (p.kind === 'refused') return 'refused';
  if (p.reason.startsWith(NOT_DICOM_PHRASE)) return 'notDicom';
  if (p.reason.startsWith(DUPLICATE_PHRASE)) return 'duplicate';
  return 'skipped';
}

/** The reason recorded for a skipped duplicate: names the file that was kept. */
export function duplicateReason(kept: string): string {
  return `${DUPLICATE_PHRASE} ${kept} (same SOPInstanceUID; that file was kept)`;
}
