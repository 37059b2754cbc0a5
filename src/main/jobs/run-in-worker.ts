// The worker side: receives jobs one at a time, runs them, reports. The same code runs in a worker
// thread and in an Electron utility process; only the port differs.
import fs from 'node:fs';
import path from 'node:path';
import { jobKinds, type JobKind, type JobParams } from '../../common/jobs';
import { errorMessage } from '../../native/io/disk-full';
import { CHECKPOINT_FILE, JobCancelled, writeFileAtomic, type JobContext, type JobRunner } from './job-context';
import { checkedParams } from './job-params';
import { checkedResult } from './job-result';
import { jobRunners, type JobRunners } from './kinds/index';
import { finitePoint } from './metrics-file';
import { configureInProcessEngine, loadedInProcessEngine, onInProcessEngineEvictions } from '../../native/models/embed';
import type { FromWorker, StartJob, WorkerEngineStats, WorkerPort } from '../workers/job-protocol';

const NO_ENGINE: WorkerEngineStats = { hits: 0, misses: 0, size: 0, bytes: 0, evictions: 0 };

/** This thread's engine stats (zeros while no job has loaded the engine). */
async function engineStats(): Promise<WorkerEngineStats> {
  const engine = loadedInProcessEngine();
  return engine ? (await engine).stats() : NO_ENGINE;
}

/**
 * Serves jobs on `port`, one at a time, for as long as the worker lives; `runners` are the kinds'
 * implementations (tests may replace one). The engine (ORT sessions) is this thread's
 * `inProcessEngine()`, kept between jobs: the next job finds its models loaded.
 */
export function serveJobs(port: WorkerPort, runners: JobRunners = jobRunners): void {
  let current: { id: number; abort: AbortController } | null = null;
  // Stats are a courtesy: an engine that failed to load must not take the worker down with it.
  const report = (): Promise<void> =>
    engineStats().then(
      (stats) => port.post({ type: 'engine', stats }),
      () => undefined,
    );
  onInProcessEngineEvictions(() => void report());
  port.onMessage((message) => {
    if (message.type === 'cancel') {
      if (current?.id === message.jobId) current.abort.abort();
    } else if (message.type === 'configure') {
      void configureInProcessEngine(message.policy).then(report, report);
    } else if (message.type === 'start') {
      if (current) {
        // The queue runs one job per worker at a time; this would be its bug, said rather than run.
        port.post({ type: 'failed', error: `job ${message.job.id}: the worker is still running job ${current.id}` });
        return;
      }
      const job = { id: message.job.id, abort: new AbortController() };
      current = job;
      void runJob(message.job, port, job.abort.signal, runners, async () => {
        current = null;
        await report(); // before the job's final message, so the queue has them when the job settles
      });
    }
  });
}

async function runJob(
  job: StartJob['job'],
  port: WorkerPort,
  signal: AbortSignal,
  runners: JobRunners,
  ended: () => Promise<void>,
): Promise<void> {
  const send = (m: FromWorker): void => port.post(m);
  let final: FromWorker;
  try {
    if (!Object.hasOwn(jobKinds, job.kind)) throw new Error(`job ${job.id}: no job kind "${job.kind}" in this version`);
    const kind = job.kind as JobKind;
    // The stored row as the kind reads it: a malformed one fails here, naming the job and the field.
    const params = checkedParams(kind, job.params, job.id);
    fs.mkdirSync(job.jobDir, { recursive: true });
    const ctx: JobContext<JobParams<JobKind>> = {
      jobId: job.id,
      params,
      jobDir: job.jobDir,
      dataDir: job.dataDir,
      checkpoint: job.checkpoint,
      signal,
      progress: (fraction, message) => send({ type: 'progress', fraction: Math.min(1, Math.max(0, fraction)), message }),
      metric: (point) => send({ type: 'metric', point: finitePoint(point) }),
      saveCheckpoint: (state) => {
        const file = path.join(job.jobDir, CHECKPOINT_FILE);
        writeFileAtomic(file, JSON.stringify(state));
        send({ type: 'checkpoint', path: file });
      },
    };
    // The params were checked against this kind's schema, so the runner and params belong together.
    const runner = runners[kind] as JobRunner<JobParams<JobKind>>;
    final = { type: 'done', result: checkedResult(kind, await runner(ctx)) };
  } catch (err) {
    if (err instanceof JobCancelled || signal.aborted) final = { type: 'cancelled' };
    else final = { type: 'failed', error: errorMessage(err, job.dataDir) };
  }
  await ended();
  send(final);
}
