// Slurm's own commands, run as the user would (sbatch, scontrol, sacct from PATH, with this process's
// environment: SLURM_CONF and friends are respected). Slurm schedules; this only asks and submits.
import { execFile } from 'node:child_process';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[]): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(command, [...args], { encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
        // Not started at all (ENOENT...): no Slurm client here.
        reject(new Error(`${command} could not be run (${(err as NodeJS.ErrnoException).code}): is Slurm's client installed and on PATH?`));
        return;
      }
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** "1-3", "2", "1,4-5": Slurm's --array syntax for these task ids. */
export function arraySpec(ids: readonly number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** The ids of "1-3", "2,4-5", "1-7:2", "1-3%2" (a throttle). */
export function parseArraySpec(spec: string): number[] {
  const ids: number[] = [];
  for (const part of spec.replace(/%\d+$/, '').split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim());
    if (!m) continue;
    const from = Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : from;
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    for (let k = from; k <= to; k += step) ids.push(k);
  }
  return ids;
}

/** Submits `script` as a job array over `tasks` (options before the script override its #SBATCH lines); the array job's id. */
export async function sbatch(script: string, tasks: readonly number[], options: readonly string[] = []): Promise<string> {
  const r = await run('sbatch', ['--parsable', `--array=${arraySpec(tasks)}`, ...options, script]);
  const id = /^(\d+)/.exec(r.stdout.trim())?.[1];
  if (r.code !== 0 || !id) throw new Error(`sbatch refused ${script}: ${(r.stderr || r.stdout).trim() || `exit ${r.code}`}`);
  return id;
}

/** One array task (or a pending range of them) as the controller reports it. */
export interface TaskState {
  arrayJobId: string;
  taskIds: number[];
  /** PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL... */
  state: string;
  reason: string | null;
  /** "exit:signal" as Slurm writes it, e.g. "1:0". */
  exitCode: string | null;
  workDir: string | null;
}

const field = (line: string, key: string): string | null => {
  const m = new RegExp(`(?:^| )${key}=(\\S*)`).exec(line);
  return m && m[1] !== '' && m[1] !== '(null)' ? m[1]! : null;
};

/** Parses `scontrol show job -o` output (one job or array task per line). */
export function parseScontrolJobs(text: string): TaskState[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('JobId='))
    .map((line) => {
      const task = field(line, 'ArrayTaskId');
      return {
        arrayJobId: field(line, 'ArrayJobId') ?? field(line, 'JobId')!,
        taskIds: task ? parseArraySpec(task) : [],
        state: field(line, 'JobState') ?? 'UNKNOWN',
        reason: field(line, 'Reason'),
        exitCode: field(line, 'ExitCode'),
        workDir: field(line, 'WorkDir'),
      };
    });
}

/**
 * The tasks of a job the controller still knows (`scontrol show job`); an empty list once it has
 * forgotten the job (MinJobAge after its end, 300 s by default).
 */
export async function controllerJobs(jobId: string): Promise<TaskState[]> {
  const r = await run('scontrol', ['show', 'job', '-o', jobId]);
  if (r.code !== 0) {
    if (/Invalid job id/i.test(r.stderr)) return [];
    throw new Error(`scontrol show job ${jobId}: ${r.stderr.trim() || `exit ${r.code}`}`);
  }
  return parseScontrolJobs(r.stdout);
}

/**
 * Ended array tasks from the accounting database (`sacct`), or null when the cluster keeps no
 * accounting (no slurmdbd: "Slurm accounting storage is disabled").
 */
export async function accountedJobs(jobId: string): Promise<TaskState[] | null> {
  let r: CommandResult;
  try {
    r = await run('sacct', ['-n', '-P', '-X', '-j', jobId, '-o', 'JobID,State,ExitCode']);
  } catch {
    return null;
  }
  if (r.code !== 0 || /accounting storage is disabled/i.test(r.stderr + r.stdout)) return null;
  return r.stdout
    .split('\n')
    .map((l) => l.split('|'))
    .flatMap(([id, state, exitCode]) => {
      const m = /^(\d+)_(\d+)$/.exec(id ?? '');
      if (!m) return [];
      return [
        {
          arrayJobId: m[1]!,
          taskIds: [Number(m[2])],
          state: (state ?? 'UNKNOWN').split(' ')[0]!,
          reason: null,
          exitCode: exitCode ?? null,
          workDir: null,
        },
      ];
    });
}
