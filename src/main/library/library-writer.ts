// Writes indexed DICOM headers into the library: patient -> study -> series -> instance, keyed by
// their UIDs, in batched transactions (an import of 10,000 files is a few hundred commits, and a
// cancel keeps every committed batch).
import type { Db } from '../db/database';
import type { DicomHeader } from '../dicom/header';
import type { ScannedFile } from './scan';

export type IndexOutcome =
  | { kind: 'imported' }
  | { kind: 'updated' } // same SOP instance, file moved or changed
  | { kind: 'duplicate'; of: string } // same SOP instance already indexed from another existing file
  | { kind: 'refused'; reason: string };

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

export class LibraryWriter {
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
           bits_allocated, bits_stored, pixel_representation, photometric, number_of_frames, pixel_spacing, instance_number)
         VALUES (@series_ref, @sop_instance_uid, @sop_class_uid, @file_path, @file_size, @file_mtime_ms, @transfer_syntax_uid,
           @modality, @presentation_intent, @manufacturer, @manufacturer_model, @laterality, @view_position, @rows, @columns,
           @bits_allocated, @bits_stored, @pixel_representation, @photometric, @number_of_frames, @pixel_spacing, @instance_number)
         ON CONFLICT(sop_instance_uid) DO UPDATE SET
           series_ref = excluded.series_ref, sop_class_uid = excluded.sop_class_uid, file_path = excluded.file_path,
           file_size = excluded.file_size, file_mtime_ms = excluded.file_mtime_ms, transfer_syntax_uid = excluded.transfer_syntax_uid,
           modality = excluded.modality, presentation_intent = excluded.presentation_intent, manufacturer = excluded.manufacturer,
           manufacturer_model = excluded.manufacturer_model, laterality = excluded.laterality, view_position = excluded.view_position,
           rows = excluded.rows, columns = excluded.columns, bits_allocated = excluded.bits_allocated, bits_stored = excluded.bits_stored,
           pixel_representation = excluded.pixel_representation, photometric = excluded.photometric,
           number_of_frames = excluded.number_of_frames, pixel_spacing = excluded.pixel_spacing,
           instance_number = excluded.instance_number, indexed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
      ),
      problem: db.prepare(`INSERT INTO import_problems (job_ref, file_path, kind, reason) VALUES (?, ?, ?, ?)`),
    };
  }

  /** Size and mtime of every indexed file, so a re-import can skip the unchanged ones unread. */
  knownFiles(): Map<string, KnownFile> {
    const map = new Map<string, KnownFile>();
    for (const row of this.stmts.knownFiles.iterate() as Iterable<{ file_path: string; file_size: number; file_mtime_ms: number }>) {
      map.set(row.file_path, { size: row.file_size, mtimeMs: row.file_mtime_ms });
    }
    return map;
  }

  /** Writes a batch in one transaction. `fileExists` decides whether an older copy is still there. */
  writeBatch(batch: { scanned: ScannedFile; header: DicomHeader }[], fileExists: (file: string) => boolean): IndexOutcome[] {
    return this.db.transaction(() => batch.map(({ scanned, header }) => this.writeOne(scanned, header, fileExists)))();
  }

  recordProblems(jobId: number | null, problems: ImportProblemRecord[]): void {
    if (problems.length === 0) return;
    this.db.transaction(() => {
      for (const p of problems) this.stmts.problem.run(jobId, p.file, p.kind, p.reason);
    })();
  }

  private writeOne(scanned: ScannedFile, h: DicomHeader, fileExists: (file: string) => boolean): IndexOutcome {
    if (!h.sopInstanceUID) return { kind: 'refused', reason: 'no SOPInstanceUID' };
    if (!h.studyInstanceUID) return { kind: 'refused', reason: 'no StudyInstanceUID' };
    if (!h.seriesInstanceUID) return { kind: 'refused', reason: 'no SeriesInstanceUID' };
    if (!h.hasPixelData) return { kind: 'refused', reason: 'no pixel data (not an image)' };

    const existing = this.stmts.instanceByUid.get(h.sopInstanceUID) as { id: number; file_path: string } | undefined;
    if (existing && existing.file_path !== scanned.file && fileExists(existing.file_path)) {
      return { kind: 'duplicate', of: existing.file_path };
    }
    // Another instance previously indexed at this path was overwritten by this file.
    this.stmts.deleteByPath.run(scanned.file, h.sopInstanceUID);

    const patientKey = h.patientID ?? `(no PatientID) ${h.studyInstanceUID}`;
    const patient = this.stmts.patient.get(patientKey, h.patientName) as { id: number };
    const study = this.stmts.study.get(patient.id, h.studyInstanceUID, h.studyDate, h.studyTime, h.accessionNumber, h.studyDescription) as {
      id: number;
    };
    const series = this.stmts.series.get(study.id, h.seriesInstanceUID, h.modality, h.seriesNumber, h.seriesDescription) as { id: number };
    const spacing = h.pixelSpacing ?? h.imagerPixelSpacing;
    this.stmts.upsertInstance.run({
      series_ref: series.id,
      sop_instance_uid: h.sopInstanceUID,
      sop_class_uid: h.sopClassUID,
      file_path: scanned.file,
      file_size: scanned.size,
      file_mtime_ms: scanned.mtimeMs,
      transfer_syntax_uid: h.transferSyntaxUID,
      modality: h.modality,
      presentation_intent: h.forProcessing ? 'FOR PROCESSING' : h.presentationIntentType,
      manufacturer: h.manufacturer,
      manufacturer_model: h.manufacturerModelName,
      laterality: h.breastSide,
      view_position: h.viewPosition,
      rows: h.rows,
      columns: h.columns,
      bits_allocated: h.bitsAllocated,
      bits_stored: h.bitsStored,
      pixel_representation: h.pixelRepresentation,
      photometric: h.photometricInterpretation,
      number_of_frames: h.numberOfFrames,
      pixel_spacing: spacing ? spacing.join('\\') : null,
      instance_number: h.instanceNumber,
    });
    return existing ? { kind: 'updated' } : { kind: 'imported' };
  }
}
