// CSV export of a run's predictions (one row per prediction, probabilities per class, the label).
import type { Prediction } from '../../common/runs';

function cell(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function predictionsCsv(rows: Prediction[], classes: string[]): string {
  const header = [
    'prediction_id',
    'scope',
    'patient_id',
    'accession',
    'study_date',
    'study_id',
    'instance_id',
    'laterality',
    'view',
    'predicted',
    'confidence',
    'label',
    ...classes.map((c) => `p_${c}`),
  ];
  const lines = [header.map(cell).join(',')];
  for (const p of rows) {
    lines.push(
      [
        p.id,
        p.scope,
        p.patientId,
        p.accession,
        p.studyDate,
        p.studyId,
        p.instanceId,
        p.laterality,
        p.view,
        p.predictedClass,
        p.confidence,
        p.label,
        ...classes.map((c) => p.probabilities[c] ?? null),
      ]
        .map(cell)
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}
