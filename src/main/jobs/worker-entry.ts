// Entry point of a job worker. In Electron it runs as a utility process (process.parentPort);
// in the CLI and web host as a worker thread (worker_threads.parentPort).
import { parentPort } from 'node:worker_threads';
import { usePrivateUmask } from '../data-dir';
import { serveJobs } from './run-in-worker';
import type { FromWorker, ToWorker, WorkerPort } from '../workers/job-protocol';

interface ElectronParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
}

function portFromEnvironment(): WorkerPort {
  const electronPort = (process as unknown as { parentPort?: ElectronParentPort }).parentPort;
  if (electronPort) {
    return {
      post: (m: FromWorker) => electronPort.postMessage(m),
      onMessage: (listener) => electronPort.on('message', (e) => listener(e.data as ToWorker)),
    };
  }
  if (parentPort) {
    const port = parentPort;
    return {
      post: (m: FromWorker) => port.postMessage(m),
      onMessage: (listener) => port.on('message', (m: ToWorker) => listener(m)),
    };
  }
  throw new Error('worker-entry must run as a worker thread or an Electron utility process');
}

usePrivateUmask(); // a utility process has its own umask (a worker thread shares its process's)
serveJobs(portFromEnvironment());
