// Runs and their predictions: written by jobs, read by the Predictions page and by evaluation.
// Predictions are joined to labels of the same task and target, so disagreement is a query.
import { CleftError } from '../../common/errors';
import { RunRecord, type Prediction, type PredictionFilter, type Run, type RunKind } from '../../common/runs';
import type { Db } from './database';

export interface NewPrediction {
  scope: 'image' | 'breast' | 'exam';
  studyId: number;
  instanceId: number | null;
  laterality: 'L' | 'R' | null;
  /** Probabilities in the task's class order. */
  probabilities: number[];
}

interface RunRow {
  id: number;
  kind: RunKind;
  name: string;
  job_ref: number | null;
  model_ref: number | null;
  task_ref: number | null;
  prompt_set_ref: number | null;
  record_json: string;
  metrics_json: string | null;
  created_at: string;
  predictions: number;
  prompt_set_name: string | null;
}

/** A run with its prediction count and its prompt set's name. */
const RUN_SELECT = `SELECT r.*, (SELECT count(*) FROM predictions p WHERE p.run_ref = r.id) AS predictions,
  (SELECT ps.name FROM prompt_sets ps WHERE ps.id = r.prompt_set_ref) AS prompt_set_name FROM runs r`;

export interface PredictionSort {
  key: 'confidence' | 'studyDate' | 'predictedClass' | 'patientId';
  dir: 'asc' | 'desc';
}

const SORT: Record<PredictionSort['key'], string> = {
  confidence: 'confidence',
  studyDate: 'study_date',
  predictedClass: 'predicted_class',
  patientId: 'patient_id',
};

/** Predictions with the label at the same target (task, study, scope, image or breast). */
const PREDICTION_VIEW = `
  SELECT pr.id, pr.run_ref, pr.scope, pr.study_ref, pr.instance_ref, pr.laterality, pr.predicted_class,
    pr.probabilities_json,
    (SELECT max(value) FROM json_each(json_extract(pr.probabilities_json, '$.values'))) AS confidence,
    i.view_position AS view,
    (SELECT l.class_name FROM labels l WHERE l.task_ref = pr.task_ref AND l.study_ref = pr.study_ref AND l.scope = pr.scope
       AND l.instance_ref IS pr.instance_ref AND l.laterality IS (CASE WHEN pr.scope = 'breast' THEN pr.laterality ELSE NULL END)
       ORDER BY l.id DESC LIMIT 1) AS label,
    p.patient_id, s.accession, s.study_date, s.study_uid, se.series_uid, i.sop_instance_uid
  FROM predictions pr
  JOIN studies s ON s.id = pr.study_ref
  JOIN patients p ON p.id = s.patient_ref
  LEFT JOIN instances i ON i.id = pr.instance_ref
  LEFT JOIN series se ON se.id = i.series_ref`;

export class RunsRepo {
  constructor(private readonly db: Db) {}

  createRun(run: {
    kind: RunKind;
    name: string;
    jobId: number | null;
    modelId: number | null;
    taskId: number | null;
    promptSetId: number | null;
    record: RunRecord;
    metrics?: unknown;
  }): number {
    const info = this.db
      .prepare(
        `INSERT INTO runs (kind, name, job_ref, model_ref, task_ref, prompt_set_ref, record_json, metrics_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        run.kind,
        run.name,
        run.jobId,
        run.modelId,
        run.taskId,
        run.promptSetId,
        JSON.stringify(RunRecord.parse(run.record)),
        run.metrics === undefined ? null : JSON.stringify(run.metrics),
      );
    return Number(info.lastInsertRowid);
  }

  /** The run a job recorded (a resumed job's save checks for its own before adding one), or null. */
  runOfJob(jobId: number, kind: RunKind): number | null {
    const row = this.db.prepare(`SELECT id FROM runs WHERE job_ref = ? AND kind = ? ORDER BY id LIMIT 1`).get(jobId, kind) as
      { id: number } | undefined;
    return row?.id ?? null;
  }

  /** The run `cleft runs merge` made of the shard set with this key (record.params.mergedShards), or null. */
  runOfMergedShards(taskId: number, mergeKey: string): number | null {
    const row = this.db
      .prepare(`SELECT id FROM runs WHERE task_ref = ? AND json_extract(record_json, '$.params.mergedShards') = ? ORDER BY id LIMIT 1`)
      .get(taskId, mergeKey) as { id: number } | undefined;
    return row?.id ?? null;
  }

  /** The studies a run has predictions for (each study's are added in one transaction). */
  studiesWithPredictions(runId: number): Set<number> {
    const rows = this.db.prepare(`SELECT DISTINCT study_ref FROM predictions WHERE run_ref = ?`).all(runId) as { study_ref: number }[];
    return new Set(rows.map((r) => r.study_ref));
  }

  /** Records the execution provider that ran and where each graph ran (known once the run's images are encoded). */
  setExecutionProvider(runId: number, provider: string, device?: RunRecord['device']): void {
    const record = this.getRun(runId).record;
    const next = { ...record, executionProvider: provider, ...(device !== undefined ? { device } : {}) };
    this.db.prepare(`UPDATE runs SET record_json = ? WHERE id = ?`).run(JSON.stringify(next), runId);
  }

  setMetrics(runId: number, metrics: unknown): void {
    this.db.prepare(`UPDATE runs SET metrics_json = ? WHERE id = ?`).run(JSON.stringify(metrics), runId);
  }

  addPredictions(runId: number, classNames: string[], rows: NewPrediction[]): void {
    const run = this.getRun(runId);
    if (run.taskId === null) throw new CleftError('conflict', `run ${runId} has no task; predictions need one`);
    const insert = this.db.prepare(
      `INSERT INTO predictions (run_ref, job_ref, task_ref, model_ref, prompt_set_ref, scope, study_ref, instance_ref, laterality,
         probabilities_json, predicted_class, run_record_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const record = JSON.stringify(run.record);
    this.db
      .transaction(() => {
        for (const r of rows) {
          if (r.probabilities.length !== classNames.length) {
            throw new CleftError('internal', `prediction has ${r.probabilities.length} probabilities for ${classNames.length} classes`);
          }
          let best = 0;
          r.probabilities.forEach((p, i) => (best = p > r.probabilities[best]! ? i : best));
          insert.run(
            runId,
            run.jobId,
            run.taskId,
            run.modelId,
            run.promptSetId,
            r.scope,
            r.studyId,
            r.instanceId,
            r.laterality,
            JSON.stringify({ classes: classNames, values: r.probabilities }),
            classNames[best]!,
            record,
          );
        }
      })
      .immediate();
  }

  getRun(id: number): Run {
    const row = this.db.prepare(`${RUN_SELECT} WHERE r.id = ?`).get(id) as RunRow | undefined;
    if (!row) throw new CleftError('not_found', `no run with id ${id}`);
    return toRun(row);
  }

  listRuns(filter: { taskId?: number | undefined; kind?: RunKind | undefined }): Run[] {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (filter.taskId !== undefined) {
      where.push('r.task_ref = @taskId');
      params.taskId = filter.taskId;
    }
    if (filter.kind !== undefined) {
      where.push('r.kind = @kind');
      params.kind = filter.kind;
    }
    const rows = this.db
      .prepare(`${RUN_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY r.id DESC`)
      .all(params) as RunRow[];
    return rows.map(toRun);
  }

  predictions(
    runId: number,
    filter: PredictionFilter,
    sort: PredictionSort,
    limit: number,
    offset: number,
  ): { total: number; rows: Prediction[] } {
    this.getRun(runId);
    const where = ['run_ref = @runId'];
    const params: Record<string, unknown> = { runId };
    if (filter.scope) {
      where.push('scope = @scope');
      params.scope = filter.scope;
    }
    if (filter.predictedClass) {
      where.push('predicted_class = @cls');
      params.cls = filter.predictedClass;
    }
    if (filter.minConfidence !== undefined) {
      where.push('confidence >= @minC');
      params.minC = filter.minConfidence;
    }
    if (filter.maxConfidence !== undefined) {
      where.push('confidence <= @maxC');
      params.maxC = filter.maxConfidence;
    }
    if (filter.disagreement !== undefined)
      where.push(filter.disagreement ? 'label IS NOT NULL AND label <> predicted_class' : 'label = predicted_class');
    if (filter.labelled !== undefined) where.push(filter.labelled ? 'label IS NOT NULL' : 'label IS NULL');
    const base = `SELECT * FROM (${PREDICTION_VIEW}) WHERE ${where.join(' AND ')}`;
    const total = (this.db.prepare(`SELECT count(*) AS n FROM (${base})`).get(params) as { n: number }).n;
    const dir = sort.dir === 'asc' ? 'ASC' : 'DESC';
    const rows = this.db
      .prepare(`${base} ORDER BY ${SORT[sort.key]} ${dir}, id ${dir} LIMIT @limit OFFSET @offset`)
      .all({ ...params, limit, offset }) as PredictionRow[];
    return { total, rows: rows.map(toPrediction) };
  }

  /**
   * The newest zero-shot run of a task (optionally of one model / prompt set, null = templates, or
   * one run) with predictions for a study, and those predictions. Runs of an adaptor head are not
   * zero-shot and are left out. Indexed by predictions_study.
   */
  studyPredictions(q: {
    studyId: number;
    taskId: number;
    modelId?: number | undefined;
    promptSet?: string | null | undefined;
    runId?: number | undefined;
  }): { run: Run; predictions: Prediction[] } | null {
    const row = this.db
      .prepare(
        `SELECT pr.run_ref AS id FROM predictions pr JOIN runs r ON r.id = pr.run_ref
         WHERE pr.study_ref = @studyId AND pr.task_ref = @taskId AND r.kind = 'zero-shot'
           AND json_extract(r.record_json, '$.params.adaptor') IS NULL
           AND (@runId IS NULL OR r.id = @runId) AND (@modelId IS NULL OR r.model_ref = @modelId)
           AND (@anySet OR coalesce((SELECT ps.name FROM prompt_sets ps WHERE ps.id = r.prompt_set_ref),
                                    json_extract(r.record_json, '$.params.promptSet')) IS @promptSet)
         ORDER BY pr.run_ref DESC LIMIT 1`,
      )
      .get({
        studyId: q.studyId,
        taskId: q.taskId,
        runId: q.runId ?? null,
        modelId: q.modelId ?? null,
        anySet: q.promptSet === undefined ? 1 : 0,
        promptSet: q.promptSet ?? null,
      }) as { id: number } | undefined;
    if (!row) return null;
    const rows = this.db
      .prepare(`SELECT * FROM (${PREDICTION_VIEW}) WHERE run_ref = ? AND study_ref = ? ORDER BY id`)
      .all(row.id, q.studyId) as PredictionRow[];
    return { run: this.getRun(row.id), predictions: rows.map(toPrediction) };
  }

  /** Every prediction of a run at one scope with its label, for evaluation and CSV export. */
  allPredictions(runId: number, scope?: 'image' | 'breast' | 'exam'): Prediction[] {
    const rows = this.db
      .prepare(`SELECT * FROM (${PREDICTION_VIEW}) WHERE run_ref = ? ${scope ? 'AND scope = ?' : ''} ORDER BY id`)
      .all(...(scope ? [runId, scope] : [runId])) as PredictionRow[];
    return rows.map(toPrediction);
  }
}

interface PredictionRow {
  id: number;
  run_ref: number | null;
  scope: 'image' | 'breast' | 'exam';
  study_ref: number;
  instance_ref: number | null;
  laterality: string | null;
  predicted_class: string;
  probabilities_json: string;
  confidence: number;
  view: string | null;
  label: string | null;
  patient_id: string;
  accession: string | null;
  study_date: string | null;
  study_uid: string;
  series_uid: string | null;
  sop_instance_uid: string | null;
}

function toPrediction(r: PredictionRow): Prediction {
  const { classes, values } = JSON.parse(r.probabilities_json) as { classes: string[]; values: number[] };
  return {
    id: r.id,
    runId: r.run_ref,
    scope: r.scope,
    studyId: r.study_ref,
    instanceId: r.instance_ref,
    laterality: r.laterality,
    view: r.view,
    predictedClass: r.predicted_class,
    confidence: r.confidence,
    probabilities: Object.fromEntries(classes.map((c, i) => [c, values[i]!])),
    label: r.label,
    patientId: r.patient_id,
    accession: r.accession,
    studyDate: r.study_date,
    studyUid: r.study_uid,
    seriesUid: r.series_uid,
    sopInstanceUid: r.sop_instance_uid,
  };
}

function toRun(r: RunRow): Run {
  const record = RunRecord.parse(JSON.parse(r.record_json));
  // Runs made before prompt_sets rows were linked name their prompt set in the record's params.
  const named = record.params.promptSet;
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    jobId: r.job_ref,
    modelId: r.model_ref,
    taskId: r.task_ref,
    promptSetId: r.prompt_set_ref,
    promptSet: r.prompt_set_name ?? (typeof named === 'string' && named.length > 0 ? named : null),
    record,
    metrics: r.metrics_json === null ? null : (JSON.parse(r.metrics_json) as unknown),
    predictions: r.predictions,
    createdAt: r.created_at,
  };
}
