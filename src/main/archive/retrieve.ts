// Retrieve studies from a DICOMweb archive into the library. Per study: WADO-RS metadata lists its
// instances (FOR PROCESSING ones left out on request), instances the library already holds are
// skipped (that is what makes a retrieve resumable), and each other instance is fetched with WADO-RS
// in the syntax the archive stores it (`transfer-syntax=*`: never transcoded), streamed to a temp
// file, fsynced and renamed into <dataDir>/archive/<archive>/<study>/<series>/<sop>.dcm only when
// whole, then indexed exactly as a folder import indexes files (library/index-files.ts).
//
// One request per instance: mammography studies are a few large instances, so the request overhead
// is small, and it makes resume exact (nothing stored is fetched again) and every error name its
// instance. A failure of one study (timeout, 401/403, 404, a dropped connection, a malformed
// multipart body, an instance that does not parse) is recorded with its reason and the others go on;
// temp files are removed whatever happens, so nothing half-written stays in the library.
import fs from 'node:fs';
import path from 'node:path';
import type { ArchiveConnection } from './connections';
import { ArchiveError, archiveDicomJson, archiveFetch } from './http';
import { boundaryOf, MultipartError, readMultipart, type PartSink } from './multipart';
import { DICOM_UID_PATTERN as DICOM_UID, type PacsRetrieveStudy } from '../../common/jobs';
import type { Db } from '../db/database';
import { LibraryIndexRepo } from '../db/library-index-repo';
import { isForProcessing } from '../dicom/header';
import { indexFiles } from '../library/index-files';
import { LibraryWriter } from '../library/library-writer';
import { JobCancelled } from '../jobs/job-context';

/** WADO-RS: instances as DICOM files in whatever transfer syntax the archive holds them. */
export const WADO_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*';
const DEFAULT_CONCURRENCY = 2;

export interface ListedInstance {
  series: string;
  sop: string;
  sopClass: string | null;
  presentationIntent: string | null;
}

/** What became of one study (the job result's per-study record). */
export type StudyOutcome = PacsRetrieveStudy;

export interface RetrieveProgress {
  /** Instances fetched, refused or found stored, of `total` listed so far (FOR PROCESSING ones excluded when asked). */
  done: number;
  total: number;
  fetched: number;
  bytes: number;
  /** Study being retrieved (1-based) of `studies`. */
  study: number;
  studies: number;
  seconds: number;
}

export interface StoredInstance {
  studyUid: string;
  seriesUid: string;
  sopInstanceUid: string;
  file: string;
  bytes: number;
  transferSyntax: string;
}

export interface RetrieveOptions {
  db: Db;
  dataDir: string;
  conn: ArchiveConnection;
  studies: readonly string[];
  onlyForPresentation: boolean;
  /** Refused instances are recorded in the library's problems under this job. */
  jobId: number | null;
  signal: AbortSignal;
  /** No byte from the archive for this long gives a request up (default: the HTTP helper's). */
  idleTimeoutMs?: number;
  /** Instance requests in flight per study. */
  concurrency?: number;
  onProgress?(p: RetrieveProgress): void;
  /** After each instance is stored and indexed (awaited: tests act on the state it marks). */
  onStored?(inst: StoredInstance): void | Promise<void>;
}

export interface RetrieveSummary {
  studies: StudyOutcome[];
  fetched: number;
  bytes: number;
  seconds: number;
}

/** A failure of one request, already phrased for the user. */
export class ArchiveRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveRequestError';
  }
}

/** The folder a study's instances land in. */
export function studyFolder(dataDir: string, archive: string, studyUid: string): string {
  return path.join(dataDir, 'archive', archive, studyUid);
}

export async function retrieveStudies(opts: RetrieveOptions): Promise<RetrieveSummary> {
  const started = performance.now();
  const writer = new LibraryWriter(opts.db);
  const index = new LibraryIndexRepo(opts.db);
  const outcomes: StudyOutcome[] = opts.studies.map((studyUid) => ({
    studyUid,
    status: 'done',
    instances: 0,
    fetched: 0,
    alreadyStored: 0,
    skippedForProcessing: 0,
    refused: 0,
    bytes: 0,
    error: null,
  }));
  const progress: RetrieveProgress = { done: 0, total: 0, fetched: 0, bytes: 0, study: 0, studies: opts.studies.length, seconds: 0 };
  const report = (): void => {
    progress.seconds = (performance.now() - started) / 1000;
    opts.onProgress?.({ ...progress });
  };
  const failStudy = (o: StudyOutcome, reason: string): void => {
    o.status = 'failed';
    o.error = o.error ? `${o.error}; ${reason}` : `study ${o.studyUid}: ${reason}`;
  };

  // First every study's list, so progress knows the whole amount before the first byte.
  const lists: (ListedInstance[] | null)[] = [];
  for (const o of outcomes) {
    throwIfAborted(opts.signal);
    progress.study++;
    report();
    try {
      if (!DICOM_UID.test(o.studyUid)) throw new ArchiveRequestError(`"${o.studyUid}" is not a DICOM UID (digits and dots, at most 64)`);
      const listed = await listInstances(opts, o.studyUid);
      o.instances = listed.length;
      const wanted = listed.filter((i) => {
        if (opts.onlyForPresentation && isForProcessing(i.presentationIntent, i.sopClass)) {
          o.skippedForProcessing++;
          return false;
        }
        return true;
      });
      progress.total += wanted.length;
      lists.push(wanted);
    } catch (err) {
      rethrowCancel(err, opts.signal);
      failStudy(o, describe(err));
      lists.push(null);
    }
  }

  progress.study = 0;
  for (const [k, o] of outcomes.entries()) {
    progress.study = k + 1;
    const wanted = lists[k];
    if (!wanted) continue;
    const todo: ListedInstance[] = [];
    for (const inst of wanted) {
      const have = index.instanceByUid(inst.sop);
      if (have && fs.existsSync(have.file_path)) {
        o.alreadyStored++;
        progress.done++;
      } else todo.push(inst);
    }
    report();
    if (todo.length === 0) continue;

    const folder = studyFolder(opts.dataDir, opts.conn.name, o.studyUid);
    const incoming = path.join(folder, '.incoming');
    // Left by a process killed mid-transfer: never whole, never indexed.
    fs.rmSync(incoming, { recursive: true, force: true });
    fs.mkdirSync(incoming, { recursive: true });
    // A network failure stops the study (the next requests would fail alike); a refused instance does not.
    const stop = new AbortController();
    const signal = AbortSignal.any([opts.signal, stop.signal]);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < todo.length && !signal.aborted) {
        const inst = todo[next++]!;
        try {
          const stored = await fetchInstance(opts, o.studyUid, inst, incoming, folder, signal, (n) => {
            progress.bytes += n;
            o.bytes += n;
            report();
          });
          const outcome = (await indexFiles(writer, opts.jobId, [{ file: stored.file, size: stored.bytes, mtimeMs: stored.mtimeMs }]))[0]!;
          progress.done++;
          if (outcome.kind === 'imported' || outcome.kind === 'updated') {
            o.fetched++;
            progress.fetched++;
            report();
            await opts.onStored?.({
              studyUid: o.studyUid,
              seriesUid: inst.series,
              sopInstanceUid: inst.sop,
              file: stored.file,
              bytes: stored.bytes,
              transferSyntax: outcome.header.transferSyntaxUID,
            });
          } else {
            // Not indexed: the file must not stay in the library folder.
            fs.rmSync(stored.file, { force: true });
            if (outcome.kind === 'duplicate') o.alreadyStored++;
            else if (outcome.kind === 'refused' || outcome.kind === 'skipped') {
              o.refused++;
              failStudy(o, `instance ${inst.sop} was refused: ${outcome.reason}`);
            }
            report();
          }
        } catch (err) {
          if (opts.signal.aborted) return;
          if (stop.signal.aborted) return; // another request of this study already failed it
          failStudy(o, describe(err));
          stop.abort();
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? DEFAULT_CONCURRENCY, todo.length) }, worker));
    } finally {
      fs.rmSync(incoming, { recursive: true, force: true });
    }
    throwIfAborted(opts.signal);
  }
  report();
  return { studies: outcomes, fetched: progress.fetched, bytes: progress.bytes, seconds: (performance.now() - started) / 1000 };
}

/** The study's instances from WADO-RS metadata (`/studies/{uid}/metadata`). */
export async function listInstances(opts: RetrieveOptions, studyUid: string): Promise<ListedInstance[]> {
  const json = await archiveDicomJson(opts.conn, `studies/${studyUid}/metadata`, { signal: opts.signal, timeoutMs: opts.idleTimeoutMs });
  if (!Array.isArray(json))
    throw new ArchiveRequestError('the archive answered the metadata request with something other than a list of instances');
  const out: ListedInstance[] = [];
  const seen = new Set<string>();
  for (const item of json as unknown[]) {
    const series = tagString(item, '0020000E');
    const sop = tagString(item, '00080018');
    if (!series || !sop || !DICOM_UID.test(series) || !DICOM_UID.test(sop))
      throw new ArchiveRequestError(
        `the archive's metadata lists an instance without a valid SeriesInstanceUID/SOPInstanceUID (${JSON.stringify(series)}, ${JSON.stringify(sop)})`,
      );
    if (seen.has(sop)) continue;
    seen.add(sop);
    out.push({ series, sop, sopClass: tagString(item, '00080016'), presentationIntent: tagString(item, '00080068') });
  }
  if (out.length === 0) throw new ArchiveRequestError('the archive lists no instance in this study');
  return out;
}

function tagString(item: unknown, tag: string): string | null {
  if (typeof item !== 'object' || item === null) return null;
  const el = (item as Record<string, { Value?: unknown[] } | undefined>)[tag];
  const v = el?.Value?.[0];
  return typeof v === 'string' ? v.trim() : null;
}

interface Fetched {
  file: string;
  bytes: number;
  mtimeMs: number;
}

/** GETs one instance into `incoming`, then renames it into the study folder once whole and synced. */
async function fetchInstance(
  opts: RetrieveOptions,
  studyUid: string,
  inst: ListedInstance,
  incoming: string,
  folder: string,
  signal: AbortSignal,
  onBytes: (n: number) => void,
): Promise<Fetched> {
  const what = `instance ${inst.sop}`;
  const res = await archiveFetch(opts.conn, `studies/${studyUid}/series/${inst.series}/instances/${inst.sop}`, {
    accept: WADO_ACCEPT,
    signal,
    timeoutMs: opts.idleTimeoutMs,
  });
  const temps: string[] = [];
  let received = 0;
  try {
    const boundary = boundaryOf(res.headers.get('content-type'));
    const got: { file: string | null } = { file: null };
    const parts = await readMultipart(bodyOf(res), boundary, async (part) => {
      if (part.index > 0) throw new MultipartError(`the archive sent more than one part for one instance`);
      if (part.contentType !== null && part.contentType !== 'application/dicom')
        throw new MultipartError(`part ${part.index + 1} is ${part.contentType}, not application/dicom`);
      const tmp = path.join(incoming, `${inst.sop}.${process.pid}.${Math.random().toString(36).slice(2)}.part`);
      temps.push(tmp);
      got.file = tmp;
      return fileSink(await fs.promises.open(tmp, 'wx'), (n) => {
        received += n;
        onBytes(n);
      });
    });
    if (parts === 0 || got.file === null) throw new MultipartError('the multipart body holds no part');
    const final = path.join(folder, inst.series, `${inst.sop}.dcm`);
    fs.mkdirSync(path.dirname(final), { recursive: true });
    fs.renameSync(got.file, final);
    const st = fs.statSync(final);
    return { file: final, bytes: st.size, mtimeMs: st.mtimeMs };
  } catch (err) {
    if (err instanceof MultipartError) throw new ArchiveRequestError(`${what}: malformed multipart/related response: ${err.message}`);
    if (err instanceof ArchiveError && received > 0) throw new ArchiveRequestError(`${err.message} (after ${received} bytes of ${what})`);
    throw err;
  } finally {
    await res.body?.cancel().catch(() => undefined);
    for (const t of temps) fs.rmSync(t, { force: true });
  }
}

function fileSink(fh: fs.promises.FileHandle, onBytes: (n: number) => void): PartSink {
  let closed = false;
  return {
    async write(chunk) {
      let off = 0;
      while (off < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
        off += bytesWritten;
      }
      onBytes(chunk.length);
    },
    async close() {
      // Durable before it is renamed into the library.
      await fh.sync();
      closed = true;
      await fh.close();
    },
    async abort() {
      if (!closed) await fh.close();
      closed = true;
    },
  };
}

/** The response body as chunks (archiveFetch keeps its idle timeout alive while it is read). */
async function* bodyOf(res: Response): AsyncGenerator<Uint8Array> {
  if (!res.body) return;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new JobCancelled();
}

function rethrowCancel(err: unknown, signal: AbortSignal): void {
  if (err instanceof JobCancelled || signal.aborted) throw new JobCancelled();
}
