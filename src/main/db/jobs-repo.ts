// Job rows: the persistent half of the job queue.
import type { Db } from './database';
import { Job, jobKinds, type JobStatus } from '../../common/jobs';

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
  owner_pid: number | null;
  heartbeat_at: string | null;
  cancel_requested: number;
}

/** The process that runs the library's jobs, as it recorded itself. */
export interface RunnerRecord {
  pid: number;
  command: string;
  startedAt: string;
  heartbeatAt: string;
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

  /** A job's params as stored (JSON), whether or not they fit its kind's schema. */
  storedParams(id: number): unknown {
    const row = this.db.prepare(`SELECT params_json FROM jobs WHERE id = ?`).get(id) as { params_json: string } | undefined;
    return row ? (JSON.parse(row.params_json) as unknown) : undefined;
  }

  get(id: number): Job | undefined {
    const row = this.db.prepare(`SELECT * FROM jobs WHERE id = ?`).get(id) as JobRow | undefined;
    return row && isKnownKind(row.kind) ? toJob(row) : undefined;
  }

  list(options: { status?: JobStatus; kind?: string; limit: number }): Job[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM jobs WHERE (@status IS NULL OR status = @status) AND (@kind IS NULL OR kind = @kind) ORDER BY id DESC LIMIT @limit`,
      )
      .all({ status: options.status ?? null, kind: options.kind ?? null, limit: options.limit }) as JobRow[];
    return toJobs(rows);
  }

  /** The oldest queued job (among `only`, when given). */
  nextQueued(only?: readonly number[]): Job | undefined {
    const row = this.db
      .prepare(
        `SELECT * FROM jobs WHERE status = 'queued' AND (? IS NULL OR id IN (SELECT value FROM json_each(?)))
           AND kind IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT 1`,
      )
      .get(only ? 1 : null, JSON.stringify(only ?? []), JSON.stringify(Object.keys(jobKinds))) as JobRow | undefined;
    return row && toJob(row);
  }

  /** Marks a queued job running in process `pid`; false when it is no longer queued (cancelled meanwhile). */
  markRunning(id: number, pid: number): boolean {
    const now = nowIso();
    return (
      this.db
        .prepare(
          `UPDATE jobs SET revision = revision + 1, status = 'running', started_at = coalesce(started_at, ?), error = NULL,
             finished_at = NULL, owner_pid = ?, heartbeat_at = ?, cancel_requested = 0
           WHERE id = ? AND status = 'queued'`,
        )
        .run(now, pid, now, id).changes > 0
    );
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

  /** Requeues an interrupted, failed or cancelled job; false when it is in another state by now. */
  requeue(id: number): boolean {
    return (
      this.db
        .prepare(
          `UPDATE jobs SET revision = revision + 1, status = 'queued', message = 'Waiting to resume', error = NULL, cancel_requested = 0
           WHERE id = ? AND status IN ('interrupted', 'failed', 'cancelled')`,
        )
        .run(id).changes > 0
    );
  }

  /** Cancels a job that is not running (queued or interrupted); false when it is in another state by now. */
  cancelWaiting(id: number): boolean {
    return (
      this.db
        .prepare(
          `UPDATE jobs SET revision = revision + 1, status = 'cancelled', message = 'Cancelled', finished_at = ?
           WHERE id = ? AND status IN ('queued', 'interrupted')`,
        )
        .run(nowIso(), id).changes > 0
    );
  }

  /** Asks the runner of a running job (another process) to cancel it; false when it is not running by now. */
  requestCancel(id: number): boolean {
    return (
      this.db
        .prepare(
          `UPDATE jobs SET revision = revision + 1, cancel_requested = 1, message = 'Cancelling…' WHERE id = ? AND status = 'running'`,
        )
        .run(id).changes > 0
    );
  }

  /** Running jobs some process asked to cancel. */
  cancelRequests(): number[] {
    return (this.db.prepare(`SELECT id FROM jobs WHERE status = 'running' AND cancel_requested = 1`).all() as { id: number }[]).map(
      (r) => r.id,
    );
  }

  /** Jobs not yet final, plus `ids` (whatever their state): what a process follows for changes. */
  unsettledOr(ids: readonly number[]): Job[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM jobs WHERE status IN ('queued', 'running', 'interrupted') OR id IN (SELECT value FROM json_each(?)) ORDER BY id`,
      )
      .all(JSON.stringify(ids)) as JobRow[];
    return toJobs(rows);
  }

  /** Records `pid` as the library's job runner (it holds the runner lock). */
  setRunner(pid: number, command: string): void {
    const now = nowIso();
    this.db
      .prepare(
        `INSERT INTO job_runner (id, pid, command, started_at, heartbeat_at) VALUES (1, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, command = excluded.command, started_at = excluded.started_at,
           heartbeat_at = excluded.heartbeat_at`,
      )
      .run(pid, command, now, now);
  }

  runner(): RunnerRecord | undefined {
    const row = this.db.prepare(`SELECT pid, command, started_at, heartbeat_at FROM job_runner WHERE id = 1`).get() as
      { pid: number; command: string; started_at: string; heartbeat_at: string } | undefined;
    return row && { pid: row.pid, command: row.command, startedAt: row.started_at, heartbeatAt: row.heartbeat_at };
  }

  /** The runner `pid` and the jobs it runs are alive (a mark for people reading the rows; the lock decides). */
  heartbeat(pid: number): void {
    const now = nowIso();
    this.db
      .transaction(() => {
        this.db.prepare(`UPDATE job_runner SET heartbeat_at = ? WHERE id = 1 AND pid = ?`).run(now, pid);
        this.db.prepare(`UPDATE jobs SET heartbeat_at = ? WHERE status = 'running' AND owner_pid = ?`).run(now, pid);
      })
      .immediate();
  }

  /**
   * Jobs left `running` by a runner that is gone (called by the new runner once it holds the lock, so
   * no process runs them): interrupted, or cancelled if someone had asked for that.
   */
  markInterrupted(): number[] {
    return this.db
      .transaction(() => {
        const rows = this.db.prepare(`SELECT id FROM jobs WHERE status = 'running'`).all() as { id: number }[];
        this.db
          .prepare(
            `UPDATE jobs SET revision = revision + 1,
             status = CASE WHEN cancel_requested = 1 THEN 'cancelled' ELSE 'interrupted' END,
             message = CASE WHEN cancel_requested = 1 THEN 'Cancelled'
               ELSE 'Interrupted: the process running this job stopped. Resume to continue.' END,
             finished_at = CASE WHEN cancel_requested = 1 THEN ? ELSE finished_at END
           WHERE status = 'running'`,
          )
          .run(nowIso());
        return rows.map((r) => r.id);
      })
      .immediate();
  }
}
/**
 * A kind this version does not know (a job a newer version queued in the same library) is left out
 * of every list and never started, rather than breaking the lists it would be in.
 */
function isKnownKind(kind: string): boolean {
  return Object.hasOwn(jobKinds, kind);
}

function toJobs(rows: readonly JobRow[]): Job[] {
  return rows.filter((r) => isKnownKind(r.kind)).map(toJob);
}

/** The row as the contract types it (`Job`: the result typed by the kind). */
function toJob(row: JobRow): Job {
  return Job.parse({
    id: row.id,
    kind: row.kind,
    status: row.status,
    params: stored(row.kind, 'params', row.params_json),
    progress: { fraction: row.progress, message: row.message, etaSeconds: null },
    result: stored(row.kind, 'result', row.result_json),
    error: row.error,
    checkpointPath: row.checkpoint_path,
    revision: row.revision,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  });
}

/**
 * Params are checked against their kind's schema when a job is queued, results before a job is
 * marked done. A row an older version of the app (or a hand) stored in another shape reads as no
 * params or no result, rather than breaking every list the job is in; the worker refuses to run a
 * job whose params do not fit, naming the job and the field (jobs/job-params.ts).
 */
function stored(kind: string, part: 'params' | 'result', json: string | null): unknown {
  if (json === null) return null;
  const value = Object.hasOwn(jobKinds, kind) ? jobKinds[kind as keyof typeof jobKinds][part].safeParse(JSON.parse(json)) : null;
  return value?.success ? value.data : null;
}
