// SQL of label spreadsheets: key lookups for the import rules, a task's existing labels, applying an
// import in one transaction with an undo record of every label it touched, its one Undo, and the
// rows of an export.
import { CleftError } from '../../common/errors';
import type { LabelScope } from '../../common/contract';
import type { LabelImportUndoResult } from '../../common/label-files';
import type { Db } from './database';

export interface StudyRef {
  id: number;
  studyUid: string;
}
export interface ImageRef {
  id: number;
  studyId: number;
  sop: string;
  laterality: string | null;
  view: string | null;
}
/** Read access to the library the import rules need (LibraryLookup below). */
export interface LabelLookup {
  studies(kind: 'study' | 'accession' | 'patient', key: string): StudyRef[];
  image(sop: string): ImageRef | null;
  imagesOf(studyId: number): ImageRef[];
}
export interface ExistingLabel {
  id: number;
  className: string;
  annotator: string;
  createdAt: string;
}
export interface ImportTarget {
  studyId: number;
  scope: LabelScope;
  instanceId: number | null;
  laterality: 'L' | 'R' | null;
}
export interface PlannedWrite {
  target: ImportTarget;
  className: string;
  annotator: string;
  /** The file's time for the label (its `time` column), else null: now. */
  createdAt: string | null;
  /** The label it replaces (same target, another class). */
  replaces: ExistingLabel | null;
}
/** One key per label target of a task (a label table row has at most one). */
export const targetKey = (t: ImportTarget): string => `${t.studyId}|${t.scope}|${t.instanceId ?? ''}|${t.laterality ?? ''}`;

/** Prepared lookups by StudyInstanceUID, accession, PatientID and SOPInstanceUID (all indexed). */
export class LibraryLookup implements LabelLookup {
  private readonly byStudy;
  private readonly byAccession;
  private readonly byPatient;
  private readonly byImage;
  private readonly images;
  constructor(db: Db) {
    this.db = db;
    this.byStudy = db.prepare(`SELECT id, study_uid AS studyUid FROM studies WHERE study_uid = ?`);
    this.byAccession = db.prepare(`SELECT id, study_uid AS studyUid FROM studies WHERE accession = ? ORDER BY id`);
    this.byPatient = db.prepare(
      `SELECT s.id, s.study_uid AS studyUid FROM patients p JOIN studies s ON s.patient_ref = p.id WHERE p.patient_id = ? ORDER BY s.id`,
    );
    const image = `SELECT i.id, se.study_ref AS studyId, i.sop_instance_uid AS sop, i.laterality, i.view_position AS view
      FROM instances i JOIN series se ON se.id = i.series_ref`;
    this.byImage = db.prepare(`${image} WHERE i.sop_instance_uid = ?`);
    this.images = db.prepare(`${image} WHERE se.study_ref = ? ORDER BY i.id`);
  }
  /** Sheets repeat keys (a row per breast): each key is looked up once. */
  private readonly cache = new Map<string, StudyRef[]>();
  private readonly db: Db;
  /**
   * For big files: every study's UID and accession in one query, instead of a query per key
   * (a few MB per 100,000 studies; images stay one indexed query per SOPInstanceUID).
   */
  prefetchStudies(): void {
    const rows = this.db.prepare(`SELECT id, study_uid AS studyUid, accession FROM studies ORDER BY id`).all() as (StudyRef & {
      accession: string | null;
    })[];
    for (const r of rows) {
      const ref = { id: r.id, studyUid: r.studyUid };
      this.cache.set(`study:${r.studyUid}`, [ref]);
      if (r.accession !== null) {
        const k = `accession:${r.accession}`;
        const list = this.cache.get(k);
        if (list) list.push(ref);
        else this.cache.set(k, [ref]);
      }
    }
    this.complete = true;
  }
  /** After prefetchStudies: a UID or accession not in the cache is in no study. */
  private complete = false;
  studies(kind: 'study' | 'accession' | 'patient', key: string): StudyRef[] {
    const k = `${kind}:${key}`;
    let v = this.cache.get(k);
    if (!v && this.complete && kind !== 'patient') return [];
    if (!v) {
      if (kind === 'study') {
        const row = this.byStudy.get(key) as StudyRef | undefined;
        v = row ? [row] : [];
      } else v = (kind === 'accession' ? this.byAccession : this.byPatient).all(key) as StudyRef[];
      this.cache.set(k, v);
    }
    return v;
  }
  image(sop: string): ImageRef | null {
    return (this.byImage.get(sop) as ImageRef | undefined) ?? null;
  }
  imagesOf(studyId: number): ImageRef[] {
    return this.images.all(studyId) as ImageRef[];
  }
}

interface LabelRow {
  id: number;
  study_ref: number;
  scope: LabelScope;
  instance_ref: number | null;
  laterality: 'L' | 'R' | null;
  class_name: string;
  annotator: string;
  created_at: string;
}

/** A task's labels by target (targetKey). */
export function existingLabels(db: Db, taskId: number): Map<string, ExistingLabel> {
  const out = new Map<string, ExistingLabel>();
  const rows = db
    .prepare(`SELECT id, study_ref, scope, instance_ref, laterality, class_name, annotator, created_at FROM labels WHERE task_ref = ?`)
    .iterate(taskId) as Iterable<LabelRow>;
  for (const r of rows) {
    const t: ImportTarget = {
      studyId: r.study_ref,
      scope: r.scope,
      instanceId: r.scope === 'image' ? r.instance_ref : null,
      laterality: r.scope === 'breast' ? r.laterality : null,
    };
    out.set(targetKey(t), { id: r.id, className: r.class_name, annotator: r.annotator, createdAt: r.created_at });
  }
  return out;
}

/**
 * Writes the planned labels in one transaction and records each one's previous state; returns the
 * import's id. A replaced label keeps its id (updated in place), so Undo puts back the very row.
 */
export function applyLabelImport(db: Db, taskId: number, file: string, reportJson: string, writes: readonly PlannedWrite[]): number {
  const insertImport = db.prepare(`INSERT INTO label_imports (task_ref, file, report_json) VALUES (?, ?, ?)`);
  const insert = db.prepare(
    `INSERT INTO labels (task_ref, scope, study_ref, instance_ref, laterality, class_name, annotator, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const update = db.prepare(`UPDATE labels SET class_name = ?, annotator = ?, created_at = ? WHERE id = ? AND class_name = ?`);
  // undo records go in batches of rows per statement (100,000 single-row inserts cost seconds)
  const BATCH = 200;
  const changeSql = (n: number) =>
    `INSERT INTO label_import_changes (import_ref, label_id, prev_class, prev_annotator, prev_created_at, new_class, new_annotator, new_created_at)
     VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`;
  const changeBatch = db.prepare(changeSql(BATCH));
  // the same time format as the column default (strftime '%Y-%m-%dT%H:%M:%fZ')
  const now = new Date().toISOString();
  return db
    .transaction(() => {
      const importId = Number(insertImport.run(taskId, file, reportJson).lastInsertRowid);
      let pending: unknown[] = [];
      const flush = () => {
        if (pending.length === 0) return;
        const n = pending.length / 8;
        (n === BATCH ? changeBatch : db.prepare(changeSql(n))).run(pending);
        pending = [];
      };
      for (const w of writes) {
        const t = w.target;
        const prev = w.replaces;
        const createdAt = w.createdAt ?? now;
        let id: number;
        if (prev) {
          // the plan was made from a snapshot; a label changed meanwhile aborts the whole import
          if (update.run(w.className, w.annotator, createdAt, prev.id, prev.className).changes !== 1)
            throw new CleftError('conflict', 'a label changed while the import was prepared; nothing was written, preview again');
          id = prev.id;
        } else
          id = Number(
            insert.run(taskId, t.scope, t.studyId, t.instanceId, t.laterality, w.className, w.annotator, createdAt).lastInsertRowid,
          );
        pending.push(
          importId,
          id,
          prev?.className ?? null,
          prev?.annotator ?? null,
          prev?.createdAt ?? null,
          w.className,
          w.annotator,
          createdAt,
        );
        if (pending.length === BATCH * 8) flush();
      }
      flush();
      return importId;
    })
    .immediate();
}

/** Puts every label an import touched back as it was; refuses when any of them changed since. */
export function undoLabelImport(db: Db, importId: number): LabelImportUndoResult {
  const imp = db.prepare(`SELECT id, undone_at FROM label_imports WHERE id = ?`).get(importId) as
    { id: number; undone_at: string | null } | undefined;
  if (!imp) throw new CleftError('not_found', `no label import with id ${importId}`);
  if (imp.undone_at) throw new CleftError('conflict', `label import ${importId} was already undone (${imp.undone_at})`);
  const changes = db.prepare(`SELECT * FROM label_import_changes WHERE import_ref = ? ORDER BY rowid`).all(importId) as {
    label_id: number;
    prev_class: string | null;
    prev_annotator: string | null;
    prev_created_at: string | null;
    new_class: string;
    new_annotator: string;
    new_created_at: string;
  }[];
  const current = db.prepare(`SELECT class_name, annotator, created_at FROM labels WHERE id = ?`);
  const remove = db.prepare(`DELETE FROM labels WHERE id = ?`);
  const restore = db.prepare(`UPDATE labels SET class_name = ?, annotator = ?, created_at = ? WHERE id = ?`);
  return db
    .transaction(() => {
      const changed = changes.filter((c) => {
        const now = current.get(c.label_id) as { class_name: string; annotator: string; created_at: string } | undefined;
        return !now || now.class_name !== c.new_class || now.annotator !== c.new_annotator || now.created_at !== c.new_created_at;
      });
      if (changed.length)
        throw new CleftError(
          'conflict',
          `${changed.length} label(s) written by import ${importId} changed since (relabelled or cleared); undo would lose that, so nothing was undone`,
        );
      let removed = 0;
      let restored = 0;
      for (const c of changes) {
        if (c.prev_class === null) {
          remove.run(c.label_id);
          removed++;
        } else {
          restore.run(c.prev_class, c.prev_annotator, c.prev_created_at, c.label_id);
          restored++;
        }
      }
      db.prepare(`UPDATE label_imports SET undone_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?`).run(importId);
      return { importId, removed, restored };
    })
    .immediate();
}

export interface LabelExportRow {
  studyUid: string;
  accession: string | null;
  patientId: string;
  sop: string | null;
  laterality: string | null;
  view: string | null;
  className: string;
  annotator: string;
  createdAt: string;
}

/** A task's labels (one scope or all) with the DICOM identifiers a spreadsheet joins on. */
export function labelExportRows(db: Db, taskId: number, scope?: LabelScope): LabelExportRow[] {
  return db
    .prepare(
      `SELECT s.study_uid AS studyUid, s.accession, p.patient_id AS patientId, i.sop_instance_uid AS sop,
         CASE l.scope WHEN 'breast' THEN l.laterality WHEN 'image' THEN i.laterality END AS laterality,
         CASE WHEN l.scope = 'image' THEN i.view_position END AS view,
         l.class_name AS className, l.annotator, l.created_at AS createdAt
       FROM labels l JOIN studies s ON s.id = l.study_ref JOIN patients p ON p.id = s.patient_ref
         LEFT JOIN instances i ON i.id = l.instance_ref AND l.scope = 'image'
       WHERE l.task_ref = ? AND (? IS NULL OR l.scope = ?)
       ORDER BY s.study_uid, CASE l.scope WHEN 'exam' THEN 0 WHEN 'breast' THEN 1 ELSE 2 END, l.laterality, i.sop_instance_uid`,
    )
    .all(taskId, scope ?? null, scope ?? null) as LabelExportRow[];
}
