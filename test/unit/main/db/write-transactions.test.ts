// Write transactions take SQLite's write lock when they begin (BEGIN IMMEDIATE). A deferred one
// that reads first and writes later fails at once with SQLITE_BUSY (no busy wait) when another
// connection committed in between: a 10,000-file `cleft import` failed that way under load, its
// worker's batch racing the progress writes of the process that ran it.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DB_FILE_NAME, openDatabase, type Db } from '../../../../src/main/db/database';
import { LibraryIndexRepo } from '../../../../src/main/db/library-index-repo';
import { SettingsRepo } from '../../../../src/main/db/settings-repo';
import { tmpDir } from '../../../helpers/tmp';

describe('write transactions', () => {
  const open: Db[] = [];
  afterEach(() => {
    for (const db of open.splice(0)) db.close();
  });

  it('hold the write lock from their first statement, so another connection cannot commit between their read and their write', () => {
    const file = path.join(tmpDir(), DB_FILE_NAME);
    const worker = openDatabase(file);
    const other = openDatabase(file);
    open.push(worker, other);
    other.pragma('busy_timeout = 0'); // fail at once instead of waiting for the lock
    const settings = new SettingsRepo(other);

    let otherWrite: unknown = null;
    new LibraryIndexRepo(worker).inTransaction(() => {
      worker.prepare('SELECT count(*) FROM studies').get(); // the batch reads first...
      try {
        settings.update({ threads: 1 }); // ...a commit from elsewhere would land here
      } catch (err) {
        otherWrite = err;
      }
      worker.prepare(`INSERT INTO tasks (name, description, classes_json) VALUES ('t', '', '[]')`).run();
    });

    expect(String(otherWrite)).toMatch(/database is locked/);
    expect(worker.prepare(`SELECT count(*) AS n FROM tasks WHERE name = 't'`).get()).toEqual({ n: 1 });
    // once the batch committed, the other connection writes as usual
    settings.update({ threads: 1 });
    expect(new SettingsRepo(worker).get().threads).toBe(1);
  });
});
