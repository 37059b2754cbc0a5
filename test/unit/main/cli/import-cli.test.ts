// `cleft import` runs the import job kind through the same job host and queue as the app
// (cli/run-job.ts): its summary on stdout, the built-in tasks seeded as when the app opens a
// library, the job recorded like any other, and the exit code of the job's end.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_FILE_NAME, openDatabase } from '../../../../src/main/db/database';
import { JobsRepo } from '../../../../src/main/db/jobs-repo';
import { TasksRepo } from '../../../../src/main/db/tasks-repo';
import { cliOutcome } from '../../../helpers/cli';
import { requireDump2dcm, writeFourViewExam } from '../../../helpers/dcmtk';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);

function cleft(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = cliOutcome(args);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cleft import', () => {
  let source: string;
  beforeAll(() => {
    requireDump2dcm();
    source = tmpDir('cleft-dicom-');
    writeFourViewExam(source, 1);
    fs.writeFileSync(path.join(source, 'notes.txt'), 'not an image');
  });

  it('imports through the job queue: summary, problems, tasks seeded, the job recorded', { timeout: 300_000 }, () => {
    const dataDir = path.join(tmpDir(), 'library');
    const r = cleft('import', source, '--data-dir', dataDir);
    expect(r.stderr).not.toContain('Error');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^Imported 4 new and 0 updated instances in 1 studies \(0 unchanged, 0 duplicates, 0 refused, 1 skipped\) from 5 files in \d+\.\d s\.$/,
    );
    expect(lines.slice(1, 4)).toEqual(['', '1 file(s) not imported:', `  ${path.join(source, 'notes.txt')}`]);
    expect(lines[4]).toMatch(/^ {6}skipped: /);

    const db = openDatabase(path.join(dataDir, DB_FILE_NAME), { readonly: true });
    try {
      expect(new TasksRepo(db).list().map((t) => t.name)).toEqual(expect.arrayContaining(['Breast density', 'BI-RADS assessment']));
      expect(new JobsRepo(db).list({ limit: 10 }).map((j) => [j.kind, j.status])).toEqual([['import', 'done']]);
    } finally {
      db.close();
    }

    // again, as JSON: the files are unchanged, the same problem is listed
    const again = cleft('import', source, '--data-dir', dataDir, '--json');
    expect(again.status).toBe(0);
    const out = JSON.parse(again.stdout) as { status: string; result: { unchanged: number }; error: null; problems: { kind: string }[] };
    expect(out).toMatchObject({ status: 'done', result: { unchanged: 4 }, error: null });
    expect(out.problems.map((p) => p.kind)).toEqual(['skipped']);
  });

  it('a path that does not exist fails the import naming it (exit 1), nothing indexed', { timeout: 300_000 }, () => {
    const dataDir = path.join(tmpDir(), 'library');
    const missing = path.join(source, 'no-such-folder');
    const r = cleft('import', missing, '--data-dir', dataDir);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`Import failed: ${missing}: does not exist (no such file or folder).`);
  });
});
