// A label import from start to end: the file's bytes (a path, or an upload from the browser), the
// table, the plan (import-rules.ts) and, unless it is a preview or refused rows block it, the writes
// in one transaction with their undo record. Preview and apply return the same report.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { CleftError } from '../../common/errors';
import type { LabelFileSource, LabelImportOptions, LabelImportReport } from '../../common/label-files';
import type { Db } from '../db/database';
import { LibraryLookup, applyLabelImport, existingLabels } from '../db/label-import-repo';
import { TasksRepo } from '../db/tasks-repo';
import { readFailure } from '../library/csv';
import { readLabelTable } from './label-file';
import { planLabelImport } from './import-rules';

type Options = LabelImportOptions & { onConflict: 'keep' | 'replace'; skipBadRows: boolean };

/** The file's name (for messages) and bytes. */
export function labelFileBytes(source: LabelFileSource): { file: string; bytes: Buffer } {
  if ('path' in source) {
    const file = path.resolve(source.path);
    try {
      return { file, bytes: fs.readFileSync(file) };
    } catch (e) {
      throw new CleftError('invalid_input', readFailure(file, e).message);
    }
  }
  let bytes = Buffer.from(source.dataBase64, 'base64');
  if (source.gzip) {
    try {
      bytes = zlib.gunzipSync(bytes, { maxOutputLength: 512 << 20 });
    } catch (e) {
      throw new CleftError(
        'invalid_input',
        `${source.fileName}: the upload is not valid gzip (${e instanceof Error ? e.message : String(e)})`,
      );
    }
  }
  return { file: source.fileName, bytes };
}

export async function importLabels(
  db: Db,
  source: LabelFileSource,
  opts: Options,
  run: { dryRun: boolean; defaultAnnotator: string },
): Promise<LabelImportReport> {
  const task = new TasksRepo(db).get(opts.taskId);
  const { file, bytes } = labelFileBytes(source);
  const table = await readLabelTable(file, bytes, { sheet: opts.sheet });
  const lookup = new LibraryLookup(db);
  if (table.rows.length > 2000) lookup.prefetchStudies();
  const { report, writes } = planLabelImport(table, task, opts, lookup, existingLabels(db, task.id), run.defaultAnnotator);
  const blocked = report.counts.refused > 0 && !opts.skipBadRows;
  const write = !run.dryRun && !blocked && writes.length > 0;
  const full: LabelImportReport = {
    ...report,
    counts: { ...report.counts, applied: blocked ? 0 : writes.length },
    dryRun: run.dryRun,
    blocked,
    written: false,
    importId: null,
  };
  if (blocked)
    full.notes.push(
      `${report.counts.refused} row(s) refused: nothing ${run.dryRun ? 'would be' : 'was'} written (fix them, or --skip-bad-rows to apply the others)`,
    );
  if (!write) return normalise(full);
  const importId = applyLabelImport(db, task.id, file, JSON.stringify({ ...full, refused: full.refused.slice(0, 1000) }), writes);
  return normalise({ ...full, written: true, importId });
}

/** counts in a fixed key order, so --json output reads the same every time. */
function normalise(r: LabelImportReport): LabelImportReport {
  const c = r.counts;
  return {
    ...r,
    counts: {
      rows: c.rows,
      applied: c.applied,
      created: c.created,
      replaced: c.replaced,
      unchanged: c.unchanged,
      kept: c.kept,
      refused: c.refused,
      ready: c.ready,
    },
  };
}
