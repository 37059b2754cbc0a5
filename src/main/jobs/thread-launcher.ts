// Launches job workers as worker threads (CLI and web host). From TypeScript sources the worker
// loads through tsx; from a bundle it loads the built worker file beside this one.
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import { workerEntry } from '../built-entry';
import type { FromWorker, WorkerChannel, WorkerLauncher } from './protocol';

/**
 * A worker thread running `entry`. A .ts entry gets a small bootstrap that registers tsx inside
 * the worker first (Node 20 workers do not inherit the parent's module hooks, and `--import` in a
 * worker's execArgv is not honoured there).
 */
export function startThread(entry: string, workerData?: unknown): Worker {
  // Any worker may load onnxruntime, which reads this when it loads: no telemetry, ever.
  process.env.ORT_DISABLE_TELEMETRY = '1';
  if (!entry.endsWith('.ts')) return new Worker(entry, { workerData });
  const tsxApi = tsxEsmApiUrl();
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(pathToFileURL(entry).href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** The ESM build of tsx's register API (the CJS one cannot be imported into an ESM worker). */
function tsxEsmApiUrl(): string {
  const require = createRequire(import.meta.url);
  const pkgFile = require.resolve('tsx/package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(path.join(path.dirname(pkgFile), pkg.exports['./esm/api']!.import.default)).href;
}

export function jobWorkerEntry(): string {
  return workerEntry(import.meta.url, 'worker-entry.ts', 'job-worker');
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
  };
  return channel;
};
