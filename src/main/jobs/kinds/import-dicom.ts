// Imports DICOM files into the library: scan, then index them (library/index-files.ts, the one way files enter).
// Unchanged files (same path, size and mtime) are skipped unread, so a re-import is cheap and a
// resumed import simply runs again. Every skipped or refused file is recorded with its reason.
import fs from 'node:fs';
import path from 'node:path';
import type { ImportParams, ImportResult } from '../../../common/jobs';
import { describeFsError } from '../../dicom/file-access';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { indexFiles } from '../../library/index-files';
import { LibraryWriter } from '../../library/library-writer';
import { scanPaths, type ScannedFile } from '../../library/scan';
import { throwIfCancelled, type JobRunner } from '../job-context';

const BATCH = 256;
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
      const outcomes = await indexFiles(writer, ctx.jobId, slice);
      outcomes.forEach((o, j) => {
        if (o.kind === 'imported') counts.imported++;
        else if (o.kind === 'updated') counts.updated++;
        else if (o.kind === 'duplicate') {
          counts.duplicates++;
          counts.skipped++;
          const d = duplicateFiles.get(o.of) ?? { kept: o.of, skipped: [] };
          d.skipped.push(slice[j]!.file);
          duplicateFiles.set(o.of, d);
        } else counts[o.kind]++;
        if (o.kind === 'imported' || o.kind === 'updated') studies.add(o.header.studyInstanceUID!);
      });
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
