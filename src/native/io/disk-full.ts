// A full disk, said for people. Node's own message ("ENOSPC: no space left on device, write")
// names neither the file nor the disk; these errors name both, with the space left and what to do.
import fs from 'node:fs';
import path from 'node:path';

/** Error codes that mean "no room to write": a full disk, a quota, SQLite's own. */
const FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && FULL_CODES.has(code);
}

/** Free bytes on the file system holding `target` (its nearest existing ancestor), or null. */
export function freeBytes(target: string): number | null {
  let dir = path.resolve(target);
  for (;;) {
    try {
      const s = fs.statfsSync(dir);
      return s.bavail * s.bsize;
    } catch {
      const up = path.dirname(dir);
      if (up === dir) return null;
      dir = up;
    }
  }
}

function formatBytes(n: number): string {
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(1)} GB`;
}

function diskFullMessage(target: string, what: 'file' | 'folder'): string {
  const free = freeBytes(target);
  return (
    `no space left on the disk while writing ${what === 'file' ? target : `in ${target}`}` +
    (free !== null ? ` (${formatBytes(free)} free there now)` : '') +
    `: free some space and run it again (a job: Resume). Files saved before are kept.`
  );
}

export class DiskFullError extends Error {
  readonly code = 'ENOSPC';
  constructor(
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(diskFullMessage(file, 'file'), options);
    this.name = 'DiskFullError';
  }
}

/** Runs `write`; a full disk becomes a DiskFullError naming `file`. */
export function writingTo<T>(file: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    if (isDiskFull(err) && !(err instanceof DiskFullError)) throw new DiskFullError(file, { cause: err });
    throw err;
  }
}

/** `writingTo` for asynchronous writes. */
export async function writingToAsync<T>(file: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isDiskFull(err) && !(err instanceof DiskFullError)) throw new DiskFullError(file, { cause: err });
    throw err;
  }
}

/**
 * The message for any error a command or job ends with: a full disk names the file when the error
 * knows it, else the folder the work was writing in (`where`), with the space left there.
 */
export function errorMessage(err: unknown, where?: string): string {
  if (err instanceof DiskFullError) return err.message;
  if (isDiskFull(err)) {
    const file = (err as { path?: unknown }).path;
    if (typeof file === 'string') return diskFullMessage(file, 'file');
    if (where) return diskFullMessage(where, 'folder');
    return 'no space left on the disk: free some space and run it again (a job: Resume). Files saved before are kept.';
  }
  return err instanceof Error ? err.message : String(err);
}
