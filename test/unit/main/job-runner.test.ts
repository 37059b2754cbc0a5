// One library, one job runner: a job run by `cleft jobs hash-folder` in another process is left alone
// by `cleft jobs list` and by a second backend on the same library (which queue and cancel through
// the rows instead), and when the runner dies (kill -9) the next process takes over and marks its
// job interrupted. Real processes, real SQLite; synchronisation on rows and files only.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import { DB_FILE_NAME, openDatabase } from '../../../src/main/db/database';
import { JobsRepo } from '../../../src/main/db/jobs-repo';
import type { Job } from '../../../src/common/jobs';
import { runCli, startCli, stopClis } from '../../helpers/cli';
import { testBackend } from '../../helpers/library';
import { expectedFolderDigest, makeEndlessFileTree, makeFileTree, removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { until } from '../../helpers/wait';

const open: Backend[] = [];
afterEach(() => {
  for (const b of open.splice(0)) b.close();
  stopClis();
});
afterAll(removeTmpDirs);

/** `cleft jobs hash-folder FOLDER` on `dataDir` in a child process. */
const hashInChild = (folder: string, dataDir: string) => startCli(['jobs', 'hash-folder', folder, '--data-dir', dataDir]);

function listed(dataDir: string): Job[] {
  return JSON.parse(runCli(['jobs', 'list', '--json', '--data-dir', dataDir])) as Job[];
}

describe('one job runner per library', () => {
  it(
    'a CLI job is left alone by `jobs list` and a second backend, which queue and cancel through its runner',
    { timeout: 300_000 },
    async () => {
      const endless = makeEndlessFileTree();
      const small = makeFileTree(3, 10);
      const dataDir = tmpDir();
      const cliJob = hashInChild(endless.root, dataDir);
      await until(() => fs.existsSync(path.join(dataDir, 'jobs', '1', 'checkpoint.json')), 'the CLI job checkpointing');

      // Read-only: the running job stays running, nothing is started; it says who runs it.
      expect(listed(dataDir).map((j) => [j.id, j.status])).toEqual([[1, 'running']]);
      expect(runCli(['jobs', 'list', '--data-dir', dataDir])).toContain(`Jobs run by process ${cliJob.pid} (cleft jobs hash-folder)`);

      // A second backend on the library (as `cleft serve` would open it) is a client of the CLI process.
      const b = testBackend(dataDir);
      open.push(b);
      expect(b.jobs.isRunner).toBe(false);
      expect(b.jobs.get(1).status).toBe('running');
      expect(b.jobs.get(1).progress.fraction).toBeGreaterThan(0);
      const updates: Job[] = [];
      b.events.subscribe((event, payload) => {
        if (event === 'job.updated') updates.push(payload as Job);
      });
      const queued = b.jobs.enqueue({ kind: 'hash-folder', params: { folder: small } });
      expect(queued.status).toBe('queued'); // not started here: only the runner starts jobs
      expect(listed(dataDir).map((j) => [j.id, j.status])).toEqual([
        [queued.id, 'queued'],
        [1, 'running'],
      ]);

      // Cancelling the CLI's job from here asks its runner, which stops it; the CLI reports it and exits.
      const cancelling = b.jobs.cancel(1);
      expect(cancelling.status).toBe('running');
      expect(cancelling.progress.message).toBe('Cancelling…');
      const cancelled = await b.jobs.waitFor(1);
      expect(cancelled.status).toBe('cancelled');
      expect((await cliJob.exited).code).toBe(130);
      // The client announced what the runner did to the rows (the UI follows these events).
      expect(updates.some((j) => j.id === 1 && j.status === 'cancelled')).toBe(true);

      // The runner is gone: this backend takes the library over and runs the job it queued.
      const done = await b.jobs.waitFor(queued.id);
      expect(b.jobs.isRunner).toBe(true);
      expect(done.status).toBe('done');
      expect(done.result).toMatchObject(expectedFolderDigest(small));
      expect(listed(dataDir).map((j) => [j.id, j.status])).toEqual([
        [queued.id, 'done'],
        [1, 'cancelled'],
      ]);
    },
  );

  it(
    'kill -9 of the runner lets the next opener take over: the job is interrupted, then resumes to the same result',
    { timeout: 300_000 },
    async () => {
      const endless = makeEndlessFileTree();
      const dataDir = tmpDir();
      const cliJob = hashInChild(endless.root, dataDir);
      await until(() => fs.existsSync(path.join(dataDir, 'jobs', '1', 'checkpoint.json')), 'the CLI job checkpointing');

      const b = testBackend(dataDir);
      open.push(b);
      expect(b.jobs.isRunner).toBe(false);
      expect(b.jobs.get(1).status).toBe('running');
      await cliJob.kill();
      // The kernel freed the lock with the process; the client's next poll takes it.
      await until(() => b.jobs.isRunner, 'the client taking over');
      const cut = b.jobs.get(1);
      expect(cut.status).toBe('interrupted');
      expect(cut.progress.fraction).toBeGreaterThan(0);
      endless.shrink();
      b.jobs.resume(1);
      const final = await b.jobs.waitFor(1);
      expect(final.status).toBe('done');
      expect(final.result).toMatchObject(expectedFolderDigest(endless.root));
    },
  );

  it(
    '`cleft jobs hash-folder` beside a runner queues its job there, waits for it and prints the result',
    { timeout: 120_000 },
    async () => {
      const dataDir = tmpDir();
      const runner = testBackend(dataDir);
      open.push(runner);
      const folder = makeFileTree(3, 10);
      const cliJob = hashInChild(folder, dataDir);
      const { code } = await cliJob.exited;
      const [stdout, stderr] = [cliJob.stdout(), cliJob.stderr()];
      expect(code, stderr).toBe(0);
      expect(stderr).toContain(`process ${process.pid}`); // it said who runs the library's jobs
      expect(JSON.parse(stdout)).toMatchObject(expectedFolderDigest(folder));
      expect(runner.jobs.get(1).status).toBe('done'); // run here, by the runner
    },
  );

  it('`jobs list` neither starts a queued job nor interrupts anything', () => {
    const dataDir = tmpDir();
    const db = openDatabase(path.join(dataDir, DB_FILE_NAME));
    const repo = new JobsRepo(db);
    const queued = repo.insert('hash-folder', { folder: makeFileTree(3, 10) });
    const running = repo.insert('hash-folder', { folder: makeFileTree(3, 10) });
    db.prepare(`UPDATE jobs SET status = 'running' WHERE id = ?`).run(running);
    db.close();
    expect(listed(dataDir).map((j) => [j.id, j.status])).toEqual([
      [running, 'running'],
      [queued, 'queued'],
    ]);
    expect(listed(dataDir).map((j) => [j.id, j.status])).toEqual([
      [running, 'running'],
      [queued, 'queued'],
    ]);
    expect(fs.existsSync(path.join(dataDir, 'jobs', String(queued)))).toBe(false); // never started
  });

  it('a second backend in the same process is a client too, and cannot run what the first runs', async () => {
    const dataDir = tmpDir();
    const first = testBackend(dataDir);
    open.push(first);
    const second = testBackend(dataDir);
    open.push(second);
    expect(first.jobs.isRunner).toBe(true);
    expect(second.jobs.isRunner).toBe(false);
    const job = second.jobs.enqueue({ kind: 'hash-folder', params: { folder: makeFileTree(3, 10) } });
    // Queued by the client, run by the runner (it notices the row on its poll).
    const [byFirst, bySecond] = await Promise.all([first.jobs.waitFor(job.id), second.jobs.waitFor(job.id)]);
    expect(byFirst.status).toBe('done');
    expect(bySecond.status).toBe('done');
  });
});
