// Writes indexed DICOM headers into the library: patient -> study -> series -> instance, keyed by
// their UIDs, in batched transactions (an import of 10,000 files is a few hundred commits, and a
// cancel keeps every committed batch). What to write is decided here; the SQL is db/library-index-repo.ts.
import type { Db } from '../db/database';
import { FOR_PROCESSING_INTENT } from '../db/images-repo';
import { LibraryIndexRepo, type ImportProblemRecord, type KnownFile } from '../db/library-index-repo';
import type { DicomHeader } from '../dicom/header';
import type { ScannedFile } from './scan';

export type IndexOutcome =
  | { kind: 'imported' }
  | { kind: 'updated' } // same SOP instance, file moved or changed
  | { kind: 'duplicate'; of: string } // same SOP instance already indexed from another existing file
  | { kind: 'refused'; reason: string };

export class LibraryWriter {
  private readonly index: LibraryIndexRepo;

  constructor(db: Db) {
    this.index = new LibraryIndexRepo(db);
  }

  /** Size and mtime of every indexed file, so a re-import can skip the unchanged ones unread. */
  knownFiles(): Map<string, KnownFile> {
    return this.index.knownFiles();
  }

  /** Writes a batch in one transaction. `fileExists` decides whether an older copy is still there. */
  writeBatch(batch: { scanned: ScannedFile; header: DicomHeader }[], fileExists: (file: string) => boolean): IndexOutcome[] {
    return this.index.inTransaction(() => batch.map(({ scanned, header }) => this.writeOne(scanned, header, fileExists)));
  }

  recordProblems(jobId: number | null, problems: ImportProblemRecord[]): void {
    if (problems.length === 0) return;
    this.index.addProblems(jobId, problems);
  }

  private writeOne(scanned: ScannedFile, h: DicomHeader, fileExists: (file: string) => boolean): IndexOutcome {
    if (!h.sopInstanceUID) return { kind: 'refused', reason: 'no SOPInstanceUID' };
    if (!h.studyInstanceUID) return { kind: 'refused', reason: 'no StudyInstanceUID' };
    if (!h.seriesInstanceUID) return { kind: 'refused', reason: 'no SeriesInstanceUID' };
    if (!h.hasPixelData) return { kind: 'refused', reason: 'no pixel data (not an image)' };

    const existing = this.index.instanceByUid(h.sopInstanceUID);
    if (existing && existing.file_path !== scanned.file && fileExists(existing.file_path)) {
      return { kind: 'duplicate', of: existing.file_path };
    }
    // Another instance previously indexed at this path was overwritten by this file.
    this.index.deleteOtherInstanceAt(scanned.file, h.sopInstanceUID);

    const patientKey = h.patientID ?? `(no PatientID) ${h.studyInstanceUID}`;
    const patient = this.index.upsertPatient(patientKey, h.patientName);
    const study = this.index.upsertStudy(patient, {
      uid: h.studyInstanceUID,
      date: h.studyDate,
      time: h.studyTime,
      accession: h.accessionNumber,
      description: h.studyDescription,
    });
    const series = this.index.upsertSeries(study, {
      uid: h.seriesInstanceUID,
      modality: h.modality,
      number: h.seriesNumber,
      description: h.seriesDescription,
    });
    // Each tag as written (a length means something else with each: src/common/imaging/spacing.ts).
    const spacing = (v: [number, number] | null) => (v ? v.join('\\') : null);
    this.index.upsertInstance({
      series_ref: series,
      sop_instance_uid: h.sopInstanceUID,
      sop_class_uid: h.sopClassUID,
      file_path: scanned.file,
      file_size: scanned.size,
      file_mtime_ms: scanned.mtimeMs,
      transfer_syntax_uid: h.transferSyntaxUID,
      modality: h.modality,
      presentation_intent: h.forProcessing ? FOR_PROCESSING_INTENT : h.presentationIntentType,
      manufacturer: h.manufacturer,
      manufacturer_model: h.manufacturerModelName,
      laterality: h.breastSide,
      view_position: h.mammoView,
      rows: h.rows,
      columns: h.columns,
      bits_allocated: h.bitsAllocated,
      bits_stored: h.bitsStored,
      pixel_representation: h.pixelRepresentation,
      photometric: h.photometricInterpretation,
      number_of_frames: h.numberOfFrames,
      pixel_spacing: spacing(h.pixelSpacing),
      imager_pixel_spacing: spacing(h.imagerPixelSpacing),
      instance_number: h.instanceNumber,
    });
    return existing ? { kind: 'updated' } : { kind: 'imported' };
  }
}
