// The back end as one object: the library opened for its jobs (jobs/job-host.ts: database, job
// queue, events) with the handlers that implement the contract and the frame service. The Electron
// main process, the web host and the tests all build it the same way.
import type { Db } from '../db/database';
import type { EventBus } from '../events/event-bus';
import { openJobHost } from '../jobs/job-host';
import type { JobQueue } from '../jobs/job-queue';
import type { WorkerLauncher } from '../workers/job-protocol';
import { createHandlers, type Handlers } from './handlers';
import { FrameService } from '../imaging/frame-service';

export interface BackendOptions {
  dataDir: string;
  launchWorker: WorkerLauncher;
  host: 'electron' | 'web';
  version: string;
  electronVersion?: string | null;
  /** What this process is, as other processes opening the library name it (default: its command line). */
  command?: string;
  /** Which queued jobs it runs when it holds the library's runner lock (see JobQueueOptions.runs; default all). */
  runs?: 'all' | 'own';
  /** Native folder picker; absent where there is no desktop (web host, CLI). */
  openFolderDialog?: (title?: string) => Promise<string | null>;
}

export interface Backend {
  db: Db;
  events: EventBus;
  jobs: JobQueue;
  handlers: Handlers;
  frames: FrameService;
  options: BackendOptions;
  close(): void;
}

export function createBackend(options: BackendOptions): Backend {
  const host = openJobHost(options);
  const backend: Backend = {
    db: host.db,
    events: host.events,
    jobs: host.jobs,
    options,
    handlers: undefined as unknown as Handlers,
    frames: new FrameService(host.db),
    close() {
      backend.frames.close();
      host.close();
    },
  };
  backend.handlers = createHandlers(backend);
  return backend;
}
