// The worker side: receives one job, runs it, reports. The same code runs in a worker thread and
// in an Electron utility process; only the port differs.
import fs from 'node:fs';
import path from 'node:path';
import { jobKinds, type JobKind, type JobParams } from '../../common/jobs';
import { errorMessage } from '../../native/io/disk-full';
import { CHECKPOINT_FILE, JobCancelled, writeFileAtomic, type JobContext, type JobRunner } from './job-context';
import { checkedParams } from './job-params';
import { checkedResult } from './job-result';
import { jobRunners, type JobRunners } from './kinds/index';
import { finitePoint } from './metrics-file';
import type { FromWorker, StartJob, WorkerPort } from '../workers/job-protocol';

/** Serves one job on `port`; `runners` are the kinds' implementations (tests may replace one). */
export function serveJobs(port: WorkerPort, runners: JobRunners = jobRunners): void {
  const abort = new AbortController();
  port.onMessage((message) => {
    if (message.type === 'cancel') abort.abort();
    else if (message.type === 'start') void runJob(message.job, port, abort.signal, runners);
  });
}

async function runJob(job: StartJob['job'], port: WorkerPort, signal: AbortSignal, runners: JobRunners): Promise<void> {
  const send = (m: FromWorker): void => port.post(m);
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
    const result = checkedResult(kind, await runner(ctx));
    send({ type: 'done', result });
  } catch (err) {
    if (err instanceof JobCancelled || signal.aborted) send({ type: 'cancelled' });
    else send({ type: 'failed', error: errorMessage(err, job.dataDir) });
  }
}
