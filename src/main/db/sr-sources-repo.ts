// What a DICOM SR of a classification run needs from the library: the studies the run predicted,
// per study its breast and exam predictions and the images it classified with their DICOM
// identity (SOP class and instance, series) and file (the source of the Patient/Study modules).
import type { Db } from './database';

export interface RunStudy {
  studyId: number;
  studyUid: string;
}

export interface RunImage {
  sopClassUid: string | null;
  sopInstanceUid: string;
  seriesUid: string;
  laterality: 'L' | 'R' | null;
  filePath: string;
}

export interface RunStudyPrediction {
  scope: 'breast' | 'exam';
  laterality: 'L' | 'R' | null;
  classes: string[];
  values: number[];
}

/** The Patient/Study attributes the library indexed for a study (keywords as in DICOM). */
export interface IndexedStudy {
  PatientID: string;
  PatientName: string | null;
  StudyDate: string | null;
  StudyTime: string | null;
  AccessionNumber: string | null;
  StudyDescription: string | null;
}

export class SrSourcesRepo {
  constructor(private readonly db: Db) {}

  /** The studies with predictions in the run, by StudyInstanceUID. */
  runStudies(runId: number): RunStudy[] {
    return this.db
      .prepare(
        `SELECT s.id AS studyId, s.study_uid AS studyUid FROM studies s
         WHERE s.id IN (SELECT study_ref FROM predictions WHERE run_ref = ?) ORDER BY s.study_uid`,
      )
      .all(runId) as RunStudy[];
  }

  /** The images of a study the run classified (its image-level predictions), in series and instance order. */
  images(runId: number, studyId: number): RunImage[] {
    return this.db
      .prepare(
        `SELECT i.sop_class_uid AS sopClassUid, i.sop_instance_uid AS sopInstanceUid, se.series_uid AS seriesUid,
           CASE WHEN i.laterality IN ('L', 'R') THEN i.laterality END AS laterality, i.file_path AS filePath
         FROM predictions p JOIN instances i ON i.id = p.instance_ref JOIN series se ON se.id = i.series_ref
         WHERE p.run_ref = ? AND p.study_ref = ? AND p.scope = 'image'
         ORDER BY se.series_number, se.id, i.instance_number, i.id`,
      )
      .all(runId, studyId) as RunImage[];
  }

  /** What the index holds of a study's patient and study (when its source file cannot be read). */
  indexedStudy(studyId: number): IndexedStudy {
    return this.db
      .prepare(
        `SELECT p.patient_id AS PatientID, p.patient_name AS PatientName, s.study_date AS StudyDate, s.study_time AS StudyTime,
           s.accession AS AccessionNumber, s.description AS StudyDescription
         FROM studies s JOIN patients p ON p.id = s.patient_ref WHERE s.id = ?`,
      )
      .get(studyId) as IndexedStudy;
  }

  /** The run's breast and exam predictions of a study. */
  predictions(runId: number, studyId: number): RunStudyPrediction[] {
    const rows = this.db
      .prepare(
        `SELECT scope, laterality, probabilities_json FROM predictions
         WHERE run_ref = ? AND study_ref = ? AND scope IN ('breast', 'exam') ORDER BY id`,
      )
      .all(runId, studyId) as { scope: 'breast' | 'exam'; laterality: 'L' | 'R' | null; probabilities_json: string }[];
    return rows.map((r) => {
      const { classes, values } = JSON.parse(r.probabilities_json) as { classes: string[]; values: number[] };
      return { scope: r.scope, laterality: r.laterality, classes, values };
    });
  }
}
