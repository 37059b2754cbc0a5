// The write side of the library index: patients, studies, series and instances keyed by their
// DICOM UIDs, and the files an import did not index. The read side is library-repo.ts; what to
// write for a scanned file (refusals, duplicates, moved files) is decided by library/library-writer.ts.
import type { Db } from './database';

/** Skipped: not for the library (not DICOM, a duplicate, a DICOMDIR). Refused: DICOM we could not index. */
export interface ImportProblemRecord {
  file: string;
  kind: 'skipped' | 'refused';
  reason: string;
}

export interface KnownFile {
  size: number;
  mtimeMs: number;
}

/** An `instances` row as written (column names; `series_ref` from upsertSeries). */
export interface InstanceRecord {
  series_ref: number;
  sop_instance_uid: string;
  sop_class_uid: string | null;
  file_path: string;
  file_size: number;
  file_mtime_ms: number;
  transfer_syntax_uid: string | null;
  modality: string | null;
  presentation_intent: string | null;
  manufacturer: string | null;
  manufacturer_model: string | null;
  laterality: string | null;
  view_position: string | null;
  rows: number | null;
  columns: number | null;
  bits_allocated: number | null;
  bits_stored: number | null;
  pixel_representation: number | null;
  photometric: string | null;
  number_of_frames: number | null;
  /** PixelSpacing (0028,0030), "row\\column" mm. */
  pixel_spacing: string | null;
  /** ImagerPixelSpacing (0018,1164), at the detector. */
  imager_pixel_spacing: string | null;
  instance_number: number | null;
}

export class LibraryIndexRepo {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      knownFiles: db.prepare(`SELECT file_path, file_size, file_mtime_ms FROM instances`),
      patient: db.prepare(
        `INSERT INTO patients (patient_id, patient_name) VALUES (?, ?)
         ON CONFLICT(patient_id) DO UPDATE SET patient_name = coalesce(excluded.patient_name, patient_name)
         RETURNING id`,
      ),
      study: db.prepare(
        `INSERT INTO studies (patient_ref, study_uid, study_date, study_time, accession, description) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(study_uid) DO UPDATE SET
           study_date = coalesce(excluded.study_date, study_date), study_time = coalesce(excluded.study_time, study_time),
           accession = coalesce(excluded.accession, accession), description = coalesce(excluded.description, description)
         RETURNING id`,
      ),
      series: db.prepare(
        `INSERT INTO series (study_ref, series_uid, modality, series_number, description) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(series_uid) DO UPDATE SET modality = coalesce(excluded.modality, modality)
         RETURNING id`,
      ),
      instanceByUid: db.prepare(`SELECT id, file_path FROM instances WHERE sop_instance_uid = ?`),
      deleteByPath: db.prepare(`DELETE FROM instances WHERE file_path = ? AND sop_instance_uid <> ?`),
      upsertInstance: db.prepare(
        `INSERT INTO instances (series_ref, sop_instance_uid, sop_class_uid, file_path, file_size, file_mtime_ms, transfer_syntax_uid,
           modality, presentation_intent, manufacturer, manufacturer_model, laterality, view_position, rows, columns,
           bits_allocated, bits_stored, pixel_representation, photometric, number_of_frames, pixel_spacing, imager_pixel_spacing, instance_number)
         VALUES (@series_ref, @sop_instance_uid, @sop_class_uid, @file_path, @file_size, @file_mtime_ms, @transfer_syntax_uid,
           @modality, @presentation_intent, @manufacturer, @manufacturer_model, @laterality, @view_position, @rows, @columns,
           @bits_allocated, @bits_stored, @pixel_representation, @photometric, @number_of_frames, @pixel_spacing, @imager_pixel_spacing, @instance_number)
         ON CONFLICT(sop_instance_uid) DO UPDATE SET
           series_ref = excluded.series_ref, sop_class_uid = excluded.sop_class_uid, file_path = excluded.file_path,
           file_size = excluded.file_size, file_mtime_ms = excluded.file_mtime_ms, transfer_syntax_uid = excluded.transfer_syntax_uid,
           modality = excluded.modality, presentation_intent = excluded.presentation_intent, manufacturer = excluded.manufacturer,
           manufacturer_model = excluded.manufacturer_model, laterality = excluded.laterality, view_position = excluded.view_position,
           rows = excluded.rows, columns = excluded.columns, bits_allocated = excluded.bits_allocated, bits_stored = excluded.bits_stored,
           pixel_representation = excluded.pixel_representation, photometric = excluded.photometric,
           number_of_frames = excluded.number_of_frames, pixel_spacing = excluded.pixel_spacing,
           imager_pixel_spacing = excluded.imager_pixel_spacing,
           instance_number = excluded.instance_number, indexed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
      ),
      problem: db.prepare(`INSERT INTO import_problems (job_ref, file_path, kind, reason) VALUES (?, ?, ?, ?)`),
    };
  }

  /** Runs `fn` in one transaction (a batch of files is one commit). */
  inTransaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Size and mtime of every indexed file, so a re-import can skip the unchanged ones unread. */
  knownFiles(): Map<string, KnownFile> {
    const map = new Map<string, KnownFile>();
    for (const row of this.stmts.knownFiles.iterate() as Iterable<{ file_path: string; file_size: number; file_mtime_ms: number }>) {
      map.set(row.file_path, { size: row.file_size, mtimeMs: row.file_mtime_ms });
    }
    return map;
  }

  /** The instance indexed with this SOPInstanceUID, and its file. */
  instanceByUid(sopInstanceUid: string): { id: number; file_path: string } | undefined {
    return this.stmts.instanceByUid.get(sopInstanceUid) as { id: number; file_path: string } | undefined;
  }

  /** Drops another instance indexed at this path (its file was overwritten by this one). */
  deleteOtherInstanceAt(file: string, sopInstanceUid: string): void {
    this.stmts.deleteByPath.run(file, sopInstanceUid);
  }

  /** The patient's id, created or with its name filled in. */
  upsertPatient(patientId: string, patientName: string | null): number {
    return (this.stmts.patient.get(patientId, patientName) as { id: number }).id;
  }

  /** The study's id, created or with the values it lacked filled in. */
  upsertStudy(
    patientRef: number,
    s: { uid: string; date: string | null; time: string | null; accession: string | null; description: string | null },
  ): number {
    return (this.stmts.study.get(patientRef, s.uid, s.date, s.time, s.accession, s.description) as { id: number }).id;
  }

  /** The series' id, created or with its modality filled in. */
  upsertSeries(studyRef: number, s: { uid: string; modality: string | null; number: number | null; description: string | null }): number {
    return (this.stmts.series.get(studyRef, s.uid, s.modality, s.number, s.description) as { id: number }).id;
  }

  /** Writes an instance, replacing the row of the same SOPInstanceUID. */
  upsertInstance(record: InstanceRecord): void {
    this.stmts.upsertInstance.run(record);
  }

  /** Records the files a job did not import, in one transaction. */
  addProblems(jobId: number | null, problems: readonly ImportProblemRecord[]): void {
    this.db
      .transaction(() => {
        for (const p of problems) this.stmts.problem.run(jobId, p.file, p.kind, p.reason);
      })
      .immediate();
  }
}
