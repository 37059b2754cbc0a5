// Saved DICOMweb archive connections (table `archives`, migration 8). Only the name, base URL, auth
// kind and basic-auth user are kept here; secrets live outside SQLite (archive/secret-store.ts).
import type { ArchiveAuthKind } from '../../common/archives';
import type { Db } from './database';

export interface ArchiveRow {
  name: string;
  url: string;
  authKind: ArchiveAuthKind;
  authUser: string | null;
  createdAt: string;
}

const COLUMNS = `name, url, auth_kind AS authKind, auth_user AS authUser, created_at AS createdAt`;

export class ArchivesRepo {
  constructor(private readonly db: Db) {}

  list(): ArchiveRow[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM archives ORDER BY name COLLATE NOCASE`).all() as ArchiveRow[];
  }

  get(name: string): ArchiveRow | null {
    return (this.db.prepare(`SELECT ${COLUMNS} FROM archives WHERE name = ?`).get(name) as ArchiveRow | undefined) ?? null;
  }

  /** Inserts a connection; false when the name is taken. */
  insert(row: Omit<ArchiveRow, 'createdAt'>): boolean {
    const r = this.db
      .prepare(`INSERT INTO archives (name, url, auth_kind, auth_user) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO NOTHING`)
      .run(row.name, row.url, row.authKind, row.authUser);
    return r.changes === 1;
  }

  /** Removes a connection; false when there was none of that name. */
  remove(name: string): boolean {
    return this.db.prepare(`DELETE FROM archives WHERE name = ?`).run(name).changes === 1;
  }

  /** Runs `fn` in one write transaction (a connection row and its secret file change together). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}

/** For each StudyInstanceUID the library holds: how many of its instances it holds (QIDO results' "in library"). */
export function libraryStudyInstances(db: Db, studyUids: readonly string[]): Map<string, number> {
  const held = new Map<string, number>();
  const CHUNK = 500; // well under SQLite's bound-parameter limit
  for (let i = 0; i < studyUids.length; i += CHUNK) {
    const chunk = studyUids.slice(i, i + CHUNK);
    const rows = db
      .prepare(
        `SELECT s.study_uid AS uid, COUNT(i.id) AS n FROM studies s
           LEFT JOIN series se ON se.study_ref = s.id
           LEFT JOIN instances i ON i.series_ref = se.id
         WHERE s.study_uid IN (${chunk.map(() => '?').join(', ')}) GROUP BY s.id`,
      )
      .all(...chunk) as { uid: string; n: number }[];
    for (const r of rows) held.set(r.uid, r.n);
  }
  return held;
}
