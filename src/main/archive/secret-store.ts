// Archive secrets (basic-auth password, bearer token) kept outside the SQLite file: one small JSON
// file per archive in <data dir>/secrets/ (folder 0700, files 0600, written whole or not at all), so
// the database can be copied or shared without credentials. Nothing here logs a secret.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, tighten } from '../data-dir';

export const SECRETS_DIR = 'secrets';

/** The file holding archive `name`'s secret (names are restricted to [A-Za-z0-9._-], see common/archives.ts). */
export function archiveSecretFile(dataDir: string, name: string): string {
  return path.join(dataDir, SECRETS_DIR, `archive-${name}.json`);
}

export function writeArchiveSecret(dataDir: string, name: string, secret: string): void {
  const dir = path.join(dataDir, SECRETS_DIR);
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  tighten(dir, PRIVATE_DIR_MODE);
  const file = archiveSecretFile(dataDir, name);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  // Created 0600 whatever the umask (a test or a library tool may run with 022), then renamed over.
  const fd = fs.openSync(tmp, 'wx', PRIVATE_FILE_MODE);
  try {
    try {
      if (process.platform !== 'win32') fs.fchmodSync(fd, PRIVATE_FILE_MODE);
      fs.writeSync(fd, JSON.stringify({ secret }));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** The stored secret, or null when there is none. A damaged file is an error naming the file (not its content). */
export function readArchiveSecret(dataDir: string, name: string): string | null {
  const file = archiveSecretFile(dataDir, name);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read the secret of archive "${name}" (${file}): ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  try {
    const parsed = JSON.parse(text) as { secret?: unknown };
    if (typeof parsed.secret === 'string' && parsed.secret.length > 0) return parsed.secret;
  } catch {
    /* reported below, without echoing the file */
  }
  throw new Error(`the secret file of archive "${name}" (${file}) is damaged: add the archive again`);
}

export function removeArchiveSecret(dataDir: string, name: string): void {
  fs.rmSync(archiveSecretFile(dataDir, name), { force: true });
}
