// `pacs-retrieve`: studies from a saved DICOMweb archive into the library (archive/retrieve.ts does
// the work). Progress counts instances and bytes, with the measured rate and the time left; cancel
// stops between chunks and removes the instance in flight; resume skips what the library already
// holds. The checkpoint lists the instances this job fetched over all its runs, so its result (and
// a reader of the job) can tell that nothing was fetched twice. A study that failed fails the job
// with a message naming each such study; everything stored before is kept, and resuming retries them.
import path from 'node:path';
import type { PacsRetrieveParams, PacsRetrieveResult } from '../../../common/jobs';
import { resolveArchive } from '../../archive/connections';
import { retrieveStudies, type RetrieveProgress } from '../../archive/retrieve';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { throwIfCancelled, type JobRunner } from '../job-context';

/** Progress messages at most this often (each crosses the worker boundary). */
const PROGRESS_EVERY_MS = 250;

/** What a run leaves for the next: the SOP instances fetched so far, bytes and seconds spent. */
export interface PacsRetrieveCheckpoint {
  fetched: string[];
  bytes: number;
  seconds: number;
}

function readCheckpoint(raw: unknown): PacsRetrieveCheckpoint {
  const c = raw as Partial<PacsRetrieveCheckpoint> | null;
  return {
    fetched: Array.isArray(c?.fetched) ? c.fetched.filter((x): x is string => typeof x === 'string') : [],
    bytes: typeof c?.bytes === 'number' ? c.bytes : 0,
    seconds: typeof c?.seconds === 'number' ? c.seconds : 0,
  };
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** "Study 2 of 5: 12 of 40 instances, 123.4 MB at 45.6 MB/s (3.2 images/s), about 40 s left". */
export function progressMessage(p: RetrieveProgress): string {
  const rate = p.seconds > 0 ? p.fetched / p.seconds : 0;
  const left = rate > 0 ? Math.ceil((p.total - p.done) / rate) : null;
  return (
    `Study ${Math.max(p.study, 1)} of ${p.studies}: ${p.done} of ${p.total} instances, ${mb(p.bytes)}` +
    (p.seconds > 0 && p.bytes > 0 ? ` at ${(p.bytes / 1e6 / p.seconds).toFixed(1)} MB/s (${rate.toFixed(1)} images/s)` : '') +
    (left !== null && p.done < p.total ? `, about ${left} s left` : '')
  );
}

export const pacsRetrieve: JobRunner<PacsRetrieveParams, PacsRetrieveResult> = async (ctx) => {
  const db = openDatabase(path.join(ctx.dataDir, DB_FILE_NAME));
  try {
    const conn = resolveArchive(db, ctx.dataDir, ctx.params.archive);
    const before = readCheckpoint(ctx.checkpoint);
    const fetched = [...before.fetched];
    let bytes = before.bytes;
    let lastSent = 0;
    let lastDone = -1;
    const started = performance.now();
    ctx.progress(0, `Listing ${ctx.params.studies.length} stud${ctx.params.studies.length === 1 ? 'y' : 'ies'} on ${conn.name}…`);
    const summary = await retrieveStudies({
      db,
      dataDir: ctx.dataDir,
      conn,
      studies: ctx.params.studies,
      onlyForPresentation: ctx.params.onlyForPresentation,
      jobId: ctx.jobId,
      signal: ctx.signal,
      onProgress: (p) => {
        // Every finished instance is reported; bytes in between at most every PROGRESS_EVERY_MS.
        const now = performance.now();
        if (p.done === lastDone && now - lastSent < PROGRESS_EVERY_MS) return;
        lastSent = now;
        lastDone = p.done;
        ctx.progress(p.total > 0 ? p.done / p.total : 0, progressMessage(p));
      },
      onStored: (s) => {
        fetched.push(s.sopInstanceUid);
        bytes += s.bytes;
        ctx.saveCheckpoint({
          fetched,
          bytes,
          seconds: before.seconds + (performance.now() - started) / 1000,
        } satisfies PacsRetrieveCheckpoint);
      },
    });
    throwIfCancelled(ctx.signal);
    const failed = summary.studies.filter((s) => s.status === 'failed');
    if (failed.length > 0) {
      const ok = summary.studies.length - failed.length;
      throw new Error(
        `${failed.length} of ${summary.studies.length} studies could not be retrieved from "${conn.name}"` +
          ` (${ok} retrieved; what was stored is kept, and resuming the job retries the rest): ` +
          failed.map((s) => s.error).join('; '),
      );
    }
    const seconds = before.seconds + summary.seconds;
    const total = (k: 'alreadyStored' | 'skippedForProcessing'): number => summary.studies.reduce((n, s) => n + s[k], 0);
    return {
      archive: conn.name,
      studies: summary.studies,
      fetched: fetched.length,
      alreadyStored: total('alreadyStored'),
      skippedForProcessing: total('skippedForProcessing'),
      bytes,
      seconds: Math.round(seconds * 1000) / 1000,
      imagesPerSecond: Math.round((summary.fetched / Math.max(summary.seconds, 1e-3)) * 100) / 100,
      megabytesPerSecond: Math.round((summary.bytes / 1e6 / Math.max(summary.seconds, 1e-3)) * 100) / 100,
    };
  } finally {
    db.close();
  }
};
