// Read-side queries over the imported library: counts, the studies table (filtered, paged, fast
// at 10,000+ studies thanks to the per-table indexes), one study's instances, refused files.
import type { ImportProblem, InstanceSummary, LibraryStats, StudyFilter, StudyPrediction, StudySummary } from '../../common/contract';
import type { Db } from './database';
import { DUPLICATE_PHRASE, NOT_DICOM_PHRASE, problemGroup, type ProblemGroup } from '../../common/import-problems';
import { FOR_PRESENTATION, FOR_PROCESSING, FOR_PROCESSING_INTENT } from './images-repo';

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
  lp_run: number | null;
  lp_task: number | null;
  lp_class: string | null;
  lp_probabilities: string | null;
  lp_label: string | null;
  lp_disagreement: number | null;
}

/**
 * A study's latest exam-scope prediction ("lp"), by the StudyFilter's rules: of @runId, else of
 * @taskId, else of any task (parameters left unbound are NULL and drop out). Uses the
 * predictions_study index, then a handful of rows per study.
 */
const LATEST_PREDICTION = `
  LEFT JOIN predictions lp ON lp.id = (
    SELECT pr.id FROM predictions pr WHERE pr.study_ref = s.id AND pr.scope = 'exam'
      AND (@lpRun IS NULL OR pr.run_ref = @lpRun) AND (@lpTask IS NULL OR pr.task_ref = @lpTask)
    ORDER BY pr.id DESC LIMIT 1)`;

/** Some labelled target of the study differs from lp's run's prediction at that target. */
const DISAGREES = `EXISTS (
    SELECT 1 FROM predictions q JOIN labels l ON l.study_ref = q.study_ref AND l.task_ref = q.task_ref AND l.scope = q.scope
      AND l.instance_ref IS q.instance_ref AND l.laterality IS (CASE WHEN q.scope = 'breast' THEN q.laterality ELSE NULL END)
    WHERE q.study_ref = s.id AND q.task_ref = lp.task_ref AND q.run_ref = lp.run_ref AND l.class_name <> q.predicted_class)`;

const IMAGES = `(SELECT count(*) FROM series se JOIN instances i ON i.series_ref = se.id WHERE se.study_ref = s.id)`;

const STUDY_SELECT = `
  SELECT s.id, s.study_uid, p.patient_id, p.patient_name, s.study_date, s.accession, s.description,
    (SELECT group_concat(DISTINCT i.modality) FROM series se JOIN instances i ON i.series_ref = se.id WHERE se.study_ref = s.id) AS modalities,
    (SELECT group_concat(DISTINCT coalesce(i.laterality, '') || coalesce(i.view_position, ''))
       FROM series se JOIN instances i ON i.series_ref = se.id WHERE se.study_ref = s.id) AS views,
    ${IMAGES} AS images,
    (SELECT count(*) FROM series se JOIN instances i ON i.series_ref = se.id
       WHERE se.study_ref = s.id AND ${FOR_PROCESSING}) AS for_processing,
    (SELECT count(*) FROM labels l WHERE l.study_ref = s.id) AS labels,
    (SELECT count(*) FROM predictions pr WHERE pr.study_ref = s.id) AS predictions,
    lp.run_ref AS lp_run, lp.task_ref AS lp_task, lp.predicted_class AS lp_class, lp.probabilities_json AS lp_probabilities,
    (SELECT l.class_name FROM labels l WHERE l.study_ref = s.id AND l.task_ref = lp.task_ref AND l.scope = 'exam'
       ORDER BY l.id DESC LIMIT 1) AS lp_label,
    CASE WHEN lp.id IS NULL THEN NULL ELSE ${DISAGREES} END AS lp_disagreement`;

const STUDY_FROM = `FROM studies s JOIN patients p ON p.id = s.patient_ref ${LATEST_PREDICTION}`;

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
      reports: count('reports'),
    };
  }

  studies(filter: StudyFilter, sort: StudySort, limit: number, offset: number): { total: number; rows: StudySummary[] } {
    const { where, params } = studyWhere(filter);
    // The latest-prediction join only when a filter needs it: counting 10,000 studies stays cheap.
    const from = usesPrediction(filter) ? STUDY_FROM : `FROM studies s JOIN patients p ON p.id = s.patient_ref`;
    const total = (this.db.prepare(`SELECT count(*) AS n ${from} ${where}`).get(params) as { n: number }).n;
    const rows = this.db
      .prepare(`${STUDY_SELECT} ${STUDY_FROM} ${where} ORDER BY ${orderBy(sort)} LIMIT @limit OFFSET @offset`)
      .all({ ...params, limit, offset }) as StudyRow[];
    return { total, rows: rows.map(toStudy) };
  }

  /** Every study id matching a filter, in the list's order (a selection to classify). */
  studyIds(filter: StudyFilter, sort: StudySort): number[] {
    const { where, params } = studyWhere(filter);
    const from = usesPrediction(filter) ? STUDY_FROM : `FROM studies s JOIN patients p ON p.id = s.patient_ref`;
    return (this.db.prepare(`SELECT s.id ${from} ${where} ORDER BY ${orderBy(sort, true)}`).all(params) as { id: number }[]).map(
      (r) => r.id,
    );
  }

  /** Where a study stands (0-based) in the filtered, sorted list; null when the filter excludes it. */
  position(studyId: number, filter: StudyFilter, sort: StudySort): number | null {
    const { where, params } = studyWhere(filter);
    const from = usesPrediction(filter) ? STUDY_FROM : `FROM studies s JOIN patients p ON p.id = s.patient_ref`;
    const row = this.db
      .prepare(
        `SELECT n FROM (SELECT s.id, row_number() OVER (ORDER BY ${orderBy(sort, true)}) - 1 AS n ${from} ${where}) WHERE id = @studyId`,
      )
      .get({ ...params, studyId }) as { n: number } | undefined;
    return row ? row.n : null;
  }

  study(id: number): { study: StudySummary; instances: InstanceSummary[] } | null {
    const row = this.db.prepare(`${STUDY_SELECT} ${STUDY_FROM} WHERE s.id = @id`).get({ id, lpRun: null, lpTask: null }) as
      StudyRow | undefined;
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

  /**
   * The files an import left out, with their counts by kind and by group (not DICOM, duplicates,
   * other skipped, refused). Without a job id: those of the latest import (an import job or the
   * demo's), so the counts are per import and never add up across imports.
   */
  problems(
    jobId: number | undefined,
    limit: number,
    offset: number,
  ): {
    jobId: number | null;
    total: number;
    counts: { skipped: number; refused: number };
    groups: Record<ProblemGroup, number>;
    rows: ImportProblem[];
  } {
    const job =
      jobId ?? (this.db.prepare(`SELECT max(id) AS id FROM jobs WHERE kind IN ('import', 'demo')`).get() as { id: number | null }).id;
    const params = { jobId: job ?? -1 };
    const byKind = this.db
      .prepare(
        `SELECT kind, substr(reason, 1, @n) = @notDicom AS notDicom, substr(reason, 1, @d) = @duplicate AS duplicate, count(*) AS n
         FROM import_problems WHERE job_ref = @jobId GROUP BY 1, 2, 3`,
      )
      .all({
        ...params,
        n: NOT_DICOM_PHRASE.length,
        notDicom: NOT_DICOM_PHRASE,
        d: DUPLICATE_PHRASE.length,
        duplicate: DUPLICATE_PHRASE,
      }) as { kind: 'skipped' | 'refused'; notDicom: number; duplicate: number; n: number }[];
    const counts = { skipped: 0, refused: 0 };
    const groups: Record<ProblemGroup, number> = { notDicom: 0, duplicate: 0, skipped: 0, refused: 0 };
    for (const r of byKind) {
      counts[r.kind] += r.n;
      const reason = r.notDicom ? NOT_DICOM_PHRASE : r.duplicate ? DUPLICATE_PHRASE : '';
      groups[problemGroup({ kind: r.kind, reason })] += r.n;
    }
    const total = counts.skipped + counts.refused;
    const rows = this.db
      .prepare(
        `SELECT id, job_ref AS jobId, file_path AS filePath, kind, reason, created_at AS createdAt FROM import_problems
         WHERE job_ref = @jobId ORDER BY id LIMIT @limit OFFSET @offset`,
      )
      .all({ ...params, limit, offset }) as ImportProblem[];
    return { jobId: job, total, counts, groups, rows };
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
function orderBy(sort: StudySort, expression = false): string {
  const dir = sort.dir === 'asc' ? 'ASC' : 'DESC';
  // Without the select list (ids, positions) the images alias does not exist: sort by its expression.
  const column = expression && sort.key === 'images' ? IMAGES : SORT_COLUMNS[sort.key];
  return `${column} ${dir}, s.id ${dir}`;
}

function usesPrediction(f: StudyFilter): boolean {
  return f.predictedClass !== undefined || f.predicted !== undefined || f.disagreement !== undefined;
}

function studyWhere(f: StudyFilter): { where: string; params: Record<string, unknown> } {
  const clauses: string[] = [];
  const params: Record<string, unknown> = { lpRun: f.runId ?? null, lpTask: f.taskId ?? null };
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
    clauses.push(hasInstance(f.presentationIntent === FOR_PROCESSING_INTENT ? FOR_PROCESSING : FOR_PRESENTATION));
  }
  if (f.labelled !== undefined) clauses.push(`${f.labelled ? '' : 'NOT '}EXISTS (SELECT 1 FROM labels l WHERE l.study_ref = s.id)`);
  if (f.predicted !== undefined) clauses.push(f.predicted ? 'lp.id IS NOT NULL' : 'lp.id IS NULL');
  if (f.predictedClass !== undefined) {
    params.predictedClass = f.predictedClass;
    clauses.push('lp.predicted_class = @predictedClass');
  }
  if (f.disagreement === true) clauses.push(`lp.id IS NOT NULL AND ${DISAGREES}`);
  if (f.disagreement === false)
    clauses.push(
      `lp.id IS NOT NULL AND EXISTS (SELECT 1 FROM labels l WHERE l.study_ref = s.id AND l.task_ref = lp.task_ref) AND NOT ${DISAGREES}`,
    );
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
    prediction: toPrediction(r),
  };
}

function toPrediction(r: StudyRow): StudyPrediction | null {
  if (r.lp_class === null || r.lp_task === null || r.lp_probabilities === null) return null;
  const { values } = JSON.parse(r.lp_probabilities) as { values: number[] };
  return {
    runId: r.lp_run,
    taskId: r.lp_task,
    className: r.lp_class,
    confidence: Math.max(...values),
    label: r.lp_label,
    disagreement: r.lp_disagreement === 1,
  };
}
