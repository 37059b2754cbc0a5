// Read-side queries over the imported library: counts, the studies table (filtered, paged, fast
// at 10,000+ studies thanks to the per-table indexes), one study's instances, refused files.
import type { ImportProblem, InstanceSummary, LibraryStats, StudyFilter, StudySummary } from '../../common/contract';
import type { Db } from './database';

interface StudyRow {
  id: number;
  study_uid: string;
  patient_id: string;
  patient_name: string | null;
  study_date: string | null;
  accession: string | null;
  description: string | null;
  modalities: string | null;
  views: string | null;
  images: number;
  for_processing: number | null;
  labels: number;
  predictions: number;
}

const STUDY_SELECT = `
  SELECT s.id, s.study_uid, p.patient_id, p.patient_name, s.study_date, s.accession, s.description,
    (SELECT group_concat(DISTINCT i.modality) FROM series se JOIN instances i ON i.series_ref = se.id WHERE se.study_ref = s.id) AS modalities,
    (SELECT group_concat(DISTINCT coalesce(i.laterality, '') || coalesce(i.view_position, ''))
       FROM series se JOIN instances i ON i.series_ref = se.id WHERE se.study_ref = s.id) AS views,
    (SELECT count(*) FROM series se JOIN instances i ON i.series_ref = se.id WHERE se.study_ref = s.id) AS images,
    (SELECT count(*) FROM series se JOIN instances i ON i.series_ref = se.id
       WHERE se.study_ref = s.id AND i.presentation_intent = 'FOR PROCESSING') AS for_processing,
    (SELECT count(*) FROM labels l WHERE l.study_ref = s.id) AS labels,
    (SELECT count(*) FROM predictions pr WHERE pr.study_ref = s.id) AS predictions
  FROM studies s JOIN patients p ON p.id = s.patient_ref`;

/** Mammography reading order for the views list. */
const VIEW_ORDER = ['RCC', 'LCC', 'RMLO', 'LMLO'];

export class LibraryRepo {
  constructor(private readonly db: Db) {}

  stats(): LibraryStats {
    const count = (table: string): number => (this.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return {
      patients: count('patients'),
      studies: count('studies'),
      series: count('series'),
      instances: count('instances'),
      labels: count('labels'),
      predictions: count('predictions'),
      models: count('models'),
    };
  }

  studies(filter: StudyFilter, sort: StudySort, limit: number, offset: number): { total: number; rows: StudySummary[] } {
    const { where, params } = studyWhere(filter);
    const total = (
      this.db.prepare(`SELECT count(*) AS n FROM studies s JOIN patients p ON p.id = s.patient_ref ${where}`).get(params) as { n: number }
    ).n;
    const rows = this.db
      .prepare(`${STUDY_SELECT} ${where} ORDER BY ${orderBy(sort)} LIMIT @limit OFFSET @offset`)
      .all({ ...params, limit, offset }) as StudyRow[];
    return { total, rows: rows.map(toStudy) };
  }

  study(id: number): { study: StudySummary; instances: InstanceSummary[] } | null {
    const row = this.db.prepare(`${STUDY_SELECT} WHERE s.id = ?`).get(id) as StudyRow | undefined;
    if (!row) return null;
    const instances = this.db
      .prepare(
        `SELECT i.id, i.sop_instance_uid AS sopInstanceUid, se.series_uid AS seriesUid, i.file_path AS filePath, i.modality,
           i.laterality, i.view_position AS viewPosition, i.rows, i.columns, i.bits_stored AS bitsStored, i.photometric,
           i.number_of_frames AS numberOfFrames, i.transfer_syntax_uid AS transferSyntaxUid,
           i.presentation_intent AS presentationIntent, i.manufacturer
         FROM instances i JOIN series se ON se.id = i.series_ref
         WHERE se.study_ref = ? ORDER BY se.series_number, i.instance_number, i.id`,
      )
      .all(id) as InstanceSummary[];
    return { study: toStudy(row), instances };
  }

  problems(
    jobId: number | undefined,
    limit: number,
    offset: number,
  ): { total: number; counts: { skipped: number; refused: number }; rows: ImportProblem[] } {
    const where = jobId === undefined ? '' : 'WHERE job_ref = @jobId';
    const params = jobId === undefined ? {} : { jobId };
    const byKind = this.db.prepare(`SELECT kind, count(*) AS n FROM import_problems ${where} GROUP BY kind`).all(params) as {
      kind: 'skipped' | 'refused';
      n: number;
    }[];
    const counts = { skipped: 0, refused: 0 };
    for (const r of byKind) counts[r.kind] = r.n;
    const total = counts.skipped + counts.refused;
    const rows = this.db
      .prepare(
        `SELECT id, job_ref AS jobId, file_path AS filePath, kind, reason, created_at AS createdAt FROM import_problems ${where}
         ORDER BY id LIMIT @limit OFFSET @offset`,
      )
      .all({ ...params, limit, offset }) as ImportProblem[];
    return { total, counts, rows };
  }
}

export interface StudySort {
  key: 'studyDate' | 'patientId' | 'accession' | 'images';
  dir: 'asc' | 'desc';
}

const SORT_COLUMNS: Record<StudySort['key'], string> = {
  studyDate: 's.study_date',
  patientId: 'p.patient_id',
  accession: 's.accession',
  images: 'images',
};

/** Only whitelisted columns reach the SQL; the id breaks ties so paging is stable. */
function orderBy(sort: StudySort): string {
  const dir = sort.dir === 'asc' ? 'ASC' : 'DESC';
  return `${SORT_COLUMNS[sort.key]} ${dir}, s.id ${dir}`;
}

function studyWhere(f: StudyFilter): { where: string; params: Record<string, unknown> } {
  const clauses: string[] = [];
  const params: Record<string, unknown> = {};
  const hasInstance = (cond: string): string =>
    `EXISTS (SELECT 1 FROM series se JOIN instances i ON i.series_ref = se.id WHERE se.study_ref = s.id AND ${cond})`;
  if (f.text) {
    params.text = `%${f.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    clauses.push(
      `(p.patient_id LIKE @text ESCAPE '\\' OR p.patient_name LIKE @text ESCAPE '\\' OR s.accession LIKE @text ESCAPE '\\' OR s.description LIKE @text ESCAPE '\\')`,
    );
  }
  if (f.modality) {
    params.modality = f.modality;
    clauses.push(hasInstance('i.modality = @modality'));
  }
  if (f.laterality) {
    params.laterality = f.laterality;
    clauses.push(hasInstance('i.laterality = @laterality'));
  }
  if (f.view) {
    params.view = f.view;
    clauses.push(hasInstance('i.view_position = @view'));
  }
  if (f.presentationIntent) {
    params.intent = f.presentationIntent;
    clauses.push(
      hasInstance(
        f.presentationIntent === 'FOR PROCESSING'
          ? `i.presentation_intent = @intent`
          : `coalesce(i.presentation_intent, '') <> 'FOR PROCESSING'`,
      ),
    );
    if (f.presentationIntent !== 'FOR PROCESSING') delete params.intent;
  }
  if (f.labelled !== undefined) clauses.push(`${f.labelled ? '' : 'NOT '}EXISTS (SELECT 1 FROM labels l WHERE l.study_ref = s.id)`);
  return { where: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

function splitList(v: string | null): string[] {
  return v ? v.split(',').filter((x) => x.length > 0) : [];
}

function toStudy(r: StudyRow): StudySummary {
  const views = splitList(r.views).sort((a, b) => {
    const ia = VIEW_ORDER.indexOf(a);
    const ib = VIEW_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  return {
    id: r.id,
    studyUid: r.study_uid,
    patientId: r.patient_id,
    patientName: r.patient_name,
    studyDate: r.study_date,
    accession: r.accession,
    description: r.description,
    modalities: splitList(r.modalities),
    views,
    images: r.images,
    forProcessing: r.for_processing ?? 0,
    labels: r.labels,
    predictions: r.predictions,
  };
}
