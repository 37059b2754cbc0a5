import type { MetricPoint } from '../../common/jobs';
import type { SessionKeepPolicy } from '../../native/runtime/protocol';
import type { SessionCacheStats } from '../../native/runtime/session-cache';

// Messages between the job queue (main process) and a job worker (worker thread in the CLI and
// web host, Electron utility process in the app). Plain JSON-able objects only.
//
// A worker serves job after job (one at a time): its engine keeps model sessions warm between them
// (src/main/jobs/job-workers.ts), so the next classification does not load the encoders again.

export interface StartJob {
  type: 'start';
  job: {
    id: number;
    kind: string;
    params: unknown;
    /** Folder owned by this job for checkpoints and outputs. */
    jobDir: string;
    /** The library folder (its database is `library.sqlite` there). */
    dataDir: string;
    /** The state the job saved at its last checkpoint, when resuming. */
    checkpoint: unknown;
  };
}

export type ToWorker =
  | StartJob
  /** Stop job `jobId` at its next check (a cancel for a job the worker no longer runs is ignored). */
  | { type: 'cancel'; jobId: number }
  /** The kept sessions' idle release and memory budget (the Settings), applied at once. */
  | { type: 'configure'; policy: SessionKeepPolicy };

/** The worker's engine: its kept sessions (hits and misses count since the worker started). */
export type WorkerEngineStats = SessionCacheStats;

export type FromWorker =
  | { type: 'progress'; fraction: number; message: string }
  | { type: 'checkpoint'; path: string }
  | { type: 'metric'; point: MetricPoint }
  /** Sent after each job ends (before its final message) and after each configure. */
  | { type: 'engine'; stats: WorkerEngineStats }
  | { type: 'done'; result: unknown }
  | { type: 'failed'; error: string }
  | { type: 'cancelled' };

/** A running worker as the queue sees it, whatever process model is underneath. */
export interface WorkerChannel {
  post(message: ToWorker): void;
  onMessage(listener: (message: FromWorker) => void): void;
  /** Called once when the worker ends, for whatever reason. */
  onExit(listener: (code: number, reason?: string) => void): void;
  kill(): void;
  /**
   * Whether the worker keeps its process alive (a worker thread does by default). A warm worker
   * waiting for the next job must not keep a CLI from exiting.
   */
  keepAlive?(on: boolean): void;
}

export type WorkerLauncher = () => WorkerChannel;

/** The worker side of the same transport. */
export interface WorkerPort {
  post(message: FromWorker): void;
  onMessage(listener: (message: ToWorker) => void): void;
}
