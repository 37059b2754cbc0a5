// CSV export of a run's predictions keyed by DICOM UIDs, so a table of results joins back to the
// archive: one row per prediction, a probability column per class, the label, which part of the
// split the study was in for the run's lineage, and what made the prediction.
import type { Prediction } from '../../common/runs';

type PredictionScope = Prediction['scope'];
import { pseudonym } from './pseudonym';

function cell(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The library's placeholder for a study without PatientID is not an identifier: exported empty. */
const patientId = (p: string) => (p.startsWith('(no PatientID) ') ? '' : p);

export interface PredictionsExportContext {
  /** image: with SeriesInstanceUID and SOPInstanceUID; undefined: every scope, with a `scope` column. */
  scope: PredictionScope | undefined;
  classes: string[];
  /** train / val / test / '' of a study (evaluation-set.ts studiesOfLineage). */
  partOf: (studyUid: string) => string;
  bundle: { name: string | null; sha256: string | null };
  promptSet: { name: string | null; sha256: string | null };
  runId: number;
  appVersion: string;
  /** The library's pseudonym key: PatientID and AccessionNumber become keyed hashes. */
  pseudonymKey?: Buffer | undefined;
}

export function predictionsExportColumns(scope: PredictionScope | undefined, classes: string[]): string[] {
  const uids = scope === 'image' || scope === undefined ? ['SeriesInstanceUID', 'SOPInstanceUID'] : [];
  return [
    ...(scope === undefined ? ['scope'] : []),
    'StudyInstanceUID',
    ...uids,
    'AccessionNumber',
    'PatientID',
    'laterality',
    'view',
    ...classes.map((c) => `p_${c}`),
    'predicted',
    'label',
    'split_part',
    'bundle',
    'bundle_sha256',
    'prompt_set',
    'prompt_set_sha256',
    'run_id',
    'app_version',
  ];
}

export function predictionsCsv(rows: Prediction[], x: PredictionsExportContext): string {
  const key = x.pseudonymKey;
  const ids = (v: string | null) => (v === null ? null : key ? pseudonym(key, v) : v);
  const lines = [predictionsExportColumns(x.scope, x.classes).map(cell).join(',')];
  for (const p of rows) {
    const uids = x.scope === 'image' || x.scope === undefined ? [p.seriesUid, p.sopInstanceUid] : [];
    lines.push(
      [
        ...(x.scope === undefined ? [p.scope] : []),
        p.studyUid,
        ...uids,
        ids(p.accession),
        ids(patientId(p.patientId)),
        p.laterality,
        p.view,
        ...x.classes.map((c) => p.probabilities[c] ?? null),
        p.predictedClass,
        p.label,
        x.partOf(p.studyUid),
        x.bundle.name,
        x.bundle.sha256,
        x.promptSet.name,
        x.promptSet.sha256,
        x.runId,
        x.appVersion,
      ]
        .map(cell)
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}
