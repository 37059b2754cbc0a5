// Opening the library database: WAL for concurrent readers while a job writes, foreign keys on,
// a busy timeout so a second process waits instead of failing, and migrations at start.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, tighten } from '../data-dir';
import { migrations, LATEST_SCHEMA_VERSION, type Migration } from './migrations';

export type Db = Database.Database;

export const DB_FILE_NAME = 'library.sqlite';

export interface OpenOptions {
  /** Stop migrating at this version (tests use it to build databases as older releases left them). */
  targetVersion?: number;
  readonly?: boolean;
  /** How long a write waits for another connection's transaction (default 5 s). */
  busyTimeoutMs?: number;
}

export function openDatabase(file: string, options: OpenOptions = {}): Db {
  if (file !== ':memory:') privateDatabaseFile(file, options.readonly ?? false);
  const db = new Database(file, { readonly: options.readonly ?? false });
  try {
    const busyMs = Math.max(0, Math.round(options.busyTimeoutMs ?? 5000));
    db.pragma(`busy_timeout = ${busyMs}`);
    if (!options.readonly) enterWal(db, busyMs);
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    if (!options.readonly) migrate(db, options.targetVersion ?? LATEST_SCHEMA_VERSION);
    return db;
  } catch (err) {
    db.close();
    throw new Error(`Cannot open the library database ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Switching a new database to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY at once
 * (no busy handler: it would deadlock) while another process opening the same new library holds
 * one; so it is retried, briefly and within the busy timeout.
 */
function enterWal(db: Db, busyMs: number): void {
  const deadline = Date.now() + busyMs;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

/**
 * The database file is created 0600 before SQLite opens it (SQLite gives its -wal and -shm files
 * the database's mode), and an existing one is tightened with its -wal/-shm (see data-dir.ts).
 */
function privateDatabaseFile(file: string, readonly: boolean): void {
  if (!readonly) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
    fs.closeSync(fs.openSync(file, 'a', PRIVATE_FILE_MODE)); // an empty file is a new database to SQLite
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`]) tighten(f, PRIVATE_FILE_MODE);
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies every migration newer than the database, each in its own transaction. */
export function migrate(db: Db, targetVersion: number = LATEST_SCHEMA_VERSION, all: readonly Migration[] = migrations): number[] {
  const current = schemaVersion(db);
  if (current > LATEST_SCHEMA_VERSION) {
    throw new Error(
      `the database is at schema version ${current}, newer than this CLEFT Studio (${LATEST_SCHEMA_VERSION}); update the app`,
    );
  }
  const applied: number[] = [];
  for (const m of all) {
    if (m.version <= current || m.version > targetVersion) continue;
    db.transaction(() => {
      // Another process opening the same new library may have applied it meanwhile (read under the lock).
      if (schemaVersion(db) >= m.version) return;
      db.exec(m.sql);
      m.up?.(db);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
    applied.push(m.version);
  }
  return applied;
}
