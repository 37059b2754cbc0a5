// A task's labels as CSV keyed by DICOM identifiers (the columns an import reads back): one row per
// label; SOPInstanceUID and view only for image labels, laterality for breast and image labels.
import { LABEL_EXPORT_COLUMNS } from '../../common/label-files';
import type { LabelExportRow } from '../db/label-import-repo';

function cell(v: string | null): string {
  if (v === null) return '';
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The library's placeholder for a study without PatientID is not an identifier: exported empty. */
const patientId = (p: string) => (p.startsWith('(no PatientID) ') ? '' : p);

export function labelsCsv(rows: readonly LabelExportRow[]): string {
  const lines = [LABEL_EXPORT_COLUMNS.join(',')];
  for (const r of rows)
    lines.push(
      [r.studyUid, r.accession, patientId(r.patientId), r.sop, r.laterality, r.view, r.className, r.annotator, r.createdAt]
        .map(cell)
        .join(','),
    );
  return lines.join('\n') + '\n';
}
