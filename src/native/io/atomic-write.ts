// Write-then-rename: a reader sees the old file or the whole new one, never half of either, even
// after a kill or a full disk mid-write (the temporary file is removed then).
import fs from 'node:fs';
import path from 'node:path';
import { writingTo } from './disk-full';

/** Writes `data` (chunks, one buffer or a string) to `file` atomically (tmp + fsync + rename + directory fsync). */
export function writeFileAtomic(file: string, data: Iterable<Uint8Array> | Uint8Array | string, doFsync = true): void {
  const chunks: Iterable<Uint8Array> = typeof data === 'string' ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(
    dir,
    `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}.tmp`,
  );
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
