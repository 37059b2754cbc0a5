// A job worker's code in the test's own thread: the queue and the worker exchange messages through
// structuredClone, as between threads, so a job runs its real path without starting a thread.
import type { JobRunners } from '../../src/main/jobs/kinds/index';
import { serveJobs } from '../../src/main/jobs/run-in-worker';
import type { FromWorker, ToWorker, WorkerChannel } from '../../src/main/workers/job-protocol';

/** A launcher for JobQueue: each job gets an in-thread worker running `runners` as its kinds. */
export function inProcessWorker(runners: JobRunners): () => WorkerChannel {
  return (): WorkerChannel => {
    let toQueue: (m: FromWorker) => void = () => {};
    let toWorker: (m: ToWorker) => void = () => {};
    serveJobs({ post: (m) => setImmediate(() => toQueue(structuredClone(m))), onMessage: (l) => (toWorker = l) }, runners);
    return {
      post: (m) => setImmediate(() => toWorker(structuredClone(m))),
      onMessage: (l) => (toQueue = l),
      onExit: () => {},
      kill: () => {},
    };
  };
}
