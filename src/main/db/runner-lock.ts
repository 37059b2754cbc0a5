// The lock that makes one process the job runner of a library. A dedicated SQLite connection holds
// `BEGIN EXCLUSIVE` on a small database file of its own (never the library database): SQLite takes
// an OS lock (fcntl on POSIX, LockFileEx on Windows) that the kernel releases when the process ends,
// however it ends (kill -9 included), so there is no PID to check and no PID reuse to fear. Other
// connections, in this process or another, get SQLITE_BUSY at once.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';

export const RUNNER_LOCK_FILE = 'job-runner.lock';

export class RunnerLock {
  private constructor(private readonly db: Database.Database) {}

  /** The lock of the library in `dataDir`, or null when another connection holds it. */
  static tryAcquire(dataDir: string): RunnerLock | null {
    const file = path.join(dataDir, RUNNER_LOCK_FILE);
    // Created here, private to the user; an existing file is never opened outside SQLite, because
    // closing any descriptor of a file drops this process's POSIX locks on it.
    try {
      fs.closeSync(fs.openSync(file, 'wx', 0o600));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const db = new Database(file, { timeout: 0 });
    try {
      db.exec('BEGIN EXCLUSIVE');
      return new RunnerLock(db);
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code === 'SQLITE_BUSY') return null;
      throw new Error(`Cannot lock ${file}: ${(err as Error).message}`);
    }
  }

  release(): void {
    this.db.close(); // ends the transaction and with it the lock
  }
}
