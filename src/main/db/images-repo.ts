// The library's images (instances) as the services that read pixels need them: an image's file,
// the images of a study or of a selection, the labelled images of a task, and which study a key or
// a folder names. The "no FOR PROCESSING images" rule is written here once (FOR_PRESENTATION).
import type { Statement } from 'better-sqlite3';
import type { Db } from './database';

/** The PresentationIntentType value of raw detector images (stored as written by the import). */
export const FOR_PROCESSING_INTENT = 'FOR PROCESSING';

/**
 * An image meant for reading, not raw detector data: the only images shown to a model (classified,
 * trained on, paired with reports). SQL over the `instances` table aliased `i`.
 */
export const FOR_PRESENTATION = `coalesce(i.presentation_intent, '') <> '${FOR_PROCESSING_INTENT}'`;

/** The opposite of FOR_PRESENTATION (same alias): the FOR PROCESSING images, counted and skipped. */
export const FOR_PROCESSING = `NOT (${FOR_PRESENTATION})`;

export interface ImageFile {
  filePath: string;
  fileSize: number;
  fileMtimeMs: number;
  rows: number | null;
  columns: number | null;
}

export interface StudyImage {
  id: number;
  studyId: number;
  sopInstanceUid: string;
  filePath: string;
  laterality: 'L' | 'R' | null;
  viewPosition: string | null;
  /** Raw detector data: not classified (see FOR_PRESENTATION). */
  forProcessing: boolean;
}

export interface LabelledImage {
  instanceId: number;
  studyId: number;
  file: string;
  laterality: 'L' | 'R' | null;
  label: string;
}

export class ImagesRepo {
  /** Statements of the lookups made once per image or per report row, prepared once. */
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly db: Db) {}

  private stmt(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** An image's file, its size and mtime as indexed (the key of decoded-frame caches), and its pixel size. */
  file(instanceId: number): ImageFile | undefined {
    return this.stmt(
      `SELECT file_path AS filePath, file_size AS fileSize, file_mtime_ms AS fileMtimeMs, rows, columns FROM instances WHERE id = ?`,
    ).get(instanceId) as ImageFile | undefined;
  }

  /** What a person calls an image: "RCC · P1 · A1" (laterality and view, patient, accession). */
  caption(instanceId: number): string | null {
    const r = this.stmt(
      `SELECT i.laterality, i.view_position AS view, p.patient_id AS patientId, s.accession
       FROM instances i JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = se.study_ref JOIN patients p ON p.id = s.patient_ref
       WHERE i.id = ?`,
    ).get(instanceId) as { laterality: string | null; view: string | null; patientId: string; accession: string | null } | undefined;
    if (!r) return null;
    const view = `${r.laterality ?? ''}${r.view ?? ''}` || `image ${instanceId}`;
    return [view, r.patientId, r.accession].filter((x) => x).join(' · ');
  }

  /** The study an image belongs to and what a person calls it: "P1 · A1" (patient, accession). */
  studyOf(instanceId: number): { studyId: number; caption: string } | null {
    const r = this.stmt(
      `SELECT s.id AS studyId, p.patient_id AS patientId, s.accession
       FROM instances i JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = se.study_ref JOIN patients p ON p.id = s.patient_ref
       WHERE i.id = ?`,
    ).get(instanceId) as { studyId: number; patientId: string; accession: string | null } | undefined;
    if (!r) return null;
    return { studyId: r.studyId, caption: [r.patientId, r.accession].filter((x) => x).join(' · ') || `study ${r.studyId}` };
  }

  /** Every image of these studies, by study then id, each saying whether it is FOR PROCESSING. */
  ofStudies(studyIds: readonly number[]): StudyImage[] {
    const rows = this.db
      .prepare(
        `SELECT i.id, se.study_ref AS studyId, i.sop_instance_uid AS sopInstanceUid, i.file_path AS filePath, i.laterality,
           i.view_position AS viewPosition, ${FOR_PROCESSING} AS forProcessing
         FROM instances i JOIN series se ON se.id = i.series_ref
         WHERE se.study_ref IN (SELECT value FROM json_each(?)) ORDER BY se.study_ref, i.id`,
      )
      .all(JSON.stringify(studyIds)) as (Omit<StudyImage, 'forProcessing'> & { forProcessing: number })[];
    return rows.map((r) => ({ ...r, forProcessing: r.forProcessing === 1 }));
  }

  /**
   * Every image of the study with this StudyInstanceUID with its SOP Instance UID, in the order the
   * classify job reads a study (ofStudies: by id); what sharded classification and its merge key on.
   */
  imagesOfStudyUid(studyUid: string): StudyImage[] {
    const rows = this.stmt(
      `SELECT i.id, se.study_ref AS studyId, i.file_path AS filePath, i.laterality, i.view_position AS viewPosition,
         i.sop_instance_uid AS sopInstanceUid, ${FOR_PROCESSING} AS forProcessing
       FROM instances i JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = se.study_ref
       WHERE s.study_uid = ? ORDER BY i.id`,
    ).all(studyUid) as (Omit<StudyImage, 'forProcessing'> & { forProcessing: number })[];
    return rows.map((r) => ({ ...r, forProcessing: r.forProcessing === 1 }));
  }

  /** The FOR PRESENTATION images of the study with this StudyInstanceUID, in series and instance order. */
  presentationImagesOfStudyUid(studyUid: string): { file: string; laterality: string | null; view: string | null }[] {
    return this.db
      .prepare(
        `SELECT i.file_path AS file, i.laterality AS laterality, i.view_position AS view FROM instances i
         JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = se.study_ref
         WHERE s.study_uid = ? AND ${FOR_PRESENTATION}
         ORDER BY se.series_number, i.instance_number, i.id`,
      )
      .all(studyUid) as { file: string; laterality: string | null; view: string | null }[];
  }

  /**
   * The labelled images of a task: each FOR PRESENTATION image with the label that applies to it
   * (its own image label, else its breast's, else its exam's), of these studies when given.
   */
  labelled(taskId: number, studyIds?: readonly number[]): LabelledImage[] {
    return this.db
      .prepare(
        `SELECT * FROM (
           SELECT i.id AS instanceId, se.study_ref AS studyId, i.file_path AS file, i.laterality,
             coalesce(
               (SELECT class_name FROM labels l WHERE l.task_ref = @task AND l.scope = 'image' AND l.instance_ref = i.id ORDER BY l.id DESC LIMIT 1),
               (SELECT class_name FROM labels l WHERE l.task_ref = @task AND l.scope = 'breast' AND l.study_ref = se.study_ref
                  AND l.laterality = i.laterality ORDER BY l.id DESC LIMIT 1),
               (SELECT class_name FROM labels l WHERE l.task_ref = @task AND l.scope = 'exam' AND l.study_ref = se.study_ref ORDER BY l.id DESC LIMIT 1)
             ) AS label
           FROM instances i JOIN series se ON se.id = i.series_ref
           WHERE ${FOR_PRESENTATION}
             ${studyIds ? 'AND se.study_ref IN (SELECT value FROM json_each(@studies))' : ''}
         ) WHERE label IS NOT NULL ORDER BY studyId, instanceId`,
      )
      .all({ task: taskId, ...(studyIds ? { studies: JSON.stringify(studyIds) } : {}) }) as LabelledImage[];
  }

  /** The study with this StudyInstanceUID. */
  studyIdByUid(studyUid: string): number | null {
    const row = this.stmt(`SELECT id FROM studies WHERE study_uid = ?`).get(studyUid) as { id: number } | undefined;
    return row?.id ?? null;
  }

  /** The studies with this accession number (at most two: one is an answer, two say it is ambiguous). */
  studyIdsByAccession(accession: string): number[] {
    return (this.stmt(`SELECT id FROM studies WHERE accession = ? LIMIT 2`).all(accession) as { id: number }[]).map((r) => r.id);
  }

  /** Each indexed file whose path starts with `prefix`, with its study (instances_path index: a range scan). */
  studyFilesUnder(prefix: string): { studyId: number; file: string }[] {
    return this.stmt(
      `SELECT DISTINCT se.study_ref AS studyId, i.file_path AS file FROM instances i JOIN series se ON se.id = i.series_ref
         WHERE i.file_path >= ? AND i.file_path < ?`,
    ).all(prefix, prefix + '\uffff') as { studyId: number; file: string }[];
  }
}
