// The back end as one object: database, job queue, events and the handlers that implement the
// contract. The Electron main process, the web host and the tests all build it the same way.
import path from 'node:path';
import { ensurePrivateDir, usePrivateUmask } from '../data-dir';
import { DB_FILE_NAME, openDatabase, type Db } from '../db/database';
import type { RunnerRecord } from '../db/jobs-repo';
import { JobQueue } from '../jobs/job-queue';
import type { WorkerLauncher } from '../workers/job-protocol';
import { EventBus } from '../events/event-bus';
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
  usePrivateUmask(); // again here: whoever built the back end, what it writes is private
  ensurePrivateDir(options.dataDir);
  const db = openDatabase(path.join(options.dataDir, DB_FILE_NAME));
  const events = new EventBus();
  const jobs = new JobQueue({
    db,
    dataDir: options.dataDir,
    launch: options.launchWorker,
    events,
    ...(options.command ? { command: options.command } : {}),
    ...(options.runs ? { runs: options.runs } : {}),
  });
  const backend: Backend = {
    db,
    events,
    jobs,
    options,
    handlers: undefined as unknown as Handlers,
    frames: new FrameService(db),
    close() {
      backend.frames.close();
      jobs.close();
      db.close();
    },
  };
  backend.handlers = createHandlers(backend);
  const state = jobs.start();
  if (state.role === 'runner' && state.interrupted.length > 0)
    console.warn(`jobs interrupted by the last shutdown: ${state.interrupted.join(', ')} (resume them from the Jobs panel)`);
  if (state.role === 'client')
    console.warn(`cleft: ${runnerDescription(state.runner)} runs this library's jobs; jobs started here are queued for it to run`);
  return backend;
}

/** "process 1234 (cleft serve)", for messages about who runs a library's jobs. */
export function runnerDescription(runner: RunnerRecord | null): string {
  return runner ? `process ${runner.pid} (${runner.command})` : 'another process';
}
