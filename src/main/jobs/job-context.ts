// What a job implementation gets to work with, and the contract it keeps: report progress, check
// `signal` often, save checkpoints it can resume from, return a JSON-able result.
import fs from 'node:fs';
import path from 'node:path';
import type { MetricPoint } from '../../common/jobs';

export interface JobContext<P> {
  jobId: number;
  params: P;
  jobDir: string;
  /** The library folder; jobs that write to the library open its database from here. */
  dataDir: string;
  /** State saved by `saveCheckpoint` before an interruption, or null on a fresh start. */
  checkpoint: unknown;
  signal: AbortSignal;
  progress(fraction: number, message: string): void;
  /** A point of the training curve: streamed to the UI and appended to the job's metrics.jsonl. */
  metric(point: MetricPoint): void;
  /** Persists `state` atomically; a resumed run receives it as `checkpoint`. */
  saveCheckpoint(state: unknown): void;
}

/** Runs one job; the result is checked against the kind's schema before the job is marked done. */
export type JobRunner<P, R = unknown> = (ctx: JobContext<P>) => Promise<R>;

export class JobCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'JobCancelled';
  }
}

export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new JobCancelled();
}

export const CHECKPOINT_FILE = 'checkpoint.json';

// Write-then-rename so a kill or a full disk mid-write leaves the previous checkpoint intact.
export { writeFileAtomic } from '../../native/io/atomic-write';

export function readCheckpoint(jobDir: string): unknown {
  const file = path.join(jobDir, CHECKPOINT_FILE);
  if (!fs.existsSync(file)) return null;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
}
