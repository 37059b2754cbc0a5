import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate, openDatabase, schemaVersion } from '../../../src/main/db/database';
import { LATEST_SCHEMA_VERSION, migrations } from '../../../src/main/db/migrations';
import { tmpDir } from '../../helpers/tmp';

const TABLES = [
  'patients',
  'studies',
  'series',
  'instances',
  'tasks',
  'labels',
  'models',
  'prompt_sets',
  'jobs',
  'predictions',
  'embeddings',
  'settings',
  'import_problems',
  'runs',
  'reports',
  'job_runner',
  'label_imports',
  'label_import_changes',
  'splits',
  'split_studies',
  'archives',
  'class_embeddings',
];

function tables(db: Database.Database): string[] {
  return (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
}

describe('database', () => {
  it('creates the latest schema with WAL, foreign keys and a busy timeout', () => {
    const file = path.join(tmpDir(), 'lib.sqlite');
    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
    expect(tables(db)).toEqual([...TABLES].sort());
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    db.close();
  });

  it('migration versions are consecutive from 1', () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
  });

  it('upgrades a database created at version 1 and keeps its data', () => {
    const file = path.join(tmpDir(), 'old.sqlite');
    const old = openDatabase(file, { targetVersion: 1 });
    expect(schemaVersion(old)).toBe(1);
    expect(tables(old)).not.toContain('settings');
    old.prepare(`INSERT INTO patients (patient_id, patient_name) VALUES ('P1', 'Doe^Jane')`).run();
    old.prepare(`INSERT INTO studies (patient_ref, study_uid, study_date) VALUES (1, '1.2.3', '20240101')`).run();
    old.prepare(`INSERT INTO jobs (kind, status, params_json) VALUES ('hash-folder', 'done', '{}')`).run();
    old.close();

    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
    expect(tables(db)).toEqual([...TABLES].sort());
    expect(db.prepare(`SELECT patient_name FROM patients`).get()).toEqual({ patient_name: 'Doe^Jane' });
    expect(db.prepare(`SELECT study_uid FROM studies WHERE patient_ref = 1`).get()).toEqual({ study_uid: '1.2.3' });
    db.prepare(`INSERT INTO import_problems (job_ref, file_path, kind, reason) VALUES (1, '/x.dcm', 'skipped', 'not DICOM')`).run();
    expect(migrate(db)).toEqual([]); // idempotent
    db.close();
  });

  it('upgrades a version 2 database with data to version 3 (reports), which cascade with their study', () => {
    const file = path.join(tmpDir(), 'v2.sqlite');
    const old = openDatabase(file, { targetVersion: 2 });
    expect(schemaVersion(old)).toBe(2);
    expect(tables(old)).not.toContain('reports');
    old.prepare(`INSERT INTO patients (patient_id) VALUES ('P1')`).run();
    old.prepare(`INSERT INTO studies (patient_ref, study_uid, accession) VALUES (1, '1.2.3', 'A1'), (1, '1.2.4', 'A2')`).run();
    old.prepare(`INSERT INTO settings (key, value_json) VALUES ('annotator', '"me"')`).run();
    old.prepare(`INSERT INTO runs (kind, name, record_json) VALUES ('zero-shot', 'r', '{}')`).run();
    old.close();

    const db = openDatabase(file);
    expect(migrate(db)).toEqual([]);
    expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
    expect(db.prepare(`SELECT count(*) n FROM studies`).get()).toEqual({ n: 2 });
    expect(db.prepare(`SELECT value_json FROM settings`).get()).toEqual({ value_json: '"me"' });
    expect(db.prepare(`SELECT name FROM runs`).get()).toEqual({ name: 'r' });
    db.prepare(`INSERT INTO reports (study_ref, text, source_file) VALUES (1, 'Findings: none.', '/r.csv'), (2, 'x', '/r.csv')`).run();
    // one current report per study
    expect(() => db.prepare(`INSERT INTO reports (study_ref, text, source_file) VALUES (1, 'again', '/r.csv')`).run()).toThrow(/UNIQUE/);
    db.prepare(`DELETE FROM studies WHERE id = 1`).run();
    expect(db.prepare(`SELECT study_ref FROM reports`).all()).toEqual([{ study_ref: 2 }]);
    db.close();
  });

  it('enforces foreign keys and cascades deletes', () => {
    const db = openDatabase(':memory:');
    expect(() => db.prepare(`INSERT INTO studies (patient_ref, study_uid) VALUES (42, 'x')`).run()).toThrow(/FOREIGN KEY/);
    db.prepare(`INSERT INTO patients (patient_id) VALUES ('P')`).run();
    db.prepare(`INSERT INTO studies (patient_ref, study_uid) VALUES (1, 's')`).run();
    db.prepare(`DELETE FROM patients`).run();
    expect(db.prepare(`SELECT count(*) n FROM studies`).get()).toEqual({ n: 0 });
    db.close();
  });

  it('refuses a database from a newer release rather than damaging it', () => {
    const file = path.join(tmpDir(), 'future.sqlite');
    const raw = new Database(file);
    raw.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 5}`);
    raw.close();
    expect(() => openDatabase(file)).toThrow(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}.*newer than this CLEFT Studio`));
    const again = new Database(file);
    expect(again.pragma('user_version', { simple: true })).toBe(LATEST_SCHEMA_VERSION + 5);
    again.close();
  });

  it('rolls back a failing migration as a whole', () => {
    const db = openDatabase(':memory:', { targetVersion: 1 });
    const bad = [...migrations.slice(0, 1), { version: 2, name: 'broken', sql: `CREATE TABLE half (x); SELECT * FROM nowhere;` }];
    expect(() => migrate(db, 2, bad)).toThrow(/no such table: nowhere/);
    expect(schemaVersion(db)).toBe(1);
    expect(tables(db)).not.toContain('half');
    db.close();
  });
});
