// Launches job workers as worker threads (CLI and web host). From TypeScript sources the worker
// loads jobs/worker-entry.ts through tsx; from a bundle it loads the built job-worker.js.
import type { Worker } from 'node:worker_threads';
import { startThread as startRuntimeThread } from '../../native/runtime/start-thread';
import { workerEntry } from './built-entry';
import type { FromWorker, WorkerChannel, WorkerLauncher } from './job-protocol';

/** A worker thread on a .ts (sources, via tsx) or .js (bundle) entry; see native/runtime/start-thread. */
export function startThread(entry: string, workerData?: unknown): Worker {
  return startRuntimeThread(entry, workerData === undefined ? {} : { workerData });
}

export function jobWorkerEntry(): string {
  return workerEntry(import.meta.url, '../jobs/worker-entry.ts', 'job-worker');
}

export const launchThreadWorker: WorkerLauncher = () => {
  const worker = startThread(jobWorkerEntry());
  let exited = false;
  const channel: WorkerChannel = {
    post: (m) => worker.postMessage(m),
    onMessage: (listener) => worker.on('message', (m: FromWorker) => listener(m)),
    onExit: (listener) => {
      let reason: string | undefined;
      worker.on('error', (err) => {
        reason = err.message;
      });
      worker.on('exit', (code) => {
        if (exited) return;
        exited = true;
        listener(code, reason);
      });
    },
    kill: () => void worker.terminate(),
    keepAlive: (on) => (on ? worker.ref() : worker.unref()),
  };
  return channel;
};
