// Job workers in the desktop app run as Electron utility processes: a crash or a blocking native
// call there never freezes the window, and the OS can schedule them like any process.
import { utilityProcess } from 'electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FromWorker, WorkerChannel, WorkerLauncher } from '../workers/job-protocol';

export const launchUtilityWorker: WorkerLauncher = () => {
  const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'job-worker.js');
  const child = utilityProcess.fork(entry, [], {
    serviceName: 'CLEFT Studio job worker',
    stdio: 'inherit',
    env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
  });
  let exited = false;
  const channel: WorkerChannel = {
    post: (m) => child.postMessage(m),
    onMessage: (listener) => child.on('message', (m: FromWorker) => listener(m)),
    onExit: (listener) =>
      child.on('exit', (code) => {
        if (exited) return;
        exited = true;
        listener(code);
      }),
    kill: () => void child.kill(),
  };
  return channel;
};
