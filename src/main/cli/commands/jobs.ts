// `cleft jobs ...`: run and inspect jobs from the terminal, through the same queue as the app.
import type { Command } from 'commander';
import path from 'node:path';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { JobsRepo, type RunnerRecord } from '../../db/jobs-repo';
import { HEARTBEAT_INTERVAL_MS } from '../../jobs/job-queue';
import { resolveDataDir } from '../../data-dir';
import { runnerDescription } from '../../jobs/job-host';
import { openCliJobHost, runJobInTerminal } from '../run-job';
import { JobSpec, type Job } from '../../../common/jobs';

/** Who runs the jobs, from its record; a stale heartbeat is said (the lock, not this, decides). */
function runnerLine(runner: RunnerRecord): string {
  const age = Math.max(0, Math.round((Date.now() - Date.parse(runner.heartbeatAt)) / 1000));
  const line = `Jobs run by ${runnerDescription(runner)}, alive ${age} s ago.`;
  return age <= 3 * (HEARTBEAT_INTERVAL_MS / 1000)
    ? line
    : `${line} It may have stopped: the next process to open the library marks its running jobs interrupted.`;
}

function report(job: Job): void {
  if (job.status === 'done') console.log(JSON.stringify(job.result, null, 2));
  else {
    console.error(`job ${job.id} ${job.status}${job.error ? `: ${job.error}` : ''}`);
    process.exitCode = job.status === 'cancelled' ? 130 : 1;
  }
}

export function register(program: Command): void {
  const jobs = program.command('jobs').description('Run and inspect background jobs');
  jobs
    .command('list')
    .description('List recent jobs')
    .option('--data-dir <dir>', 'library folder')
    .option('--json', 'print JSON')
    .action((opts: { dataDir?: string; json?: boolean }) => {
      // Read only: the database, never the job queue (listing must not start or interrupt anything).
      const db = openDatabase(path.join(resolveDataDir(opts.dataDir), DB_FILE_NAME));
      try {
        const repo = new JobsRepo(db);
        const list = repo.list({ limit: 50 });
        if (opts.json) console.log(JSON.stringify(list, null, 2));
        else {
          for (const j of list)
            console.log(
              `${String(j.id).padStart(5)}  ${j.status.padEnd(11)} ${j.kind.padEnd(14)} ${(j.progress.fraction * 100).toFixed(0).padStart(3)}%  ${j.progress.message}`,
            );
          const runner = repo.runner();
          if (runner && list.some((j) => j.status === 'running')) console.log(`\n${runnerLine(runner)}`);
        }
      } finally {
        db.close();
      }
    });
  jobs
    .command('hash-folder <folder>')
    .description('Hash every file under a folder (sha256) as a resumable job')
    .option('--data-dir <dir>', 'library folder')
    .action(async (folder: string, opts: { dataDir?: string }) => {
      const host = openCliJobHost(opts.dataDir, 'cleft jobs hash-folder');
      try {
        const spec: JobSpec = { kind: 'hash-folder', params: { folder } };
        report(await runJobInTerminal(host, () => host.jobs.enqueue(spec)));
      } finally {
        host.close();
      }
    });
  jobs
    .command('start <kind>')
    .description(
      'Run any job kind with its parameters as JSON (the same schema as the app), e.g. jobs start prompt-learn --params \'{"modelId":1,...}\'',
    )
    .requiredOption('--params <json>', 'the job parameters as a JSON object')
    .option('--data-dir <dir>', 'library folder')
    .action(async (kind: string, opts: { params: string; dataDir?: string }) => {
      let params: unknown;
      try {
        params = JSON.parse(opts.params);
      } catch (e) {
        throw new Error(`--params is not valid JSON: ${(e as Error).message}`);
      }
      const spec = JobSpec.safeParse({ kind, params });
      if (!spec.success)
        throw new Error(
          `job "${kind}": ${spec.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ')}`,
        );
      const host = openCliJobHost(opts.dataDir, `cleft jobs start ${kind}`);
      try {
        report(await runJobInTerminal(host, () => host.jobs.enqueue(spec.data)));
      } finally {
        host.close();
      }
    });
  jobs
    .command('resume <id>')
    .description('Resume an interrupted, failed or cancelled job from its last checkpoint')
    .option('--data-dir <dir>', 'library folder')
    .action(async (id: string, opts: { dataDir?: string }) => {
      const host = openCliJobHost(opts.dataDir, `cleft jobs resume ${id}`);
      try {
        report(await runJobInTerminal(host, () => host.jobs.resume(Number.parseInt(id, 10))));
      } finally {
        host.close();
      }
    });
}
