// Saved archive connections: rows in SQLite without their secret, the secret in a 0600 file in a 0700
// folder, resolveArchive giving the connection back with its auth, and clear errors for bad input.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  addArchive,
  authHeaders,
  listArchives,
  normalizeArchiveUrl,
  removeArchive,
  resolveArchive,
} from '../../../../src/main/archive/connections';
import { archiveSecretFile } from '../../../../src/main/archive/secret-store';
import { DB_FILE_NAME, openDatabase, type Db } from '../../../../src/main/db/database';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);

function library(): { db: Db; dataDir: string } {
  const dataDir = path.join(tmpDir(), 'library');
  return { db: openDatabase(path.join(dataDir, DB_FILE_NAME)), dataDir };
}

/** Every byte of the database and its WAL, as text: a secret must not be found anywhere in them. */
function databaseBytes(dataDir: string): string {
  return ['', '-wal', '-shm']
    .map((s) => path.join(dataDir, DB_FILE_NAME + s))
    .filter((f) => fs.existsSync(f))
    .map((f) => fs.readFileSync(f).toString('latin1'))
    .join('');
}

describe('archive connections', () => {
  it('keeps a basic password in a 0600 file outside SQLite and gives it back only through resolveArchive', () => {
    const { db, dataDir } = library();
    const secret = 'pw-Zq8!unique-7731';
    const info = addArchive(db, dataDir, {
      name: 'research',
      url: 'http://127.0.0.1:8042/dicom-web/',
      auth: 'basic',
      user: 'alice',
      secret,
    });
    expect(info).toMatchObject({ name: 'research', url: 'http://127.0.0.1:8042/dicom-web', auth: 'basic', user: 'alice', hasSecret: true });
    expect(JSON.stringify(listArchives(db, dataDir))).not.toContain(secret);
    expect(JSON.stringify(info)).not.toContain(secret);

    const file = archiveSecretFile(dataDir, 'research');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(databaseBytes(dataDir)).not.toContain(secret);
    expect(databaseBytes(dataDir)).toContain('http://127.0.0.1:8042/dicom-web'); // the search does see what is stored

    const conn = resolveArchive(db, dataDir, 'research');
    expect(conn).toEqual({
      name: 'research',
      url: 'http://127.0.0.1:8042/dicom-web',
      auth: { kind: 'basic', user: 'alice', password: secret },
    });
    expect(authHeaders(conn)).toEqual({ Authorization: `Basic ${Buffer.from(`alice:${secret}`).toString('base64')}` });

    removeArchive(db, dataDir, 'research');
    expect(fs.existsSync(file)).toBe(false);
    expect(listArchives(db, dataDir)).toEqual([]);
    db.close();
  });

  it('stores bearer tokens and no-auth archives, and sends the matching header', () => {
    const { db, dataDir } = library();
    addArchive(db, dataDir, { name: 'cloud', url: 'https://pacs.example.org/dicom-web', auth: 'bearer', secret: 'tok-123' });
    addArchive(db, dataDir, { name: 'local', url: 'http://localhost:8042/dicom-web' });
    expect(authHeaders(resolveArchive(db, dataDir, 'cloud'))).toEqual({ Authorization: 'Bearer tok-123' });
    expect(authHeaders(resolveArchive(db, dataDir, 'local'))).toEqual({});
    expect(listArchives(db, dataDir).map((a) => [a.name, a.auth, a.hasSecret])).toEqual([
      ['cloud', 'bearer', true],
      ['local', 'none', false],
    ]);
    db.close();
  });

  it('names an unknown archive and the saved ones', () => {
    const { db, dataDir } = library();
    expect(() => resolveArchive(db, dataDir, 'nope')).toThrow('no archive named "nope" (none saved yet: cleft pacs add NAME --url URL)');
    addArchive(db, dataDir, { name: 'a1', url: 'http://127.0.0.1:1/x' });
    expect(() => resolveArchive(db, dataDir, 'nope')).toThrow('no archive named "nope" (saved archives: "a1")');
    expect(() => removeArchive(db, dataDir, 'nope')).toThrow('no archive named "nope"');
    db.close();
  });

  it('refuses a taken name, URLs with credentials or a query, and auth that does not fit, leaving nothing behind', () => {
    const { db, dataDir } = library();
    addArchive(db, dataDir, { name: 'a1', url: 'http://127.0.0.1:1/x' });
    expect(() => addArchive(db, dataDir, { name: 'a1', url: 'http://127.0.0.1:2/y' })).toThrow('an archive named "a1" already exists');
    const leaky = 'http://bob:hunter2@127.0.0.1/dicom-web';
    let message = '';
    try {
      addArchive(db, dataDir, { name: 'a2', url: leaky });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('must not carry a user or password');
    expect(message).not.toContain('hunter2');
    expect(() => normalizeArchiveUrl('ftp://x/y')).toThrow('https:// or http://');
    expect(() => normalizeArchiveUrl('http://x/y?a=1')).toThrow('without ?query');
    expect(() => normalizeArchiveUrl('not a url')).toThrow('is not a URL');
    expect(() => addArchive(db, dataDir, { name: 'a3', url: 'http://x/y', auth: 'basic', user: 'u' })).toThrow(
      'needs a user and a password',
    );
    expect(() => addArchive(db, dataDir, { name: 'a4', url: 'http://x/y', auth: 'bearer' })).toThrow('bearer auth needs a token');
    expect(() => addArchive(db, dataDir, { name: '../etc', url: 'http://x/y' })).toThrow('use letters, digits');
    expect(listArchives(db, dataDir).map((a) => a.name)).toEqual(['a1']);
    db.close();
  });
});
