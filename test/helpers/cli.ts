// Runs the `cleft` command as a user would (node bin/cleft.mjs ...), from the repository root: to
// completion (`runCli`, `cliOutcome`), or as a child process a test follows, kills or waits for
// (`startCli`, `killJobPastCheckpoint`). Waits are on the process's end, its files and rows, never
// on durations.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { writeSafetensors } from '../../src/native/formats/safetensors';
import { until } from './wait';

export const ROOT = path.resolve(__dirname, '../..');
export const CLI = path.join(ROOT, 'bin/cleft.mjs');

export interface CliOptions {
  /** The library folder the command sees as CLEFT_DATA_DIR ('' for none, whatever the user has set). */
  dataDir?: string;
  /** More environment, on top of this process's. */
  env?: NodeJS.ProcessEnv;
  /** Bounds only a failure (a command that hangs fails its test, not the whole run); default none. */
  timeoutMs?: number;
}

export interface CliOutcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function childEnv(options: CliOptions): NodeJS.ProcessEnv | undefined {
  if (options.dataDir === undefined && !options.env) return undefined;
  return { ...process.env, ...(options.dataDir !== undefined ? { CLEFT_DATA_DIR: options.dataDir } : {}), ...options.env };
}

/** `cleft ...args` to its end, whatever its exit: status, signal, stdout and stderr. */
export function cliOutcome(args: readonly string[], options: CliOptions = {}): CliOutcome {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 << 20, // tensors as JSON can be large
    env: childEnv(options),
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
  });
  if (r.error && r.status === null && r.signal === null) throw r.error; // could not start at all
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** stdout of `cleft ...args`; throws (with stderr in the message) when it does not exit 0. */
export function runCli(args: readonly string[], options: CliOptions = {}): string {
  const r = cliOutcome(args, options);
  if (r.status !== 0)
    throw new Error(`cleft ${args.join(' ')} ${r.signal ? `was killed by ${r.signal}` : `exited with ${r.status}`}:\n${r.stderr}`);
  return r.stdout;
}

/** A `cleft` process running beside the test. */
export interface CliChild {
  child: ChildProcess;
  pid: number;
  /** Settles once the process has ended (rejects only if it could not be started). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What it printed so far. */
  stdout(): string;
  stderr(): string;
  /** SIGKILL, then its end. */
  kill(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started = new Set<ChildProcess>();

/** Starts `cleft ...args` as a child process; `stopClis()` (in afterEach) kills any left running. */
export function startCli(args: readonly string[], options: CliOptions = {}): CliChild {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(options) });
  started.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'close' (not 'exit'): the process has ended and its output has been read to the end.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      started.delete(child);
      resolve({ code, signal });
    });
  });
  exited.catch(() => {}); // a test that never awaits it must not see an unhandled rejection
  return {
    child,
    pid: child.pid!,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    kill: () => {
      child.kill('SIGKILL');
      return exited;
    },
  };
}

/** Kills every `startCli` process still running (for afterEach). */
export function stopClis(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  started.clear();
}

/** Steps of the points in a job's curve file (`metrics.jsonl`), a line being written left out. */
export function metricSteps(jobDir: string): number[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(jobDir, 'metrics.jsonl'), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((line) => {
    try {
      return [(JSON.parse(line) as { step: number }).step];
    } catch {
      return []; // blank, or a line being written
    }
  });
}

/** The step of a training job's last checkpoint (`checkpoint/checkpoint.json`); 0 without one. */
export function checkpointStep(jobDir: string): number {
  try {
    return (JSON.parse(fs.readFileSync(path.join(jobDir, 'checkpoint', 'checkpoint.json'), 'utf8')) as { step: number }).step;
  } catch {
    return 0; // absent, or being replaced
  }
}

/**
 * Runs a training job in `cleft jobs start KIND --params JSON --data-dir D` and SIGKILLs the process
 * two updates past the job's first checkpoint (so a resumed run replays steps the killed one had
 * trained), by its files alone. Resolves, once the process has ended, with the checkpoint's step as
 * it was left (the job may have checkpointed again between the last look and the kill).
 */
export async function killJobPastCheckpoint(o: {
  dataDir: string;
  jobId: number;
  kind: string;
  params: Record<string, unknown>;
  timeoutMs: number;
}): Promise<number> {
  const run = startCli(['jobs', 'start', o.kind, '--params', JSON.stringify(o.params), '--data-dir', o.dataDir]);
  const jobDir = path.join(o.dataDir, 'jobs', String(o.jobId));
  let ended = false;
  void run.exited.then(
    () => (ended = true),
    () => (ended = true),
  );
  try {
    await until(
      () => {
        if (ended) throw new Error(`the ${o.kind} job ended before it could be killed:\n${run.stderr()}`);
        const step = checkpointStep(jobDir);
        return step > 0 && Math.max(0, ...metricSteps(jobDir)) > step + 1;
      },
      'a checkpoint, and training past it',
      o.timeoutMs,
    );
  } finally {
    await run.kill(); // also when the wait failed: no process outlives its test
  }
  return checkpointStep(jobDir);
}

/** A prepared `cleft embed text --input` file: two right-padded rows of token ids, in `dir`. */
export function writeTokenIds(dir: string): string {
  const file = path.join(dir, 'ids.safetensors');
  writeSafetensors(file, {
    input_ids: { dtype: 'I64', shape: [2, 3], data: BigInt64Array.from([5n, 6n, 7n, 8n, 9n, 0n]) },
    lengths: { dtype: 'I64', shape: [2], data: BigInt64Array.from([3n, 2n]) },
  });
  return file;
}
