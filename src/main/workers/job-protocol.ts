import type { MetricPoint } from '../../common/jobs';

// Messages between the job queue (main process) and a job worker (worker thread in the CLI and
// web host, Electron utility process in the app). Plain JSON-able objects only.

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

export type ToWorker = StartJob | { type: 'cancel' };

export type FromWorker =
  | { type: 'progress'; fraction: number; message: string }
  | { type: 'checkpoint'; path: string }
  | { type: 'metric'; point: MetricPoint }
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
}

export type WorkerLauncher = () => WorkerChannel;

/** The worker side of the same transport. */
export interface WorkerPort {
  post(message: FromWorker): void;
  onMessage(listener: (message: ToWorker) => void): void;
}
