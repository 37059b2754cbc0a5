// `sr.export` / `cleft sr export`: one DICOM Comprehensive SR per study of a classification run
// (content.ts has the document), each in a new series under the app's UID root, written to a folder.
import fs from 'node:fs';
import path from 'node:path';
import { CleftError } from '../../common/errors';
import type { Db } from '../db/database';
import { ImagesRepo } from '../db/images-repo';
import { ModelsRepo } from '../db/models-repo';
import { RunsRepo } from '../db/runs-repo';
import { SrSourcesRepo, type RunStudy } from '../db/sr-sources-repo';
import { TasksRepo } from '../db/tasks-repo';
import { hashUid, randomUid } from '../dicom/uids';
import { APP_VERSION } from '../version';
import { writeFileAtomic } from '../../native/io/atomic-write';
import { buildSrDataset, type SrImage, type SrReport } from './content';
import { encodePart10, readSourceStudy } from './dicom-file';
import type { NaturalDataset } from 'dcmjs';

export interface StudySr {
  studyUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  bytes: Uint8Array;
}

export interface RunSrs {
  runId: number;
  reports: StudySr[];
  /** Studies whose report could not be made, with the reason (the others are still made). */
  failed: { studyUid: string; reason: string }[];
  /** Reports made with less than usual (the source header unreadable: the library's index was used). */
  warnings: { studyUid: string; message: string }[];
}

/**
 * The study's Patient/Study attributes from its first classified image; when that file cannot be
 * read (moved, or a raw dataset without the Part 10 header dcmjs needs), from the library's index,
 * which lacks StudyID, ReferringPhysicianName, birth date and sex (written empty), with a warning.
 */
function sourceStudy(sources: SrSourcesRepo, study: RunStudy, file: string, warn: (message: string) => void): NaturalDataset {
  let source: NaturalDataset;
  try {
    source = readSourceStudy(file);
  } catch (err) {
    const indexed = sources.indexedStudy(study.studyId);
    warn(`${(err as Error).message}; the Patient and Study attributes come from the library's index`);
    const out: NaturalDataset = { StudyInstanceUID: study.studyUid };
    for (const [k, v] of Object.entries(indexed)) if (v !== null) out[k] = k === 'PatientName' ? [{ Alphabetic: v }] : v;
    return out;
  }
  if (source.StudyInstanceUID !== study.studyUid)
    throw new Error(`its source image ${file} now belongs to study ${String(source.StudyInstanceUID)}`);
  return source;
}

/** The run's studies to report on: all of them, or the ones asked for (each must be in the run). */
function studiesToReport(db: Db, runId: number, all: RunStudy[], asked: readonly string[] | undefined): RunStudy[] {
  if (!asked?.length) return all;
  const byUid = new Map(all.map((s) => [s.studyUid, s]));
  const missing = [...new Set(asked)].filter((uid) => !byUid.has(uid));
  if (missing.length) {
    const images = new ImagesRepo(db);
    const inLibrary = new Set(missing.filter((uid) => images.studyIdByUid(uid) !== null));
    throw new CleftError(
      'not_found',
      missing
        .map(
          (uid) =>
            `run #${runId} has no predictions for study ${uid}${inLibrary.has(uid) ? '' : ' (no study with this StudyInstanceUID in the library)'}`,
        )
        .join('; ') +
        ` (the run covers ${all.length} ${all.length === 1 ? 'study' : 'studies'}; \`cleft runs export ${runId} --scope exam --output F.csv\` lists them)`,
    );
  }
  return [...new Set(asked)].map((uid) => byUid.get(uid)!);
}

/** The SRs of a run's studies, in memory (for a folder, or for an archive's STOW-RS). */
export function buildRunSrs(db: Db, input: { runId: number; studyUids?: readonly string[] | undefined }, now = new Date()): RunSrs {
  const run = new RunsRepo(db).getRun(input.runId);
  if (run.taskId === null || run.predictions === 0)
    throw new CleftError(
      'conflict',
      `run #${run.id} (${run.kind}) has no predictions to report; export a classification run (cleft runs list shows them)`,
    );
  const sources = new SrSourcesRepo(db);
  const studies = studiesToReport(db, run.id, sources.runStudies(run.id), input.studyUids);
  const task = new TasksRepo(db).get(run.taskId);
  const model = run.modelId === null ? undefined : new ModelsRepo(db).get(run.modelId);
  const adaptor = run.record.params.adaptor;
  const out: RunSrs = { runId: run.id, reports: [], failed: [], warnings: [] };
  for (const study of studies) {
    try {
      const images = sources.images(run.id, study.studyId);
      if (!images.length) throw new Error('the run has no image-level predictions for it');
      const srImages: SrImage[] = images.map((im) => {
        if (!im.sopClassUid) throw new Error(`image ${im.sopInstanceUid} (${im.filePath}) has no SOP Class UID in the library`);
        return { sopClassUid: im.sopClassUid, sopInstanceUid: im.sopInstanceUid, seriesUid: im.seriesUid, laterality: im.laterality };
      });
      const preds = sources.predictions(run.id, study.studyId);
      // Probabilities in the task's class order, by name (as the run stored them).
      const ordered = (p: (typeof preds)[number]) =>
        task.classes.map((c) => {
          const i = p.classes.indexOf(c.name);
          if (i < 0) throw new Error(`its predictions have no probability for class "${c.name}" of task "${task.name}"`);
          return p.values[i]!;
        });
      const exam = preds.find((p) => p.scope === 'exam');
      const report: SrReport = {
        task: { name: task.name, classes: task.classes },
        exam: exam ? ordered(exam) : null,
        breasts: preds
          .filter((p) => p.scope === 'breast' && (p.laterality === 'L' || p.laterality === 'R'))
          .map((p) => ({ laterality: p.laterality!, probabilities: ordered(p) })),
        images: srImages,
        model: { name: model?.name ?? run.name, sha256: run.record.modelSha256 },
        promptSet: { name: run.promptSet, sha256: run.record.promptSetSha256 },
        adaptor: typeof adaptor === 'string' && adaptor ? adaptor : null,
        run: { id: run.id, createdAt: run.createdAt, executionProvider: run.record.executionProvider },
        deviceUid: hashUid('CLEFT Studio device', run.record.modelSha256 ?? run.name),
      };
      const source = sourceStudy(sources, study, images[0]!.filePath, (message) =>
        out.warnings.push({ studyUid: study.studyUid, message }),
      );
      const seriesInstanceUid = randomUid();
      const sopInstanceUid = randomUid();
      const dataset = buildSrDataset({
        report,
        studyUid: study.studyUid,
        source,
        seriesUid: seriesInstanceUid,
        sopInstanceUid,
        softwareVersion: APP_VERSION,
        now,
      });
      out.reports.push({ studyUid: study.studyUid, sopInstanceUid, seriesInstanceUid, bytes: encodePart10(dataset, APP_VERSION) });
    } catch (err) {
      out.failed.push({ studyUid: study.studyUid, reason: (err as Error).message });
    }
  }
  return out;
}

/** The file name of a study's SR in the output folder. */
export const srFileName = (runId: number, studyUid: string) => `cleft-sr-run${runId}-${studyUid}.dcm`;

export interface SrExportResult {
  runId: number;
  files: { studyUid: string; file: string; sopInstanceUid: string; seriesInstanceUid: string }[];
  failed: { studyUid: string; reason: string }[];
  warnings: { studyUid: string; message: string }[];
}

/** Writes one SR file per study into `outputDir` (created if needed); an existing file of the same name is replaced. */
export function exportRunSrs(
  db: Db,
  input: { runId: number; studyUids?: readonly string[] | undefined; outputDir: string },
): SrExportResult {
  const built = buildRunSrs(db, input);
  const dir = path.resolve(input.outputDir);
  if (built.reports.length) fs.mkdirSync(dir, { recursive: true });
  const files = built.reports.map((r) => {
    const file = path.join(dir, srFileName(built.runId, r.studyUid));
    writeFileAtomic(file, r.bytes);
    return { studyUid: r.studyUid, file, sopInstanceUid: r.sopInstanceUid, seriesInstanceUid: r.seriesInstanceUid };
  });
  return { runId: built.runId, files, failed: built.failed, warnings: built.warnings };
}
