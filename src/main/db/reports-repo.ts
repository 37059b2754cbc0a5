// Study reports: one current free-text report per study (image-report pairs for contrastive LoRA
// training). Importing a report for a study that has one replaces it; the source file is kept.
import type { Report } from '../../common/contract';
import type { Db } from './database';
import { FOR_PRESENTATION } from './images-repo';

interface ReportRow {
  study_ref: number;
  text: string;
  source_file: string;
  created_at: string;
}

/** One image-report pair for contrastive training: a FOR PRESENTATION image and its study's report. */
export interface ReportPair {
  instanceId: number;
  studyId: number;
  file: string;
  sopInstanceUid: string;
  studyUid: string;
  text: string;
}

const toReport = (r: ReportRow): Report => ({ studyId: r.study_ref, text: r.text, source: r.source_file, createdAt: r.created_at });

export class ReportsRepo {
  constructor(private readonly db: Db) {}

  /** Stores the study's report, replacing an earlier one. */
  upsert(studyId: number, text: string, source: string): void {
    this.db
      .prepare(
        `INSERT INTO reports (study_ref, text, source_file) VALUES (?, ?, ?)
         ON CONFLICT(study_ref) DO UPDATE SET text = excluded.text, source_file = excluded.source_file,
           created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
      )
      .run(studyId, text, source);
  }

  forStudy(studyId: number): Report | null {
    const row = this.db.prepare(`SELECT * FROM reports WHERE study_ref = ?`).get(studyId) as ReportRow | undefined;
    return row ? toReport(row) : null;
  }

  /** Reports of these studies (default: every study with one), by study id. */
  byStudy(studyIds?: readonly number[]): Map<number, Report> {
    const rows = (
      studyIds
        ? this.db
            .prepare(`SELECT * FROM reports WHERE study_ref IN (SELECT value FROM json_each(?)) ORDER BY study_ref`)
            .all(JSON.stringify(studyIds))
        : this.db.prepare(`SELECT * FROM reports ORDER BY study_ref`).all()
    ) as ReportRow[];
    return new Map(rows.map((r) => [r.study_ref, toReport(r)]));
  }

  /** Studies with a report. */
  count(): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM reports`).get() as { n: number }).n;
  }

  /** Every FOR PRESENTATION image of a study with a report (of these studies when given), in a stable order. */
  imagePairs(studyIds?: readonly number[]): ReportPair[] {
    return this.db
      .prepare(
        `SELECT i.id AS instanceId, se.study_ref AS studyId, i.file_path AS file, i.sop_instance_uid AS sopInstanceUid,
           s.study_uid AS studyUid, r.text AS text
         FROM reports r JOIN studies s ON s.id = r.study_ref JOIN series se ON se.study_ref = r.study_ref
           JOIN instances i ON i.series_ref = se.id
         WHERE ${FOR_PRESENTATION}
           ${studyIds ? 'AND r.study_ref IN (SELECT value FROM json_each(@studies))' : ''}
         ORDER BY se.study_ref, i.id`,
      )
      .all(studyIds ? { studies: JSON.stringify(studyIds) } : {}) as ReportPair[];
  }
}
