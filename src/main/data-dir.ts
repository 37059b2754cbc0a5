// Where the library lives. The CLI and web host use the same folder as the desktop app (Electron's
// userData for productName "CLEFT Studio") unless told otherwise, so all three see one library.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';

export const APP_FOLDER_NAME = 'CLEFT Studio';

export function defaultUserDataDir(): string {
  const home = os.homedir();
  switch (process.platform) {
    case 'win32':
      return path.join(process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), APP_FOLDER_NAME);
    case 'darwin':
      return path.join(home, 'Library', 'Application Support', APP_FOLDER_NAME);
    default:
      return path.join(process.env.XDG_CONFIG_HOME ?? path.join(home, '.config'), APP_FOLDER_NAME);
  }
}

/** `--data-dir` wins, then CLEFT_DATA_DIR, then the app's user-data folder. */
export function resolveDataDir(flag?: string): string {
  const chosen = flag ?? process.env.CLEFT_DATA_DIR;
  return path.resolve(chosen && chosen.length > 0 ? chosen : defaultUserDataDir());
}

// The library holds patient images' derivatives, labels and reports: private to the user. Folders
// 0700, files 0600. The umask covers everything a process creates (jobs, caches, imported models,
// SQLite's -wal/-shm, which also take the database file's mode); the library folder and database get
// explicit modes as well, and an existing library is tightened when opened.
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
const PRIVATE_UMASK = 0o077;

/** Sets this process's umask to 077 (every entry point calls it; worker threads share their process's). */
export function usePrivateUmask(): void {
  if (process.platform === 'win32' || !isMainThread) return; // no umask on Windows; workers may not set it
  process.umask(PRIVATE_UMASK);
}

/** Creates the library folder (0700) or tightens an existing one to 0700. */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  tighten(dir, PRIVATE_DIR_MODE);
}

/** chmod to `mode` when looser (a file of another owner, or a read-only disk, is left as it is). */
export function tighten(file: string, mode: number): void {
  if (process.platform === 'win32') return;
  try {
    if ((fs.statSync(file).mode & 0o777 & ~mode) !== 0) fs.chmodSync(file, mode);
  } catch {
    /* absent, not ours, or read-only: nothing to tighten */
  }
}

/** Tightens a folder the app copied into the library (copies keep their source's modes). */
export function makePrivate(dir: string): void {
  if (process.platform === 'win32') return;
  tighten(dir, PRIVATE_DIR_MODE);
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) makePrivate(p);
    else if (e.isFile()) tighten(p, PRIVATE_FILE_MODE);
  }
}
