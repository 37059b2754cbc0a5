// Imports DICOM files into the library: scan, read each header up to the pixel data, index it.
// Unchanged files (same path, size and mtime) are skipped unread, so a re-import is cheap and a
// resumed import simply runs again. Every skipped or refused file is recorded with its reason.
import fs from 'node:fs';
import path from 'node:path';
import type { ImportParams, ImportResult } from '../../../common/jobs';
import { duplicateReason } from '../../../common/import-problems';
import { describeFsError } from '../../dicom/file-access';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { DicomError, asDicomError } from '../../dicom/errors';
import { readDicomHeader, type DicomHeader } from '../../dicom/header';
import type { ImportProblemRecord } from '../../db/library-index-repo';
import { LibraryWriter } from '../../library/library-writer';
import { scanPaths, type ScannedFile } from '../../library/scan';
import { throwIfCancelled, type JobRunner } from '../job-context';

const BATCH = 256;
/** Header reads in flight: hides file-system latency (USB sticks, network shares). */
const CONCURRENCY = 16;
/** Duplicates named in the result (all of them are in the problem list). */
const MAX_DUPLICATES_LISTED = 100;

/** "<path>: does not exist" (or why it cannot be reached) for each given path that is not there. */
async function unreachable(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    try {
      await fs.promises.stat(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      out.push(`${p}: ${code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist (no such file or folder)' : describeFsError(err)}`);
    }
  }
  return out;
}

export const importDicom: JobRunner<ImportParams, ImportResult> = async (ctx) => {
  const started = performance.now();
  const db = openDatabase(path.join(ctx.dataDir, DB_FILE_NAME));
  try {
    // A path that is not there is a mistyped path, not a file to list among the others: the job
    // fails naming it, before anything is indexed.
    const missing = await unreachable(ctx.params.paths);
    if (missing.length) throw new Error(missing.join('; '));
    const writer = new LibraryWriter(db);
    ctx.progress(0, 'Looking for files…');
    const scan = await scanPaths(ctx.params.paths, ctx.signal);
    writer.recordProblems(ctx.jobId, scan.problems);
    writer.recordProblems(
      ctx.jobId,
      scan.dicomdirs.map((d) => ({
        file: d.file,
        kind: 'skipped' as const,
        reason:
          d.missing === 0
            ? `DICOMDIR (media directory): its ${d.referenced} referenced file(s) were scanned`
            : `DICOMDIR (media directory): ${d.missing} of its ${d.referenced} referenced file(s) are missing (listed); the others were scanned`,
      })),
    );
    const known = writer.knownFiles();
    const todo: ScannedFile[] = [];
    let unchanged = 0;
    for (const f of scan.files) {
      const k = known.get(f.file);
      if (k && k.size === f.size && k.mtimeMs === f.mtimeMs) unchanged++;
      else todo.push(f);
    }
    const counts = {
      imported: 0,
      updated: 0,
      duplicates: 0,
      refused: scan.problems.filter((p) => p.kind === 'refused').length,
      skipped: scan.problems.filter((p) => p.kind === 'skipped').length + scan.dicomdirs.length,
    };
    const studies = new Set<string>();
    /** Per SOP instance met twice: the file kept and the files skipped (the import report names both). */
    const duplicateFiles = new Map<string, { kept: string; skipped: string[] }>();
    let done = 0;
    const report = (): void =>
      ctx.progress(
        todo.length === 0 ? 1 : done / todo.length,
        `Indexed ${done} of ${todo.length} files: ${counts.imported} new, ${counts.updated} updated, ${counts.refused} refused` +
          (unchanged ? `, ${unchanged} unchanged` : ''),
      );

    for (let i = 0; i < todo.length && !ctx.signal.aborted; i += BATCH) {
      const slice = todo.slice(i, i + BATCH);
      const headers = await readHeaders(slice);
      const good: { scanned: ScannedFile; header: DicomHeader }[] = [];
      const problems: ImportProblemRecord[] = [];
      headers.forEach((h, j) => {
        const scanned = slice[j]!;
        if (h instanceof DicomError) problems.push(problemOf(h, scanned.file));
        else good.push({ scanned, header: h });
      });
      const outcomes = writer.writeBatch(good, (f) => fs.existsSync(f));
      outcomes.forEach((o, j) => {
        const file = good[j]!.scanned.file;
        if (o.kind === 'imported') counts.imported++;
        else if (o.kind === 'updated') counts.updated++;
        else if (o.kind === 'duplicate') {
          counts.duplicates++;
          problems.push({ file, kind: 'skipped', reason: duplicateReason(o.of) });
          const d = duplicateFiles.get(o.of) ?? { kept: o.of, skipped: [] };
          d.skipped.push(file);
          duplicateFiles.set(o.of, d);
        } else problems.push({ file, kind: 'refused', reason: o.reason });
        if (o.kind === 'imported' || o.kind === 'updated') studies.add(good[j]!.header.studyInstanceUID!);
      });
      counts.refused += problems.filter((p) => p.kind === 'refused').length;
      counts.skipped += problems.filter((p) => p.kind === 'skipped').length;
      writer.recordProblems(ctx.jobId, problems);
      done += slice.length;
      report();
    }
    const seconds = (performance.now() - started) / 1000;
    const result: ImportResult = {
      scanned: scan.files.length,
      ...counts,
      unchanged,
      studies: studies.size,
      ...(duplicateFiles.size ? { duplicateFiles: [...duplicateFiles.values()].slice(0, MAX_DUPLICATES_LISTED) } : {}),
      seconds: Math.round(seconds * 1000) / 1000,
      filesPerSecond: Math.round(done / Math.max(seconds, 1e-3)),
    };
    // A cancelled import keeps every batch it committed; the job is recorded as cancelled.
    throwIfCancelled(ctx.signal);
    return result;
  } finally {
    db.close();
  }
};

async function readHeaders(files: ScannedFile[]): Promise<(DicomHeader | DicomError)[]> {
  const out: (DicomHeader | DicomError)[] = new Array(files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      try {
        // Geometry checked against the data present: a file `dicom pixels` would refuse never enters the
        // library, so it cannot become the kept copy of a SOP instance a good file also holds.
        out[i] = await readDicomHeader(files[i]!.file, { checkPixelData: true });
      } catch (err) {
        out[i] = asDicomError(files[i]!.file, err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, files.length) }, worker));
  return out;
}

/** Files that are not DICOM at all are skipped; DICOM files we cannot index are refused. */
function problemOf(err: DicomError, file: string): ImportProblemRecord {
  // The problem list shows the file separately: the reason is the message without it.
  return { file, kind: err.reason === 'not_dicom' ? 'skipped' : 'refused', reason: err.summary };
}
