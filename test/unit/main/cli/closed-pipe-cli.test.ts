// `cleft ... | head -1`: a reader that closes its end of the pipe after the first line. The command
// still has lines to print (a library with thousands of runs prints far more than a pipe holds), so
// its next write fails with EPIPE: it must end quietly, status 0, with no stack on stderr.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DB_FILE_NAME, openDatabase } from '../../../../src/main/db/database';
import { RunsRepo } from '../../../../src/main/db/runs-repo';
import { TasksRepo } from '../../../../src/main/db/tasks-repo';
import { CLI, ROOT } from '../../../helpers/cli';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);

const RUNS = 3000; // about 100 bytes a line: 300 kB, several times what a pipe buffers
let dataDir: string;

beforeAll(() => {
  dataDir = path.join(tmpDir('cleft-closed-pipe-'), 'library');
  const db = openDatabase(path.join(dataDir, DB_FILE_NAME));
  try {
    const tasks = new TasksRepo(db);
    tasks.seedBuiltins();
    const taskId = tasks.list()[0]!.id;
    const runs = new RunsRepo(db);
    const record = {
      modelSha256: null,
      adapters: {},
      promptSetSha256: null,
      preprocessSha256: null,
      selectionSha256: null,
      executionProvider: 'cpu',
      appVersion: 'test',
      params: {},
    };
    db.transaction(() => {
      for (let i = 0; i < RUNS; i++)
        runs.createRun({ kind: 'zero-shot', name: `run ${i}`, jobId: null, modelId: null, taskId, promptSetId: null, record });
    })();
  } finally {
    db.close();
  }
});

it('a reader closing the pipe after the first line: the command exits 0 and prints no error', { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, [CLI, 'runs', 'list'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CLEFT_DATA_DIR: dataDir },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let first = '';
  child.stdout.on('data', (d: Buffer) => {
    if (first.includes('\n')) return;
    first += d.toString();
    if (first.includes('\n')) child.stdout.destroy(); // what `head -1` does once it has its line
  });
  const [code, signal] = (await new Promise((resolve) => child.once('close', (c, s) => resolve([c, s])))) as [number | null, string | null];
  expect(first.split('\n')[0]).toMatch(new RegExp(`^#${RUNS}  zero-shot`));
  expect(stderr).toBe('');
  expect({ code, signal }).toEqual({ code: 0, signal: null });
});

it('in a shell pipeline with pipefail: `cleft runs list | head -1` succeeds with the first line only', { timeout: 120_000 }, () => {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${CLI}" runs list --json | head -1`], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CLEFT_DATA_DIR: dataDir },
  });
  expect(r.stdout).toBe('[\n');
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});
