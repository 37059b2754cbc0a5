// Job rows: the persistent half of the job queue.
import type { Db } from './database';
import type { Job, JobStatus } from '../../common/jobs';

interface JobRow {
  id: number;
  kind: string;
  status: JobStatus;
  params_json: string;
  progress: number;
  message: string;
  result_json: string | null;
  error: string | null;
  checkpoint_path: string | null;
  revision: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

function nowIso(): string {
  return new Date().toISOString();
}

export class JobsRepo {
  constructor(private readonly db: Db) {}

  insert(kind: string, params: unknown): number {
    const info = this.db
      .prepare(`INSERT INTO jobs (kind, status, params_json, message) VALUES (?, 'queued', ?, 'Waiting to start')`)
      .run(kind, JSON.stringify(params));
    return Number(info.lastInsertRowid);
  }

  get(id: number): Job | undefined {
    const row = this.db.prepare(`SELECT * FROM jobs WHERE id = ?`).get(id) as JobRow | undefined;
    return row && toJob(row);
  }

  list(options: { status?: JobStatus; kind?: string; limit: number }): Job[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM jobs WHERE (@status IS NULL OR status = @status) AND (@kind IS NULL OR kind = @kind) ORDER BY id DESC LIMIT @limit`,
      )
      .all({ status: options.status ?? null, kind: options.kind ?? null, limit: options.limit }) as JobRow[];
    return rows.map(toJob);
  }

  nextQueued(): Job | undefined {
    const row = this.db.prepare(`SELECT * FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1`).get() as JobRow | undefined;
    return row && toJob(row);
  }

  markRunning(id: number): void {
    this.db
      .prepare(
        `UPDATE jobs SET revision = revision + 1, status = 'running', started_at = coalesce(started_at, ?), error = NULL, finished_at = NULL WHERE id = ?`,
      )
      .run(nowIso(), id);
  }

  setProgress(id: number, fraction: number, message: string): void {
    this.db.prepare(`UPDATE jobs SET revision = revision + 1, progress = ?, message = ? WHERE id = ?`).run(fraction, message, id);
  }

  setCheckpoint(id: number, checkpointPath: string): void {
    this.db.prepare(`UPDATE jobs SET revision = revision + 1, checkpoint_path = ? WHERE id = ?`).run(checkpointPath, id);
  }

  finish(id: number, status: 'done' | 'failed' | 'cancelled', fields: { result?: unknown; error?: string; message: string }): void {
    this.db
      .prepare(
        `UPDATE jobs SET revision = revision + 1, status = ?, result_json = ?, error = ?, message = ?, finished_at = ?,
           progress = CASE WHEN ? = 'done' THEN 1 ELSE progress END
         WHERE id = ?`,
      )
      .run(
        status,
        fields.result === undefined ? null : JSON.stringify(fields.result),
        fields.error ?? null,
        fields.message,
        nowIso(),
        status,
        id,
      );
  }

  requeue(id: number): void {
    this.db
      .prepare(`UPDATE jobs SET revision = revision + 1, status = 'queued', message = 'Waiting to resume', error = NULL WHERE id = ?`)
      .run(id);
  }

  /** A job still `running` when the app starts was cut off by a crash or kill. */
  markInterrupted(): number[] {
    const rows = this.db.prepare(`SELECT id FROM jobs WHERE status = 'running'`).all() as { id: number }[];
    this.db
      .prepare(
        `UPDATE jobs SET revision = revision + 1, status = 'interrupted', message = 'Interrupted: the app stopped while this job ran. Resume to continue.' WHERE status = 'running'`,
      )
      .run();
    return rows.map((r) => r.id);
  }
}

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    params: JSON.parse(row.params_json) as unknown,
    progress: { fraction: row.progress, message: row.message, etaSeconds: null },
    result: row.result_json === null ? null : (JSON.parse(row.result_json) as unknown),
    error: row.error,
    checkpointPath: row.checkpoint_path,
    revision: row.revision,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}
