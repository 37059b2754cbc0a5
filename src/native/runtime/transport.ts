// The message channel between engine host and worker, kept behind two tiny interfaces so the same
// engine runs in a worker_threads Worker (CLI, web host) or an Electron utilityProcess (the app):
// only these adapters know which one it is.
import { parentPort, type Worker } from 'node:worker_threads';

/** The host's side: talk to one worker. */
export interface HostTransport<Out, In> {
  send(message: Out, transfer?: ArrayBuffer[]): void;
  onMessage(handler: (message: In) => void): void;
  /** The worker died or could not start; pending requests must fail with this error. */
  onFailure(handler: (error: Error) => void): void;
  close(): Promise<void>;
}

/** The worker's side: talk to its host. */
export interface WorkerTransport<Out, In> {
  send(message: Out, transfer?: ArrayBuffer[]): void;
  onMessage(handler: (message: In) => void): void;
}

export function workerThreadHostTransport<Out, In>(worker: Worker): HostTransport<Out, In> {
  let closing = false;
  return {
    send: (message, transfer) => worker.postMessage(message, transfer ?? []),
    onMessage: (handler) => worker.on('message', (m: In) => handler(m)),
    onFailure: (handler) => {
      worker.on('error', (err) => handler(err instanceof Error ? err : new Error(String(err))));
      worker.on('exit', (code) => {
        if (!closing) handler(new Error(`Engine worker exited unexpectedly with code ${code}`));
      });
    },
    close: async () => {
      closing = true;
      await worker.terminate();
    },
  };
}

export function parentPortTransport<Out, In>(): WorkerTransport<Out, In> {
  const port = parentPort;
  if (!port) throw new Error('parentPortTransport() must run inside a worker_threads Worker');
  return {
    send: (message, transfer) => port.postMessage(message, transfer ?? []),
    onMessage: (handler) => port.on('message', (m: In) => handler(m)),
  };
}
