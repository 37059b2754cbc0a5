// The "no FOR PROCESSING images" rule is one SQL fragment (db/images-repo.ts): every reader that
// hands images to a model, and the library's filter and count, draw the same line on one library.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../../src/main/db/database';
import { ImagesRepo } from '../../../../src/main/db/images-repo';
import { LabelsRepo } from '../../../../src/main/db/labels-repo';
import { LibraryIndexRepo, type InstanceRecord } from '../../../../src/main/db/library-index-repo';
import { LibraryRepo } from '../../../../src/main/db/library-repo';
import { ReportsRepo } from '../../../../src/main/db/reports-repo';
import { TasksRepo } from '../../../../src/main/db/tasks-repo';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);

/** One study whose images carry each PresentationIntentType a file may have (or none). */
const IMAGES: { uid: string; intent: string | null; forProcessing: boolean }[] = [
  { uid: '1.2.3.1', intent: null, forProcessing: false },
  { uid: '1.2.3.2', intent: 'FOR PRESENTATION', forProcessing: false },
  { uid: '1.2.3.3', intent: 'FOR PROCESSING', forProcessing: true },
  { uid: '1.2.3.4', intent: '', forProcessing: false },
];

function library(): { db: Db; studyId: number; ids: Map<string, number> } {
  const db = openDatabase(path.join(tmpDir(), 'library.sqlite'));
  const index = new LibraryIndexRepo(db);
  const patient = index.upsertPatient('P1', null);
  const studyId = index.upsertStudy(patient, { uid: '1.2.3', date: null, time: null, accession: 'A1', description: null });
  const series = index.upsertSeries(studyId, { uid: '1.2.3.0', modality: 'MG', number: 1, description: null });
  IMAGES.forEach((im, n) => {
    const row: InstanceRecord = {
      series_ref: series,
      sop_instance_uid: im.uid,
      sop_class_uid: null,
      file_path: `/data/${im.uid}.dcm`,
      file_size: 1,
      file_mtime_ms: 1,
      transfer_syntax_uid: null,
      modality: 'MG',
      presentation_intent: im.intent,
      manufacturer: null,
      manufacturer_model: null,
      laterality: n % 2 ? 'L' : 'R',
      view_position: 'CC',
      rows: 8,
      columns: 8,
      bits_allocated: 16,
      bits_stored: 12,
      pixel_representation: 0,
      photometric: 'MONOCHROME2',
      number_of_frames: 1,
      pixel_spacing: null,
      imager_pixel_spacing: null,
      instance_number: n + 1,
    };
    index.upsertInstance(row);
  });
  const ids = new Map(new ImagesRepo(db).ofStudies([studyId]).map((r) => [r.filePath, r.id]));
  return { db, studyId, ids };
}

describe('the FOR PROCESSING rule, written once in db/', () => {
  it('every reader of images for a model leaves out exactly the FOR PROCESSING images', () => {
    const { db, studyId } = library();
    try {
      const presented = IMAGES.filter((im) => !im.forProcessing).map((im) => `/data/${im.uid}.dcm`);
      const images = new ImagesRepo(db);
      // classification: every image, the FOR PROCESSING ones flagged (it lists them as skipped)
      expect(images.ofStudies([studyId]).map((r) => [r.filePath, r.forProcessing])).toEqual(
        IMAGES.map((im) => [`/data/${im.uid}.dcm`, im.forProcessing]),
      );
      // `cleft classify --study`
      expect(images.presentationImagesOfStudyUid('1.2.3').map((r) => r.file)).toEqual(presented);
      // prompt learning and the Adaptor: labelled images
      const tasks = new TasksRepo(db);
      tasks.seedBuiltins();
      const density = tasks.list().find((t) => t.name === 'Breast density')!;
      new LabelsRepo(db, tasks).set({ taskId: density.id, studyId, scope: 'exam' }, density.classes[0]!.name, 'test');
      expect(images.labelled(density.id).map((r) => r.file)).toEqual(presented);
      expect(images.labelled(density.id, [studyId]).map((r) => r.file)).toEqual(presented);
      // contrastive LoRA: image-report pairs
      const reports = new ReportsRepo(db);
      reports.upsert(studyId, 'scattered fibroglandular densities', '/data/report.txt');
      expect(reports.imagePairs().map((r) => r.file)).toEqual(presented);
      // the library list: the per-study count and both filters agree with the same line
      const library = new LibraryRepo(db);
      const sort = { key: 'studyDate', dir: 'asc' } as const;
      expect(library.study(studyId)!.study.forProcessing).toBe(IMAGES.filter((im) => im.forProcessing).length);
      expect(library.studies({ presentationIntent: 'FOR PROCESSING' }, sort, 10, 0).total).toBe(1);
      expect(library.studies({ presentationIntent: 'FOR PRESENTATION' }, sort, 10, 0).total).toBe(1);
    } finally {
      db.close();
    }
  });

  it('a study with only FOR PROCESSING images has nothing to classify, label-train or pair', () => {
    const { db, studyId, ids } = library();
    try {
      // drop every image but the FOR PROCESSING one
      for (const im of IMAGES.filter((x) => !x.forProcessing))
        db.prepare(`DELETE FROM instances WHERE id = ?`).run(ids.get(`/data/${im.uid}.dcm`));
      const images = new ImagesRepo(db);
      expect(images.presentationImagesOfStudyUid('1.2.3')).toEqual([]);
      expect(images.ofStudies([studyId]).every((r) => r.forProcessing)).toBe(true);
      new ReportsRepo(db).upsert(studyId, 'text', '/data/report.txt');
      expect(new ReportsRepo(db).imagePairs([studyId])).toEqual([]);
      const sort = { key: 'studyDate', dir: 'asc' } as const;
      expect(new LibraryRepo(db).studies({ presentationIntent: 'FOR PRESENTATION' }, sort, 10, 0).total).toBe(0);
    } finally {
      db.close();
    }
  });
});
