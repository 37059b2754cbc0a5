// Write-then-rename: a reader sees the old file or the whole new one, never half of either, even
// after a kill or a full disk mid-write (the temporary file is removed then).
import fs from 'node:fs';
import path from 'node:path';
import { writingTo } from './disk-full';

/** Writes `data` (chunks, one buffer or a string) to `file` atomically (tmp + fsync + rename + directory fsync). */
export function writeFileAtomic(file: string, data: Iterable<Uint8Array> | Uint8Array | string, doFsync = true): void {
  const chunks: Iterable<Uint8Array> = typeof data === 'string' ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, tempName(path.basename(file)));
  writingTo(file, () => {
    const fd = fs.openSync(tmp, 'wx', 0o644);
    try {
      try {
        for (const c of chunks) {
          let done = 0;
          while (done < c.length) done += fs.writeSync(fd, c, done, Math.min(c.length - done, 1 << 30));
        }
        if (doFsync) fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    } catch (e) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        /* already gone */
      }
      throw e;
    }
  });
  if (doFsync) fsyncDir(dir);
}

/** The temporary name `writeFileAtomic` writes `name` under, beside it. */
function tempName(name: string): string {
  return `.${name}.${process.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}.tmp`;
}

const TEMP_NAME = /^\..+\.\d+\.[0-9a-z]+\.[0-9a-z]*\.tmp$/;

/**
 * Removes the temporary files a kill left under `dir` (recursively) mid-`writeFileAtomic`. Only for
 * folders nobody writes into at the time (a job's folder before its run starts). Returns their paths.
 */
export function removeStaleTempFiles(dir: string): string[] {
  const removed: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return removed; // no folder yet
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) removed.push(...removeStaleTempFiles(full));
    else if (e.isFile() && TEMP_NAME.test(e.name)) {
      fs.rmSync(full, { force: true });
      removed.push(full);
    }
  }
  return removed;
}

function fsyncDir(dir: string): void {
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    /* directories cannot be fsynced on some platforms (Windows) */
  }
}
