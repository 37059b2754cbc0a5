// What the import and `cleft dicom` do with files that are not plain files (issue #16, item 11):
// FIFOs and devices are never opened, links that lead nowhere are listed, names that are not
// UTF-8 are shown readably, and a DICOMDIR says which of its files are missing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/main/api/backend';
import { readDicomHeader } from '../../../src/main/dicom/header';
import type { ImportResult } from '../../../src/common/jobs';
import { callApi } from '../../helpers/api';
import { cliOutcome } from '../../helpers/cli';
import { requireDump2dcm, writeFourViewExam } from '../../helpers/dcmtk';
import { testBackend } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

const open: Backend[] = [];
afterEach(() => {
  for (const b of open.splice(0)) b.close();
});
afterAll(removeTmpDirs);

async function importPaths(paths: string[]): Promise<{ result: ImportResult; problems: Record<string, string> }> {
  const b = testBackend();
  open.push(b);
  const job = b.jobs.enqueue({ kind: 'import', params: { paths } });
  const final = await b.jobs.waitFor(job.id);
  expect(final.error).toBeNull();
  expect(final.status).toBe('done');
  const rows = (await callApi(b, 'library.problems', { jobId: job.id })).rows;
  return { result: final.result as ImportResult, problems: Object.fromEntries(rows.map((p) => [p.filePath, `${p.kind}: ${p.reason}`])) };
}

describe('special files', () => {
  let dir: string;
  beforeAll(() => {
    requireDump2dcm();
    dir = tmpDir('cleft-special-');
    writeFourViewExam(dir, 1);
    execFileSync('mkfifo', [path.join(dir, 'pipe.dcm')]);
    fs.symlinkSync(path.join(dir, 'gone.dcm'), path.join(dir, 'dangling.dcm'));
    fs.symlinkSync(path.join(dir, 'loop-b'), path.join(dir, 'loop-a'));
    fs.symlinkSync(path.join(dir, 'loop-a'), path.join(dir, 'loop-b'));
    fs.symlinkSync(path.join(dir, 'pipe.dcm'), path.join(dir, 'link-to-pipe'));
    fs.symlinkSync(dir, path.join(dir, 'exam1', 'up')); // a link back to the top folder
    // A file name in Latin-1 (not valid UTF-8): "café.dcm" with é as the single byte 0xE9.
    const latin1 = Buffer.concat([Buffer.from(dir + '/caf'), Buffer.from([0xe9]), Buffer.from('.dcm')]);
    fs.copyFileSync(path.join(dir, 'exam1', 'IM1'), latin1);
  });

  it('the import lists FIFOs, dangling links, link loops and non-UTF-8 names with a reason, and never opens a FIFO', async () => {
    const { result, problems } = await importPaths([dir]);
    expect(result.imported).toBe(4);
    expect(problems[path.join(dir, 'pipe.dcm')]).toBe('skipped: a FIFO (named pipe): not read');
    expect(problems[path.join(dir, 'link-to-pipe')]).toBe('skipped: symbolic link to a FIFO (named pipe): not read');
    expect(problems[path.join(dir, 'dangling.dcm')]).toBe('skipped: dangling symbolic link (its target is missing)');
    expect(problems[path.join(dir, 'loop-a')]).toBe('skipped: symbolic link loop');
    expect(problems[path.join(dir, 'loop-b')]).toBe('skipped: symbolic link loop');
    expect(problems[path.join(dir, 'exam1', 'up')]).toBe(`skipped: link to a folder scanned already (${dir})`);
    expect(problems[path.join(dir, 'caf\\xE9.dcm')]).toBe(
      'refused: the file name is not valid UTF-8 (shown with \\x escapes); rename it to import it',
    );
    expect(Object.keys(problems)).toHaveLength(7);
  });

  it('`cleft dicom info` and `pixels` refuse a FIFO at once, naming it', async () => {
    const fifo = path.join(dir, 'pipe.dcm');
    await expect(readDicomHeader(fifo)).rejects.toMatchObject({
      reason: 'io',
      message: `${fifo}: cannot read: a FIFO (named pipe), not a regular file`,
    });
    // The real command in a child: before, it blocked forever on the open (the timeout only bounds a failure).
    const r = cliOutcome(['dicom', 'pixels', fifo, '-o', path.join(dir, 'out.safetensors')], { timeoutMs: 50_000 });
    expect(r.signal).toBeNull();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`${fifo}: cannot read: a FIFO (named pipe), not a regular file`);
  });

  it('a file name that is not UTF-8, given as text, is refused saying so', async () => {
    // What the command line hands over for "caf\xE9.dcm": the byte replaced by U+FFFD.
    const garbled = path.join(dir, 'caf\uFFFD.dcm');
    await expect(readDicomHeader(garbled)).rejects.toMatchObject({
      reason: 'io',
      message: `${garbled}: cannot read: no such file (its name is not valid UTF-8 and cannot be passed as text; rename it)`,
    });
  });

  it('a DICOMDIR whose referenced files are missing says how many and lists them', async () => {
    const media = tmpDir('cleft-media-');
    writeFourViewExam(media, 2);
    fs.renameSync(path.join(media, 'exam2'), path.join(media, 'IMAGES'));
    execFileSync('dcmmkdir', ['+r', '-Pgp', '+I', '--recurse', 'IMAGES'], { cwd: media, stdio: 'pipe' });
    fs.rmSync(path.join(media, 'IMAGES', 'IM2'));
    fs.rmSync(path.join(media, 'IMAGES', 'IM4'));
    const dicomdir = path.join(media, 'DICOMDIR');
    const { result, problems } = await importPaths([dicomdir]);
    expect(result.imported).toBe(2);
    expect(problems[dicomdir]).toBe(
      'skipped: DICOMDIR (media directory): 2 of its 4 referenced file(s) are missing (listed); the others were scanned',
    );
    expect(problems[path.join(media, 'IMAGES', 'IM2')]).toBe(`refused: missing: referenced by ${dicomdir}`);
    expect(problems[path.join(media, 'IMAGES', 'IM4')]).toBe(`refused: missing: referenced by ${dicomdir}`);
    expect(Object.keys(problems)).toHaveLength(3);
  });
});
