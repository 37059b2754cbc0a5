// The persistent job queue: jobs are rows in SQLite, run one at a time in a worker (engine jobs
// saturate the cores), stream progress with an ETA, can be cancelled, and survive a crash. The
// worker stays warm between jobs with the model sessions it loaded (job-workers.ts).
//
// One process runs a library's jobs: the one holding its runner lock (src/main/db/runner-lock.ts).
// Any other process that opens the library is a client of it: it writes rows (enqueue, resume,
// cancel requests) and follows them by polling; the runner picks them up on its own poll. When the
// runner is gone (the kernel freed its lock, kill -9 included), the next process to take the lock
// marks the jobs it left `running` as `interrupted`, ready to resume from their last checkpoint.
import fs from 'node:fs';
import path from 'node:path';
import { CleftError } from '../../common/errors';
import { errorMessage } from '../../native/io/disk-full';
import { removeStaleTempFiles } from '../../native/io/atomic-write';
import type { MetricPoint, Job, JobSpec } from '../../common/jobs';
import { addSample, etaSeconds, type ProgressSample } from '../../common/progress';
import type { EventBus } from '../events/event-bus';
import type { Db } from '../db/database';
import { JobsRepo, type RunnerRecord } from '../db/jobs-repo';
import { RunnerLock } from '../db/runner-lock';
import { readCheckpoint } from './job-context';
import { checkedParams } from './job-params';
import { METRICS_FILE, MetricsWriter, parseMetricLine, readMetrics } from './metrics-file';
import type { SessionKeepPolicy } from '../../native/runtime/protocol';
import type { FromWorker, WorkerEngineStats, WorkerLauncher } from '../workers/job-protocol';
import { JobWorkers, type JobWorker } from './job-workers';

export { METRICS_FILE } from './metrics-file';

/** How long a worker gets to stop by itself after cancel before it is terminated. */
const CANCEL_GRACE_MS = 3000;
/** Progress is written and broadcast at most this often per job. */
const PROGRESS_INTERVAL_MS = 150;
/** How often the queue looks at the database for what other processes did (and the runner's heartbeat). */
export const POLL_INTERVAL_MS = 500;
/** How often the runner records that it is alive. */
export const HEARTBEAT_INTERVAL_MS = 5000;
const FINAL: readonly string[] = ['done', 'failed', 'cancelled'];

interface Running {
  channel: JobWorker;
  /** Progress as measured lately, for the ETA (src/common/progress.ts). */
  samples: ProgressSample[];
  fraction: number;
  message: string;
  lastFlush: number;
  cancelRequested: boolean;
  settled: boolean;
  cancelTimer?: NodeJS.Timeout;
  metrics: MetricsWriter;
  /** Storing a curve point failed once (said once, not per point). */
  metricsWarned?: boolean;
}

export interface JobQueueOptions {
  db: Db;
  dataDir: string;
  launch: WorkerLauncher;
  events: EventBus;
  /** What the runner record says this process is (`cleft serve`, the app, ...). */
  command?: string;
  /**
   * Which queued jobs this process runs when it is the runner: all of them (the app, the web host),
   * or only those it queued or resumed itself (a CLI command that exits once its job ends must not
   * take on others' jobs and then abandon them).
   */
  runs?: 'all' | 'own';
  /**
   * The kept sessions' idle release and memory budget as the Settings say now: read on every poll
   * and sent to the warm worker when it changes, so a change applies without a restart.
   */
  enginePolicy?: () => SessionKeepPolicy;
}

/** Who runs the library's jobs, as `start` found it. */
export type JobRunnerState = { role: 'runner'; interrupted: number[] } | { role: 'client'; runner: RunnerRecord | null };

export class JobQueue {
  private readonly repo: JobsRepo;
  private readonly running = new Map<number, Running>();
  private readonly waiters = new Map<number, ((job: Job) => void)[]>();
  /** The revision of each unsettled job as last announced (job.updated), to announce others' changes. */
  private readonly seen = new Map<number, number>();
  /** Jobs this process queued or resumed (what it runs with `runs: 'own'`). */
  private readonly own = new Set<number>();
  /** How far this process has read the curve file of each job another process runs (to stream its points). */
  private readonly tails = new Map<number, { ino: number; offset: number }>();
  private lock: RunnerLock | null = null;
  private readonly workers: JobWorkers;
  /** The Settings' engine policy as last seen (JSON), to send only changes. */
  private settingsPolicy = '';
  private pollTimer?: NodeJS.Timeout;
  private lastHeartbeat = 0;
  private closed = false;

  constructor(private readonly options: JobQueueOptions) {
    this.repo = new JobsRepo(options.db);
    this.workers = new JobWorkers(options.launch);
  }

  /**
   * Becomes the library's job runner if no other process is (marking the jobs a gone runner left
   * `running` as interrupted and starting what is queued), else a client of the runner; either way
   * follows the database from now on, and a client takes over when the runner goes.
   */
  start(): JobRunnerState {
    for (const job of this.repo.unsettledOr([])) this.seen.set(job.id, job.revision);
    const interrupted = this.tryToRun();
    this.pollTimer = setInterval(() => this.poll(), POLL_INTERVAL_MS);
    this.pollTimer.unref(); // the poll keeps a process alive only while someone waits for a job
    return interrupted ? { role: 'runner', interrupted } : { role: 'client', runner: this.repo.runner() ?? null };
  }

  /**
   * The job worker's engine as it last reported (after each job and each release of kept
   * sessions): sessions kept, hits and misses since the worker started. Null before any report.
   */
  engineStats(): WorkerEngineStats | null {
    return this.workers.engineStats();
  }

  /** Whether a worker waits, warm, for the next job. */
  get hasWarmWorker(): boolean {
    return this.workers.hasWarm;
  }

  /**
   * Sets the kept sessions' idle release and memory budget of the job workers now (until the
   * Settings change again; each engine job also applies the Settings when it starts).
   */
  configureEngine(policy: SessionKeepPolicy): void {
    this.workers.configure(policy);
  }

  /** Whether this process runs the library's jobs. */
  get isRunner(): boolean {
    return this.lock !== null;
  }

  enqueue(spec: JobSpec): Job {
    const id = this.repo.insert(spec.kind, checkedParams(spec.kind, spec.params));
    this.own.add(id);
    this.startTail(id);
    this.announce(this.mustGet(id));
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
    if ((job.status === 'queued' || job.status === 'interrupted') && this.repo.cancelWaiting(id)) {
      this.settle(id);
      return this.get(id);
    }
    const now = this.mustGet(id); // it may have started meanwhile (in another process)
    if (now.status === 'running') {
      const run = this.running.get(id);
      if (run) this.requestCancel(id, run);
      else if (this.lock) {
        // We run the library's jobs but not this one: its worker is gone (a failure that could not
        // even be recorded), so nothing would ever act on a request.
        this.repo.finish(id, 'cancelled', { message: 'Cancelled' });
        this.settle(id);
      } else if (this.repo.requestCancel(id)) this.announce(this.mustGet(id)); // the runner acts on its next poll
      return this.get(id);
    }
    if (FINAL.includes(now.status))
      throw new CleftError('conflict', `job ${id} is ${now.status}; only queued, running or interrupted jobs can be cancelled`);
    return this.cancel(id); // it changed state between our reads: look again
  }

  private requestCancel(id: number, run: Running): void {
    if (run.cancelRequested) return;
    run.cancelRequested = true;
    run.message = 'Cancelling…';
    run.channel.post({ type: 'cancel', jobId: id });
    run.cancelTimer = setTimeout(() => run.channel.kill(), CANCEL_GRACE_MS);
    this.flush(id, run, true);
  }

  /** Requeues an interrupted, failed or cancelled job; it continues from its checkpoint if it has one. */
  resume(id: number): Job {
    const job = this.mustGet(id);
    if (!['interrupted', 'failed', 'cancelled'].includes(job.status) || !this.repo.requeue(id)) {
      throw new CleftError(
        'conflict',
        `job ${id} is ${this.mustGet(id).status}; only interrupted, failed or cancelled jobs can be resumed`,
      );
    }
    this.own.add(id);
    this.startTail(id);
    this.announce(this.mustGet(id));
    this.pump();
    return this.get(id);
  }

  /**
   * Resolves when the job reaches a final state (done, failed, cancelled), or is interrupted because
   * the process running it (another one) stopped.
   */
  waitFor(id: number): Promise<Job> {
    const job = this.mustGet(id);
    if (FINAL.includes(job.status)) return Promise.resolve(job);
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
      // A client waiting for a job another process runs has nothing else keeping it alive.
      this.pollTimer?.ref();
    });
  }

  /**
   * Stops workers, marks their jobs `interrupted` (resumable) and gives up the runner lock. After a
   * crash or kill the jobs stay `running` until the next runner takes the lock and marks them.
   */
  close(): void {
    this.closed = true;
    clearInterval(this.pollTimer);
    for (const run of this.running.values()) {
      run.settled = true;
      clearTimeout(run.cancelTimer);
      run.channel.kill();
    }
    this.running.clear();
    this.workers.close();
    if (this.lock) {
      try {
        this.repo.markInterrupted(); // said now rather than by the next runner, so clients see it at once
      } catch {
        /* the database is gone: the next runner will say it */
      }
      this.lock.release();
    }
    this.lock = null;
  }

  /** The training curve recorded so far, one point per step (survives restarts: it is a file in the job folder). */
  metrics(id: number): MetricPoint[] {
    this.mustGet(id);
    return readMetrics(path.join(this.jobDir(id), METRICS_FILE));
  }

  /** Takes the runner lock if it is free; then settles what the last runner left. Null if another process holds it. */
  private tryToRun(): number[] | null {
    if (this.lock) return [];
    if (this.closed) return null;
    const lock = RunnerLock.tryAcquire(this.options.dataDir);
    if (!lock) return null;
    this.lock = lock;
    try {
      this.repo.setRunner(process.pid, this.options.command ?? process.argv.slice(1).join(' '));
      this.lastHeartbeat = Date.now();
      // The lock was free, so no process runs these: they were cut off.
      const interrupted = this.repo.markInterrupted();
      for (const id of interrupted) this.settle(id);
      this.followEnginePolicy();
      this.pump();
      return interrupted;
    } catch (err) {
      this.lock = null;
      lock.release();
      throw err;
    }
  }

  /** What other processes did meanwhile: new rows, cancel requests, changes to announce; a free lock to take. */
  private poll(): void {
    if (this.closed) return;
    try {
      if (!this.lock) {
        const interrupted = this.tryToRun();
        if (interrupted?.length)
          console.warn(`cleft: the process that ran this library's jobs stopped; interrupted: ${interrupted.join(', ')}`);
      } else {
        for (const id of this.repo.cancelRequests()) {
          const run = this.running.get(id);
          if (run) this.requestCancel(id, run);
        }
        this.followEnginePolicy();
        if (Date.now() - this.lastHeartbeat >= HEARTBEAT_INTERVAL_MS) {
          this.lastHeartbeat = Date.now();
          this.repo.heartbeat(process.pid);
        }
        this.pump();
      }
      for (const job of this.repo.unsettledOr([...this.seen.keys()])) {
        this.followMetrics(job); // points before the state that follows them
        if (this.seen.get(job.id) !== job.revision) this.announce(this.get(job.id));
        if (FINAL.includes(job.status) || job.status === 'interrupted') this.resolveWaiters(job);
      }
    } catch (err) {
      // A busy or failing database must not stop the poll (nor throw out of a timer): try again next time.
      console.error(`cleft: following the job queue: ${errorMessage(err, this.options.dataDir)}`);
    }
  }

  /** Sends the Settings' engine policy to the workers when it changed (the runner's workers only). */
  private followEnginePolicy(): void {
    const policy = this.options.enginePolicy?.();
    if (!policy) return;
    const json = JSON.stringify(policy);
    if (json === this.settingsPolicy) return;
    this.settingsPolicy = json;
    this.workers.configure(policy);
  }

  /**
   * Streams the curve points another process's job appends to its metrics.jsonl as `job.metric`
   * events, as the runner does for its own jobs (points from before are in `jobs.metrics`).
   */
  private followMetrics(job: Job): void {
    const tail = this.tails.get(job.id);
    const following = (job.status === 'running' || job.status === 'queued') && !this.running.has(job.id);
    if (!following) this.tails.delete(job.id);
    if (!following && !tail) return;
    if (!tail) {
      this.startTail(job.id);
      return;
    }
    const file = path.join(this.jobDir(job.id), METRICS_FILE);
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (!stat) return;
    // Replaced whole (a resumed run's replayed steps): its points are read again, and replace theirs.
    const offset = tail.ino === stat.ino && stat.size >= tail.offset ? tail.offset : 0;
    if (stat.size === offset) return;
    const fd = fs.openSync(file, 'r');
    let text: string;
    try {
      const buf = Buffer.alloc(stat.size - offset);
      const read = fs.readSync(fd, buf, 0, buf.length, offset);
      text = buf.subarray(0, read).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
    const complete = text.slice(0, text.lastIndexOf('\n') + 1); // a line being written waits for the next poll
    if (following) this.tails.set(job.id, { ino: stat.ino, offset: offset + Buffer.byteLength(complete) });
    for (const line of complete.split('\n')) {
      const point = parseMetricLine(line);
      if (point) this.options.events.emit('job.metric', { jobId: job.id, point });
    }
  }

  /** Follows a job's curve file from now: what it holds already is history (jobs.metrics). */
  private startTail(id: number): void {
    if (this.lock) return; // the runner streams its own jobs' points as they come
    const stat = fs.statSync(path.join(this.jobDir(id), METRICS_FILE), { throwIfNoEntry: false });
    this.tails.set(id, stat ? { ino: stat.ino, offset: stat.size } : { ino: -1, offset: 0 });
  }

  /** Broadcasts a job's current state and remembers the revision announced. */
  private announce(job: Job): void {
    if (FINAL.includes(job.status)) this.seen.delete(job.id);
    else this.seen.set(job.id, job.revision);
    this.options.events.emit('job.updated', job);
  }

  jobDir(id: number): string {
    return path.join(this.options.dataDir, 'jobs', String(id));
  }

  private mustGet(id: number): Job {
    const job = this.repo.get(id);
    if (!job) throw new CleftError('not_found', `no job with id ${id}`);
    return job;
  }

  /** Starts the next queued job, if this process is the runner and runs nothing. */
  private pump(): void {
    while (!this.closed && this.lock && this.running.size === 0) {
      const next = this.repo.nextQueued(this.options.runs === 'own' ? [...this.own] : undefined);
      if (!next) return;
      if (this.repo.markRunning(next.id, process.pid)) {
        this.run(this.mustGet(next.id));
        return;
      }
      // cancelled by another process between the two statements: take the next one
    }
  }

  private run(job: Job): void {
    const jobDir = this.jobDir(job.id);
    fs.mkdirSync(jobDir, { recursive: true });
    // Temporary files of atomic writes cut off by a kill (no one else writes here: this is the runner).
    removeStaleTempFiles(jobDir);
    let checkpoint: unknown = null;
    try {
      checkpoint = readCheckpoint(jobDir);
    } catch (err) {
      // A damaged checkpoint must not wedge the job: start over and say so.
      console.warn(`job ${job.id}: ignoring unreadable checkpoint: ${(err as Error).message}`);
    }
    // `run` is declared below; the worker's messages and exit arrive on later ticks, after it is.
    const channel = this.workers.take({
      onMessage: (m) => this.onWorkerMessage(job.id, run, m),
      onExit: (code, reason) => {
        if (run.settled) return;
        if (run.cancelRequested) this.complete(job.id, run, 'cancelled', { message: 'Cancelled' }, false);
        else
          this.complete(
            job.id,
            run,
            'failed',
            { error: `worker stopped unexpectedly (exit ${code}${reason ? `: ${reason}` : ''})`, message: 'Failed' },
            false,
          );
      },
    });
    const run: Running = {
      channel,
      samples: [{ t: Date.now(), fraction: job.progress.fraction }],
      fraction: job.progress.fraction,
      message: checkpoint ? 'Resuming from checkpoint' : 'Starting',
      lastFlush: 0,
      cancelRequested: false,
      settled: false,
      metrics: new MetricsWriter(path.join(jobDir, METRICS_FILE)),
    };
    this.running.set(job.id, run);
    channel.post({
      type: 'start',
      // The row as stored (not the record's reading of it): the worker checks it and names what does not fit.
      job: { id: job.id, kind: job.kind, params: this.repo.storedParams(job.id), jobDir, dataDir: this.options.dataDir, checkpoint },
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
        this.complete(id, run, 'failed', { error, message: 'Failed' }, false);
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
        addSample(run.samples, { t: Date.now(), fraction: m.fraction });
        if (!run.cancelRequested) run.message = m.message;
        this.flush(id, run, false);
        break;
      case 'checkpoint':
        this.repo.setCheckpoint(id, m.path);
        break;
      case 'metric':
        // The curve's history (jobs.metrics after a reload); a point that cannot be stored is still shown live.
        try {
          run.metrics.add(m.point);
        } catch (err) {
          if (!run.metricsWarned)
            console.error(`cleft: job ${id}: curve points are no longer saved: ${errorMessage(err, this.jobDir(id))}`);
          run.metricsWarned = true;
        }
        this.options.events.emit('job.metric', { jobId: id, point: m.point });
        break;
      // The worker ended the job itself: it stays warm for the next one.
      case 'done':
        this.complete(id, run, 'done', { result: m.result, message: 'Done' }, true);
        break;
      case 'failed':
        this.complete(id, run, 'failed', { error: m.error, message: 'Failed' }, true);
        break;
      case 'cancelled':
        this.complete(id, run, 'cancelled', { message: 'Cancelled' }, true);
        break;
    }
  }

  private flush(id: number, run: Running, force: boolean): void {
    const now = Date.now();
    if (!force && now - run.lastFlush < PROGRESS_INTERVAL_MS) return;
    run.lastFlush = now;
    this.repo.setProgress(id, run.fraction, run.message);
    this.announce(this.get(id));
  }

  private complete(
    id: number,
    run: Running,
    status: 'done' | 'failed' | 'cancelled',
    fields: { result?: unknown; error?: string; message: string },
    keepWorker: boolean,
  ): void {
    run.settled = true;
    clearTimeout(run.cancelTimer);
    // Before the rows: a write that throws (full disk) must not leave the worker marked busy.
    if (keepWorker) run.channel.release();
    else run.channel.kill();
    this.repo.setProgress(id, run.fraction, run.message);
    this.repo.finish(id, status, fields);
    this.running.delete(id);
    this.settle(id);
    this.pump();
  }

  private settle(id: number): void {
    const job = this.mustGet(id);
    this.announce(job);
    this.resolveWaiters(job);
  }

  private resolveWaiters(job: Job): void {
    for (const resolve of this.waiters.get(job.id) ?? []) resolve(job);
    this.waiters.delete(job.id);
    if (this.waiters.size === 0) this.pollTimer?.unref();
  }
}

/** Seconds left at the rate measured lately (the last sample is now's fraction); null until measurable. */
function eta(run: Running): number | null {
  return etaSeconds([...run.samples, { t: Date.now(), fraction: run.fraction }]);
}
