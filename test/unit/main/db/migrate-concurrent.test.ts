// Two processes opening the same new library at once: each reads the schema version, then applies
// what is missing. One that read it just before the other migrated must not apply a migration again
// (its CREATE TABLE would fail): the version is read again under the write lock. The interleaving is
// forced, not timed: connection A's first read of the version lets connection B migrate everything.
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { migrate, schemaVersion, type Db } from '../../../../src/main/db/database';
import type { Migration } from '../../../../src/main/db/migrations';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);

const MIGRATIONS: Migration[] = [
  { version: 1, name: 'one', sql: 'CREATE TABLE one (id INTEGER PRIMARY KEY);' },
  { version: 2, name: 'two', sql: 'CREATE TABLE two (id INTEGER PRIMARY KEY);' },
];

it('a migration another connection applied after this one read the version is skipped', () => {
  const file = path.join(tmpDir('cleft-migrate-race-'), 'library.sqlite');
  const a = new Database(file);
  const b = new Database(file);
  try {
    for (const db of [a, b]) db.pragma('busy_timeout = 5000');
    let first = true;
    // A as migrate() sees it: the first read of user_version returns what A read, after which B migrates.
    const racing = new Proxy(a, {
      get(target, prop) {
        if (prop === 'pragma')
          return (source: string, options?: { simple?: boolean }) => {
            const value = target.pragma(source, options);
            if (first && source === 'user_version') {
              first = false;
              expect(migrate(b, 2, MIGRATIONS)).toEqual([1, 2]);
            }
            return value;
          };
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
      },
    }) as Db;
    expect(() => migrate(racing, 2, MIGRATIONS)).not.toThrow();
    expect(schemaVersion(a)).toBe(2);
    expect(a.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all()).toEqual(['one', 'two']);
  } finally {
    a.close();
    b.close();
  }
});
