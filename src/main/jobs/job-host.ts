// A library opened to run its jobs (or to queue them for the process that does): the database with
// the built-in tasks in sync, the event bus and the started job queue. The back end (api/backend.ts)
// adds the contract's handlers and the frame service on top; CLI commands that run a job use it
// alone (cli/run-job.ts), so a job runs the same way from the app, the web host and the terminal.
import path from 'node:path';
import { ensurePrivateDir, usePrivateUmask } from '../data-dir';
import { DB_FILE_NAME, openDatabase, type Db } from '../db/database';
import type { RunnerRecord } from '../db/jobs-repo';
import { SettingsRepo } from '../db/settings-repo';
import { TasksRepo } from '../db/tasks-repo';
import { sessionPolicyOf } from '../features/image-features';
import { EventBus } from '../events/event-bus';
import type { WorkerLauncher } from '../workers/job-protocol';
import { JobQueue } from './job-queue';

export interface JobHostOptions {
  dataDir: string;
  launchWorker: WorkerLauncher;
  /** What this process is, as other processes opening the library name it (default: its command line). */
  command?: string;
  /** Which queued jobs it runs when it holds the library's runner lock (see JobQueueOptions.runs; default all). */
  runs?: 'all' | 'own';
}

export interface JobHost {
  db: Db;
  events: EventBus;
  jobs: JobQueue;
  close(): void;
}

export function openJobHost(options: JobHostOptions): JobHost {
  usePrivateUmask(); // again here: whoever opened the library, what it writes is private
  ensurePrivateDir(options.dataDir);
  const db = openDatabase(path.join(options.dataDir, DB_FILE_NAME));
  new TasksRepo(db).seedBuiltins(); // the built-in tasks follow the app at every start (jobs name them by id)
  const events = new EventBus();
  const jobs = new JobQueue({
    db,
    dataDir: options.dataDir,
    launch: options.launchWorker,
    events,
    ...(options.command ? { command: options.command } : {}),
    ...(options.runs ? { runs: options.runs } : {}),
    // The warm job worker's kept sessions follow the Settings (changed from any process) without a restart.
    enginePolicy: () => sessionPolicyOf(new SettingsRepo(db).get()),
  });
  const state = jobs.start();
  if (state.role === 'runner' && state.interrupted.length > 0)
    console.warn(`jobs interrupted by the last shutdown: ${state.interrupted.join(', ')} (resume them from the Jobs panel)`);
  if (state.role === 'client')
    console.warn(`cleft: ${runnerDescription(state.runner)} runs this library's jobs; jobs started here are queued for it to run`);
  return {
    db,
    events,
    jobs,
    close() {
      jobs.close();
      db.close();
    },
  };
}

/** "process 1234 (cleft serve)", for messages about who runs a library's jobs. */
export function runnerDescription(runner: RunnerRecord | null): string {
  return runner ? `process ${runner.pid} (${runner.command})` : 'another process';
}
