// Named splits of the library's studies (tables `splits`, `split_studies`): which part each study
// is in, and the patient key a split groups by.
import type { SplitInfo, SplitPart, SplitReferences, SplitShow } from '../../common/splits';
import { CleftError } from '../../common/errors';
import type { Db } from './database';

/**
 * The library stores a study without PatientID under this prefix + its StudyInstanceUID
 * (library-writer.ts): such a study is its own group.
 */
export const NO_PATIENT_PREFIX = '(no PatientID) ';

/** A study with what a split groups by. */
export interface StudyGroupRow {
  studyId: number;
  studyUid: string;
  /** PatientID, or null when the study has none. */
  patientId: string | null;
  accession: string | null;
}

export interface SplitStudy extends StudyGroupRow {
  part: SplitPart;
}

interface SplitRow {
  id: number;
  name: string;
  source: 'created' | 'imported';
  task: string | null;
  params_json: string;
  sha256: string;
  notes_json: string;
  created_at: string;
}

const STUDY_COLUMNS = `s.id AS studyId, s.study_uid AS studyUid, s.accession AS accession,
  CASE WHEN p.patient_id = '' OR substr(p.patient_id, 1, ${NO_PATIENT_PREFIX.length}) = '${NO_PATIENT_PREFIX}' THEN NULL ELSE p.patient_id END AS patientId`;

export class SplitsRepo {
  constructor(private readonly db: Db) {}

  /** Every study (or these), with its patient, in id order. */
  studies(studyIds?: readonly number[]): StudyGroupRow[] {
    return this.db
      .prepare(
        `SELECT ${STUDY_COLUMNS} FROM studies s JOIN patients p ON p.id = s.patient_ref
         ${studyIds ? 'WHERE s.id IN (SELECT value FROM json_each(?))' : ''} ORDER BY s.id`,
      )
      .all(...(studyIds ? [JSON.stringify(studyIds)] : [])) as StudyGroupRow[];
  }

  list(): SplitInfo[] {
    const rows = this.db
      .prepare(`SELECT sp.*, t.name AS task FROM splits sp LEFT JOIN tasks t ON t.id = sp.task_ref ORDER BY sp.name`)
      .all() as SplitRow[];
    return rows.map((r) => this.info(r));
  }

  /** The split named so; not_found names the splits there are. */
  get(name: string): SplitInfo {
    const row = this.db
      .prepare(`SELECT sp.*, t.name AS task FROM splits sp LEFT JOIN tasks t ON t.id = sp.task_ref WHERE sp.name = ?`)
      .get(name) as SplitRow | undefined;
    if (!row) {
      const names = (this.db.prepare(`SELECT name FROM splits ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
      throw new CleftError(
        'not_found',
        `no split named "${name}" in the library (${names.length ? `there are: ${names.join(', ')}` : 'it has none: cleft splits create or import'})`,
      );
    }
    return this.info(row);
  }

  /** The studies of a split with their parts, in StudyInstanceUID order. */
  studiesOf(splitId: number): SplitStudy[] {
    return this.db
      .prepare(
        `SELECT ${STUDY_COLUMNS}, ss.part AS part FROM split_studies ss JOIN studies s ON s.id = ss.study_ref
           JOIN patients p ON p.id = s.patient_ref
         WHERE ss.split_ref = ? ORDER BY s.study_uid`,
      )
      .all(splitId) as SplitStudy[];
  }

  show(name: string): SplitShow {
    const split = this.get(name);
    const out: SplitShow = { train: [], val: [], test: [], counts: split.counts };
    for (const s of this.studiesOf(split.id)) out[s.part].push(s.studyUid);
    return out;
  }

  /** Stores a new split in one transaction; a taken name is a conflict. */
  create(
    o: {
      name: string;
      source: 'created' | 'imported';
      taskId: number | null;
      params: Record<string, unknown>;
      sha256: string;
      notes: string[];
    },
    parts: readonly { studyId: number; part: SplitPart }[],
  ): SplitInfo {
    return this.db
      .transaction(() => {
        if (this.db.prepare(`SELECT 1 FROM splits WHERE name = ?`).get(o.name))
          throw new CleftError('conflict', `a split named "${o.name}" already exists; choose another name`);
        const id = Number(
          this.db
            .prepare(`INSERT INTO splits (name, source, task_ref, params_json, sha256, notes_json) VALUES (?, ?, ?, ?, ?, ?)`)
            .run(o.name, o.source, o.taskId, JSON.stringify(o.params), o.sha256, JSON.stringify(o.notes)).lastInsertRowid,
        );
        const add = this.db.prepare(`INSERT INTO split_studies (split_ref, study_ref, part) VALUES (?, ?, ?)`);
        for (const p of parts) add.run(id, p.studyId, p.part);
        return this.get(o.name);
      })
      .immediate();
  }

  /**
   * Runs and jobs that name the split: a run whose record used it (`record.split.name`) or asked
   * for it (`record.params.split`), a job whose params ask for it (any status).
   */
  referencesTo(name: string): SplitReferences {
    const runs = this.db
      .prepare(
        `SELECT id, kind, name FROM runs
         WHERE json_extract(record_json, '$.split.name') = ? OR json_extract(record_json, '$.params.split') = ? ORDER BY id`,
      )
      .all(name, name) as SplitReferences['runs'];
    const jobs = this.db
      .prepare(`SELECT id, kind, status FROM jobs WHERE json_extract(params_json, '$.split') = ? ORDER BY id`)
      .all(name) as SplitReferences['jobs'];
    return { runs, jobs };
  }

  /** Deletes a split and its study rows (ON DELETE CASCADE); false when there was none. */
  delete(splitId: number): boolean {
    return this.db.prepare(`DELETE FROM splits WHERE id = ?`).run(splitId).changes > 0;
  }

  private info(r: SplitRow): SplitInfo {
    const counts = { train: 0, val: 0, test: 0, patients: 0 };
    for (const c of this.db.prepare(`SELECT part, count(*) AS n FROM split_studies WHERE split_ref = ? GROUP BY part`).all(r.id) as {
      part: SplitPart;
      n: number;
    }[])
      counts[c.part] = c.n;
    counts.patients = (
      this.db
        .prepare(
          `SELECT count(DISTINCT CASE WHEN p.patient_id = '' OR substr(p.patient_id, 1, ${NO_PATIENT_PREFIX.length}) = '${NO_PATIENT_PREFIX}'
             THEN 'study:' || s.study_uid ELSE p.patient_id END) AS n
           FROM split_studies ss JOIN studies s ON s.id = ss.study_ref JOIN patients p ON p.id = s.patient_ref WHERE ss.split_ref = ?`,
        )
        .get(r.id) as { n: number }
    ).n;
    return {
      id: r.id,
      name: r.name,
      source: r.source,
      task: r.task,
      params: JSON.parse(r.params_json) as Record<string, unknown>,
      sha256: r.sha256,
      notes: JSON.parse(r.notes_json) as string[],
      counts,
      createdAt: r.created_at,
    };
  }
}
