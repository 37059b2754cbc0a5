// Running a job from the terminal: the library opened for its jobs (jobs/job-host.ts) as the app
// opens it, the job queued through the same queue, its progress drawn on stderr, Ctrl-C cancelling
// it cleanly. A CLI command runs only the jobs it queued (runs: 'own'), since it exits once they end.
import { resolveDataDir } from '../data-dir';
import { openJobHost, type JobHost } from '../jobs/job-host';
import { launchThreadWorker } from '../workers/thread-launcher';
import { jobProgressLine, ProgressPrinter } from './progress-bar';
import type { Job } from '../../common/jobs';

/** The library of `--data-dir` (or the default), running the jobs this command queues, or queueing them for the process that runs them. */
export function openCliJobHost(dataDirFlag: string | undefined, command: string): JobHost {
  return openJobHost({ dataDir: resolveDataDir(dataDirFlag), launchWorker: launchThreadWorker, command, runs: 'own' });
}

/** Runs a job to completion with a progress bar; Ctrl-C cancels it cleanly. */
export async function runJobInTerminal(host: Pick<JobHost, 'events' | 'jobs'>, start: () => Job): Promise<Job> {
  const printer = new ProgressPrinter();
  const job = start();
  const unsubscribe = host.events.subscribe((event, payload) => {
    const j = payload as Job;
    if (event === 'job.updated' && j.id === job.id && j.status === 'running') printer.update(jobProgressLine(j));
  });
  const onSigint = (): void => {
    printer.done('Cancelling…');
    host.jobs.cancel(job.id);
  };
  process.once('SIGINT', onSigint);
  try {
    const final = await host.jobs.waitFor(job.id);
    printer.done();
    return final;
  } finally {
    process.off('SIGINT', onSigint);
    unsubscribe();
  }
}
