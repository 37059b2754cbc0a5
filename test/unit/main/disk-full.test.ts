// A full disk: the message names the file (or the folder) and the space left, what was saved before
// stays whole, the host keeps serving, and the job finishes after Resume once there is room. The
// real cases run on a small tmpfs mounted for the test (needs root and permission to mount, as on
// this project's CI machine); elsewhere they skip and say why.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBackend } from '../../../src/main/api/backend';
import { launchThreadWorker } from '../../../src/main/workers/thread-launcher';
import { writeFileAtomic } from '../../../src/native/io/atomic-write';
import { DiskFullError, errorMessage, writingTo } from '../../../src/native/io/disk-full';
import { callApi } from '../../helpers/api';

const mounts: string[] = [];

/** A fresh tmpfs of `size` (e.g. '2m'), or the reason there cannot be one here. */
function tinyDisk(size: string): { dir: string } | { skip: string } {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return { skip: 'needs root on Linux to mount a small tmpfs' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    fs.rmdirSync(dir);
    return { skip: `mount -t tmpfs is not permitted here (${(e as Error).message.split('\n')[0]})` };
  }
  mounts.push(dir);
  return { dir };
}
const probe = tinyDisk('64k');
const skipReason = 'skip' in probe ? probe.skip : null;
if (skipReason) console.warn(`full-disk tests skipped: ${skipReason}`);

afterAll(() => {
  for (const dir of mounts) {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
      fs.rmdirSync(dir);
    } catch {
      /* best effort */
    }
  }
});

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });

describe('the message of a full disk', () => {
  it('names the file, or the folder, and what to do; other errors pass unchanged', () => {
    const file = path.join(os.tmpdir(), 'nowhere', 'model.safetensors');
    const failing = (): never => {
      throw enospc();
    };
    expect(() => writingTo(file, failing)).toThrow(DiskFullError);
    const m = new DiskFullError(file).message;
    expect(m).toMatch(
      /^no space left on the disk while writing \/.*model\.safetensors \(\d+(\.\d)? [KMG]B free there now\): free some space/,
    );
    expect(m).toContain('Resume');
    expect(errorMessage(enospc(), '/data/cleft')).toMatch(/while writing in \/data\/cleft/);
    expect(errorMessage(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }), '/data/cleft')).toMatch(
      /no space left/,
    );
    expect(errorMessage(new Error('model folder has no config.json'))).toBe('model folder has no config.json');
    expect(() =>
      writingTo(file, () => {
        throw new Error('other');
      }),
    ).toThrow(/^other$/);
  });
});

describe.skipIf(skipReason !== null)('on a real full disk (a small tmpfs)', () => {
  it('an atomic write that does not fit names the file and leaves the previous version whole, with no temporary file', () => {
    const dir = (probe as { dir: string }).dir;
    const file = path.join(dir, 'checkpoint.safetensors');
    writeFileAtomic(file, new Uint8Array(16 * 1024).fill(7));
    expect(() => writeFileAtomic(file, new Uint8Array(200 * 1024).fill(9))).toThrow(
      new RegExp(`^no space left on the disk while writing ${file.replace(/[.]/g, '\\.')} \\(\\d+ KB free there now\\)`),
    );
    expect(fs.readFileSync(file)).toEqual(Buffer.from(new Uint8Array(16 * 1024).fill(7)));
    expect(fs.readdirSync(dir)).toEqual(['checkpoint.safetensors']);
  });

  it('a job that fills the disk fails saying where; the host keeps serving; after space is freed, Resume finishes it', async () => {
    const disk = tinyDisk('6m');
    if ('skip' in disk) throw new Error(disk.skip);
    const b = createBackend({ dataDir: path.join(disk.dir, 'data'), launchWorker: launchThreadWorker, host: 'web', version: 'test' });
    try {
      // The quick demo writes about 24 MB (phantom exams, models, bundle): it cannot fit in 6.
      const job = await callApi(b, 'demo.start', { quick: true });
      const failed = await b.jobs.waitFor(job.id);
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(
        /^no space left on the disk while writing (in )?\/.+ \(\d+(\.\d)? [KMG]B free there now\): free some space/,
      );
      expect(failed.error).not.toMatch(/^ENOSPC/);
      console.log(`full disk, the job said: ${failed.error}`);
      // The host still answers, and the library it had is readable.
      expect((await callApi(b, 'jobs.get', { id: job.id })).status).toBe('failed');
      await callApi(b, 'library.stats', {});

      execFileSync('mount', ['-o', 'remount,size=128m', disk.dir], { stdio: 'pipe' });
      await callApi(b, 'jobs.resume', { id: job.id });
      const done = await b.jobs.waitFor(job.id);
      expect(done.error).toBeNull();
      expect(done.status).toBe('done');
      const stats = await callApi(b, 'library.stats', {});
      expect(stats.studies).toBeGreaterThanOrEqual(8);
      expect(stats.models).toBe(1);
    } finally {
      b.close();
    }
  }, 300_000);
});
