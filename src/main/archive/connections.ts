// Saved DICOMweb archive connections: add, list, remove, and the one way a command or a job turns a
// name into a connection it can talk to (`resolveArchive`). Rows live in SQLite (db/archives-repo.ts);
// passwords and tokens in secret files beside it (secret-store.ts). No secret ever appears in a
// message, in `listArchives`, or in anything sent to the renderer.
import fs from 'node:fs';
import { ArchiveAddInput, ArchiveName, type ArchiveInfo } from '../../common/archives';
import { CleftError } from '../../common/errors';
import { ArchivesRepo, type ArchiveRow } from '../db/archives-repo';
import type { Db } from '../db/database';
import { archiveSecretFile, readArchiveSecret, removeArchiveSecret, writeArchiveSecret } from './secret-store';

export type ArchiveAuth = { kind: 'none' } | { kind: 'basic'; user: string; password: string } | { kind: 'bearer'; token: string };

export interface ArchiveConnection {
  name: string;
  /** The DICOMweb base URL, no trailing slash (e.g. https://pacs.example.org/dicom-web). */
  url: string;
  auth: ArchiveAuth;
}

/** The Authorization header the connection's auth asks for (none: no header). */
export function authHeaders(conn: ArchiveConnection): Record<string, string> {
  switch (conn.auth.kind) {
    case 'none':
      return {};
    case 'basic':
      return { Authorization: `Basic ${Buffer.from(`${conn.auth.user}:${conn.auth.password}`, 'utf8').toString('base64')}` };
    case 'bearer':
      return { Authorization: `Bearer ${conn.auth.token}` };
  }
}

/**
 * The canonical base URL: http(s) only, no credentials, query or fragment, no trailing slash. The
 * message never repeats a URL that carried credentials.
 */
export function normalizeArchiveUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new CleftError('invalid_input', `the archive URL is not a URL: "${raw}" (e.g. https://pacs.example.org/dicom-web)`);
  }
  if (u.username !== '' || u.password !== '')
    throw new CleftError(
      'invalid_input',
      'the archive URL must not carry a user or password: use --auth basic --user U (the password from a file or CLEFT_PACS_PASSWORD)',
    );
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new CleftError('invalid_input', `the archive URL must start with https:// or http://, got "${u.protocol}" in "${raw}"`);
  if (u.search !== '' || u.hash !== '')
    throw new CleftError('invalid_input', `the archive URL must be the DICOMweb root without ?query or #fragment, got "${raw}"`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/** True when credentials would cross a network unencrypted (http:// to a host other than this machine). */
export function isCleartextRemote(url: string): boolean {
  const u = new URL(url);
  return u.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}

function toInfo(dataDir: string, row: ArchiveRow): ArchiveInfo {
  return {
    name: row.name,
    url: row.url,
    auth: row.authKind,
    user: row.authUser,
    hasSecret: row.authKind !== 'none' && fs.existsSync(archiveSecretFile(dataDir, row.name)),
    createdAt: row.createdAt,
  };
}

function unknownArchive(repo: ArchivesRepo, name: string): CleftError {
  const names = repo.list().map((r) => `"${r.name}"`);
  return new CleftError(
    'not_found',
    `no archive named "${name}" (${names.length > 0 ? `saved archives: ${names.join(', ')}` : 'none saved yet: cleft pacs add NAME --url URL'})`,
  );
}

/** Saves a connection (its secret in a 0600 file). Refuses a taken name and auth settings that do not fit together. */
export function addArchive(db: Db, dataDir: string, rawInput: ArchiveAddInput): ArchiveInfo {
  const parsed = ArchiveAddInput.safeParse(rawInput);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    // zod's message only: the input may hold the secret.
    throw new CleftError('invalid_input', `archive ${i.path.join('.') || 'input'}: ${i.message}`);
  }
  const input = parsed.data;
  const url = normalizeArchiveUrl(input.url);
  if (input.auth === 'basic' && (input.user === undefined || input.secret === undefined))
    throw new CleftError('invalid_input', `archive "${input.name}": basic auth needs a user and a password`);
  if (input.auth === 'bearer' && input.secret === undefined)
    throw new CleftError('invalid_input', `archive "${input.name}": bearer auth needs a token`);
  if (input.auth === 'bearer' && input.user !== undefined)
    throw new CleftError('invalid_input', `archive "${input.name}": a user goes with basic auth, not bearer`);
  if (input.auth === 'none' && (input.user !== undefined || input.secret !== undefined))
    throw new CleftError('invalid_input', `archive "${input.name}": a user or secret needs --auth basic or bearer`);
  if (/[:\r\n]/.test(input.user ?? ''))
    throw new CleftError('invalid_input', `archive "${input.name}": the user name must not contain ':' or line breaks`);
  if (/[\r\n]/.test(input.secret ?? ''))
    throw new CleftError('invalid_input', `archive "${input.name}": the password or token must be one line`);
  const repo = new ArchivesRepo(db);
  repo.transaction(() => {
    if (!repo.insert({ name: input.name, url, authKind: input.auth, authUser: input.auth === 'basic' ? input.user! : null }))
      throw new CleftError('conflict', `an archive named "${input.name}" already exists (cleft pacs remove ${input.name} first)`);
    // Inside the transaction: a secret that cannot be written leaves no row behind.
    if (input.secret !== undefined) writeArchiveSecret(dataDir, input.name, input.secret);
    else removeArchiveSecret(dataDir, input.name); // a stale file of an earlier archive of that name
  });
  return toInfo(dataDir, repo.get(input.name)!);
}

export function listArchives(db: Db, dataDir: string): ArchiveInfo[] {
  return new ArchivesRepo(db).list().map((r) => toInfo(dataDir, r));
}

/** Removes a connection and its secret file. */
export function removeArchive(db: Db, dataDir: string, name: string): void {
  const repo = new ArchivesRepo(db);
  if (!repo.remove(name)) throw unknownArchive(repo, name);
  removeArchiveSecret(dataDir, name);
}

/** The saved connection `name` with its secret, ready for `authHeaders`; throws a clear error for an unknown name. */
export function resolveArchive(db: Db, dataDir: string, name: string): ArchiveConnection {
  const repo = new ArchivesRepo(db);
  const row = ArchiveName.safeParse(name).success ? repo.get(name) : null;
  if (!row) throw unknownArchive(repo, name);
  if (row.authKind === 'none') return { name: row.name, url: row.url, auth: { kind: 'none' } };
  const secret = readArchiveSecret(dataDir, row.name);
  if (secret === null)
    throw new CleftError(
      'not_found',
      `archive "${row.name}" has no stored ${row.authKind === 'basic' ? 'password' : 'token'} (${archiveSecretFile(dataDir, row.name)} is missing): remove it and add it again`,
    );
  return row.authKind === 'basic'
    ? { name: row.name, url: row.url, auth: { kind: 'basic', user: row.authUser ?? '', password: secret } }
    : { name: row.name, url: row.url, auth: { kind: 'bearer', token: secret } };
}
