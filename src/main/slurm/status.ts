// The state of each shard of a `cleft slurm classify` submission, from what Slurm reports and the
// results files on the shared filesystem, and what to do next. A complete results file is done
// whatever Slurm says; otherwise Slurm's state of the array task that last ran the shard decides.
// Without accounting (no slurmdbd, so no sacct) the controller forgets an ended job MinJobAge after
// its end (300 s by default): a shard it no longer knows and whose results are not complete is
// failed, which is what it is (a task that ended without writing its results).
import fs from 'node:fs';
import { accountedJobs, controllerJobs, type TaskState } from './client';
import { allShards, lastSubmissionOf, logFile, resultsFile, type SubmissionRecord } from './submission';
import { shellQuote } from './script';

export type ShardState = 'pending' | 'running' | 'done' | 'failed';

export interface ShardStatus {
  shard: number;
  state: ShardState;
  /** The array task that last ran the shard, e.g. "12_2", and what Slurm says of it (null: not known to Slurm any more). */
  slurm: { jobId: string; state: string | null; reason: string | null; exitCode: string | null };
  results: string;
  resultsComplete: boolean;
  /** The task's output (stdout and stderr). */
  log: string;
  /** Why a failed shard failed, in one line. */
  problem: string | null;
}

export interface SlurmStatus {
  dir: string;
  /** N, the number of shards. */
  total: number;
  jobIds: string[];
  /** Where ended tasks' states came from: 'sacct' with accounting, else the controller's memory only. */
  source: 'scontrol+sacct' | 'scontrol';
  counts: Record<ShardState, number>;
  /** Every shard done: the set can be merged. */
  complete: boolean;
  failed: number[];
  shards: ShardStatus[];
  /** The command(s) to run next, in words. */
  next: string;
  /** `cleft runs merge ...` once every shard is done, else null. */
  mergeCommand: string | null;
  /** `cleft slurm resubmit DIR` when shards failed, else null. */
  resubmitCommand: string | null;
}

const ACTIVE = new Set([
  'PENDING',
  'CONFIGURING',
  'RUNNING',
  'COMPLETING',
  'REQUEUED',
  'REQUEUE_HOLD',
  'REQUEUE_FED',
  'RESIZING',
  'SUSPENDED',
  'STOPPED',
  'SIGNALING',
  'STAGE_OUT',
]);

/** Whether the file at shard K's results path is shard K of N's complete results, and if not why. */
export type ResultsCheck = (file: string, shard: number, total: number) => { complete: boolean; problem: string | null };

/** What the task's log says went wrong: its error line (`cleft: ...`, `error: ...`), else its last line. */
export function logProblem(file: string): string | null {
  let lines: string[];
  try {
    lines = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  } catch {
    return null;
  }
  return lines.findLast((l) => /^(cleft|error|slurmstepd)\b.*:/i.test(l)) ?? lines.at(-1) ?? null;
}

export async function slurmStatus(record: SubmissionRecord, checkResults: ResultsCheck): Promise<SlurmStatus> {
  const tasks = new Map<string, TaskState>(); // "job_task" → state
  let accounting = false;
  for (const sub of record.submissions) {
    const known = await controllerJobs(sub.jobId);
    for (const t of known) for (const k of t.taskIds) tasks.set(`${sub.jobId}_${k}`, t);
    if (sub.shards.some((k) => !tasks.has(`${sub.jobId}_${k}`))) {
      const accounted = await accountedJobs(sub.jobId);
      if (accounted) {
        accounting = true;
        for (const t of accounted) for (const k of t.taskIds) if (!tasks.has(`${sub.jobId}_${k}`)) tasks.set(`${sub.jobId}_${k}`, t);
      }
    }
  }

  const shardStatus = allShards(record.shards).map((shard): ShardStatus => {
    const sub = lastSubmissionOf(record, shard)!;
    const t = tasks.get(`${sub.jobId}_${shard}`) ?? null;
    const results = resultsFile(record.dir, shard);
    const check = fs.existsSync(results) ? checkResults(results, shard, record.shards) : { complete: false, problem: null };
    const log = logFile(record.dir, shard, sub.jobId);
    let state: ShardState;
    let problem: string | null = null;
    if (check.complete) state = 'done';
    else if (t && ACTIVE.has(t.state)) state = t.state === 'PENDING' ? 'pending' : 'running';
    else {
      state = 'failed';
      const said = logProblem(log);
      problem = [
        t
          ? `Slurm: ${t.state}${t.exitCode && t.exitCode !== '0:0' ? ` (exit ${t.exitCode})` : ''}${t.reason && t.reason !== 'None' ? `, ${t.reason}` : ''}`
          : `Slurm no longer knows job ${sub.jobId}_${shard}`,
        check.problem ?? (t?.state === 'COMPLETED' ? 'ended without complete results' : `no complete ${results}`),
        said ? `its log: ${said}` : null,
      ]
        .filter(Boolean)
        .join('; ');
    }
    return {
      shard,
      state,
      slurm: { jobId: `${sub.jobId}_${shard}`, state: t?.state ?? null, reason: t?.reason ?? null, exitCode: t?.exitCode ?? null },
      results,
      resultsComplete: check.complete,
      log,
      problem,
    };
  });

  const counts: Record<ShardState, number> = { pending: 0, running: 0, done: 0, failed: 0 };
  for (const s of shardStatus) counts[s.state]++;
  const failed = shardStatus.filter((s) => s.state === 'failed').map((s) => s.shard);
  const done = counts.done === record.shards;
  const mergeCommand = done
    ? ['cleft', 'runs', 'merge', ...shardStatus.map((s) => s.results), ...(record.library ? ['--data-dir', record.library] : [])]
        .map(shellQuote)
        .join(' ')
    : null;
  const resubmitCommand = failed.length ? `cleft slurm resubmit ${shellQuote(record.dir)}` : null;
  const active = counts.pending + counts.running;
  const next = done
    ? `every shard is done: merge them into the library with\n  ${mergeCommand}`
    : [
        active ? `${active} shard(s) still queued or running: ask again later with  cleft slurm status ${shellQuote(record.dir)}` : null,
        failed.length
          ? `shard(s) ${failed.join(', ')} failed (see the problem and log above); fix the cause, then submit only them again with\n  ${resubmitCommand}`
          : null,
      ]
        .filter(Boolean)
        .join('\n');
  return {
    dir: record.dir,
    total: record.shards,
    jobIds: record.submissions.map((s) => s.jobId),
    source: accounting ? 'scontrol+sacct' : 'scontrol',
    counts,
    complete: done,
    failed,
    shards: shardStatus,
    next,
    mergeCommand,
    resubmitCommand,
  };
}
