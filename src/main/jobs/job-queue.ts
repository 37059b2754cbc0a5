// The persistent job queue: jobs are rows in SQLite, run one at a time in a worker (engine jobs
// saturate the cores), stream progress with an ETA, can be cancelled, and survive a crash: a job
// found `running` at start was cut off and is marked `interrupted`, ready to resume from its
// last checkpoint.
import fs from 'node:fs';
import path from 'node:path';
import { CleftError } from '../../common/errors';
import { errorMessage } from '../../native/io/disk-full';
import { MetricPoint, type Job, type JobSpec } from '../../common/jobs';
import type { EventBus } from '../api/event-bus';
import type { Db } from '../db/database';
import { JobsRepo } from '../db/jobs-repo';
import { readCheckpoint } from './job-context';
import type { FromWorker, WorkerChannel, WorkerLauncher } from './protocol';

/** How long a worker gets to stop by itself after cancel before it is terminated. */
const CANCEL_GRACE_MS = 3000;
/** Progress is written and broadcast at most this often per job. */
const PROGRESS_INTERVAL_MS = 150;
/** Training curves of a job, one JSON point per line, in its folder. */
export const METRICS_FILE = 'metrics.jsonl';

interface Running {
  channel: WorkerChannel;
  startedAt: number;
  startFraction: number;
  fraction: number;
  message: string;
  lastFlush: number;
  cancelRequested: boolean;
  settled: boolean;
  cancelTimer?: NodeJS.Timeout;
  /** Storing a curve point failed once (said once, not per point). */
  metricsWarned?: boolean;
}

export interface JobQueueOptions {
  db: Db;
  dataDir: string;
  launch: WorkerLauncher;
  events: EventBus;
}

export class JobQueue {
  private readonly repo: JobsRepo;
  private readonly running = new Map<number, Running>();
  private readonly waiters = new Map<number, ((job: Job) => void)[]>();
  private closed = false;

  constructor(private readonly options: JobQueueOptions) {
    this.repo = new JobsRepo(options.db);
  }

  /** Marks jobs cut off by a crash as interrupted and starts whatever is queued. */
  start(): { interrupted: number[] } {
    const interrupted = this.repo.markInterrupted();
    this.pump();
    return { interrupted };
  }

  enqueue(spec: JobSpec): Job {
    const id = this.repo.insert(spec.kind, spec.params);
    const job = this.mustGet(id);
    this.options.events.emit('job.updated', job);
    this.pump();
    return this.get(id);
  }

  get(id: number): Job {
    const job = this.mustGet(id);
    const run = this.running.get(id);
    if (run) job.progress = { fraction: run.fraction, message: run.message, etaSeconds: eta(run) };
    return job;
  }

  list(options: Parameters<JobsRepo['list']>[0]): Job[] {
    return this.repo.list(options).map((j) => (this.running.has(j.id) ? this.get(j.id) : j));
  }

  cancel(id: number): Job {
    const job = this.mustGet(id);
    if (job.status === 'queued' || job.status === 'interrupted') {
      this.repo.finish(id, 'cancelled', { message: 'Cancelled' });
      this.settle(id);
      return this.get(id);
    }
    const run = this.running.get(id);
    if (!run) throw new CleftError('conflict', `job ${id} is ${job.status}; only queued, running or interrupted jobs can be cancelled`);
    if (!run.cancelRequested) {
      run.cancelRequested = true;
      run.message = 'Cancelling…';
      run.channel.post({ type: 'cancel' });
      run.cancelTimer = setTimeout(() => run.channel.kill(), CANCEL_GRACE_MS);
      this.flush(id, run, true);
    }
    return this.get(id);
  }

  /** Requeues an interrupted, failed or cancelled job; it continues from its checkpoint if it has one. */
  resume(id: number): Job {
    const job = this.mustGet(id);
    if (!['interrupted', 'failed', 'cancelled'].includes(job.status)) {
      throw new CleftError('conflict', `job ${id} is ${job.status}; only interrupted, failed or cancelled jobs can be resumed`);
    }
    this.repo.requeue(id);
    this.options.events.emit('job.updated', this.mustGet(id));
    this.pump();
    return this.get(id);
  }

  /** Resolves when the job reaches a final state (done, failed, cancelled). */
  waitFor(id: number): Promise<Job> {
    const job = this.mustGet(id);
    if (['done', 'failed', 'cancelled'].includes(job.status)) return Promise.resolve(job);
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
    });
  }

  /** Stops workers; their jobs stay `running` in the database and become `interrupted` next start. */
  close(): void {
    this.closed = true;
    for (const run of this.running.values()) {
      run.settled = true;
      clearTimeout(run.cancelTimer);
      run.channel.kill();
    }
    this.running.clear();
  }

  /** The training curve recorded so far (survives restarts: it is a file in the job folder). */
  metrics(id: number): MetricPoint[] {
    this.mustGet(id);
    const file = path.join(this.jobDir(id), METRICS_FILE);
    if (!fs.existsSync(file)) return [];
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim().length > 0)
      .flatMap((l) => {
        try {
          return [MetricPoint.parse(JSON.parse(l))];
        } catch {
          return []; // a line cut by a crash
        }
      });
  }

  jobDir(id: number): string {
    return path.join(this.options.dataDir, 'jobs', String(id));
  }

  private mustGet(id: number): Job {
    const job = this.repo.get(id);
    if (!job) throw new CleftError('not_found', `no job with id ${id}`);
    return job;
  }

  private pump(): void {
    if (this.closed || this.running.size > 0) return;
    const next = this.repo.nextQueued();
    if (next) this.run(next);
  }

  private run(job: Job): void {
    const jobDir = this.jobDir(job.id);
    fs.mkdirSync(jobDir, { recursive: true });
    let checkpoint: unknown = null;
    try {
      checkpoint = readCheckpoint(jobDir);
    } catch (err) {
      // A damaged checkpoint must not wedge the job: start over and say so.
      console.warn(`job ${job.id}: ignoring unreadable checkpoint: ${(err as Error).message}`);
    }
    this.repo.markRunning(job.id);
    const channel = this.options.launch();
    const run: Running = {
      channel,
      startedAt: Date.now(),
      startFraction: job.progress.fraction,
      fraction: job.progress.fraction,
      message: checkpoint ? 'Resuming from checkpoint' : 'Starting',
      lastFlush: 0,
      cancelRequested: false,
      settled: false,
    };
    this.running.set(job.id, run);
    channel.onMessage((m) => this.onWorkerMessage(job.id, run, m));
    channel.onExit((code, reason) => {
      if (run.settled) return;
      if (run.cancelRequested) this.complete(job.id, run, 'cancelled', { message: 'Cancelled' });
      else
        this.complete(job.id, run, 'failed', {
          error: `worker stopped unexpectedly (exit ${code}${reason ? `: ${reason}` : ''})`,
          message: 'Failed',
        });
    });
    channel.post({
      type: 'start',
      job: { id: job.id, kind: job.kind, params: job.params, jobDir, dataDir: this.options.dataDir, checkpoint },
    });
    this.flush(job.id, run, true);
  }

  private onWorkerMessage(id: number, run: Running, m: FromWorker): void {
    if (run.settled) return;
    try {
      this.handleWorkerMessage(id, run, m);
    } catch (err) {
      // Recording the job failed here (the database or the job folder cannot be written, e.g. a full
      // disk): stop the worker and say why. The host keeps serving; if even the failure cannot be
      // stored, the row stays 'running' and is marked interrupted, so resumable, at the next start.
      const error = errorMessage(err, this.options.dataDir);
      console.error(`cleft: job ${id}: ${error}`);
      try {
        this.complete(id, run, 'failed', { error, message: 'Failed' });
      } catch {
        run.settled = true;
        clearTimeout(run.cancelTimer);
        this.running.delete(id);
        run.channel.kill();
        try {
          this.settle(id); // waiters get the row as it stands
        } catch {
          /* the database cannot even be read */
        }
        this.pump();
      }
    }
  }

  private handleWorkerMessage(id: number, run: Running, m: FromWorker): void {
    switch (m.type) {
      case 'progress':
        run.fraction = m.fraction;
        if (!run.cancelRequested) run.message = m.message;
        this.flush(id, run, false);
        break;
      case 'checkpoint':
        this.repo.setCheckpoint(id, m.path);
        break;
      case 'metric':
        // The curve's history (jobs.metrics after a reload); a point that cannot be stored is still shown live.
        try {
          fs.appendFileSync(path.join(this.jobDir(id), METRICS_FILE), `${JSON.stringify(m.point)}\n`);
        } catch (err) {
          if (!run.metricsWarned)
            console.error(`cleft: job ${id}: curve points are no longer saved: ${errorMessage(err, this.jobDir(id))}`);
          run.metricsWarned = true;
        }
        this.options.events.emit('job.metric', { jobId: id, point: m.point });
        break;
      case 'done':
        this.complete(id, run, 'done', { result: m.result, message: 'Done' });
        break;
      case 'failed':
        this.complete(id, run, 'failed', { error: m.error, message: 'Failed' });
        break;
      case 'cancelled':
        this.complete(id, run, 'cancelled', { message: 'Cancelled' });
        break;
    }
  }

  private flush(id: number, run: Running, force: boolean): void {
    const now = Date.now();
    if (!force && now - run.lastFlush < PROGRESS_INTERVAL_MS) return;
    run.lastFlush = now;
    this.repo.setProgress(id, run.fraction, run.message);
    this.options.events.emit('job.updated', this.get(id));
  }

  private complete(
    id: number,
    run: Running,
    status: 'done' | 'failed' | 'cancelled',
    fields: { result?: unknown; error?: string; message: string },
  ): void {
    run.settled = true;
    clearTimeout(run.cancelTimer);
    this.repo.setProgress(id, run.fraction, run.message);
    this.repo.finish(id, status, fields);
    this.running.delete(id);
    run.channel.kill();
    this.settle(id);
    this.pump();
  }

  private settle(id: number): void {
    const job = this.mustGet(id);
    this.options.events.emit('job.updated', job);
    for (const resolve of this.waiters.get(id) ?? []) resolve(job);
    this.waiters.delete(id);
  }
}

/** Seconds left at the rate observed since this run started; null until the rate means something. */
function eta(run: Running): number | null {
  const elapsed = (Date.now() - run.startedAt) / 1000;
  const gained = run.fraction - run.startFraction;
  if (elapsed < 0.5 || gained <= 0.005) return null;
  return Math.max(0, (elapsed / gained) * (1 - run.fraction));
}
