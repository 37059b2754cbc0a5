// Indexes files into the library: read each header up to the pixel data (with the pixel-data checks
// `dicom pixels` relies on), write the good ones in one transaction, and record every skipped or
// refused file with its reason. The one way files enter the library: folder imports and archive
// retrieves both come through here, so the same checks apply to both.
import fs from 'node:fs';
import { duplicateReason } from '../../common/import-problems';
import { DicomError } from '../dicom/errors';
import type { DicomHeader } from '../dicom/header';
import { readHeaders } from '../dicom/read-headers';
import type { ImportProblemRecord } from '../db/library-index-repo';
import type { LibraryWriter } from './library-writer';
import type { ScannedFile } from './scan';

/** Header reads in flight: hides file-system latency (USB sticks, network shares). */

/** What became of one file: indexed (new or updated), a duplicate of a kept file, or not indexed and why. */
export type FileOutcome =
  | { kind: 'imported' | 'updated'; header: DicomHeader }
  | { kind: 'duplicate'; of: string; header: DicomHeader }
  | { kind: 'refused' | 'skipped'; reason: string };

/** Indexes `files` (one transaction) and records their problems under `jobId`; outcomes in the files' order. */
export async function indexFiles(writer: LibraryWriter, jobId: number | null, files: ScannedFile[]): Promise<FileOutcome[]> {
  const headers = await readHeaders(files.map((f) => f.file));
  const out: FileOutcome[] = new Array(files.length);
  const good: { scanned: ScannedFile; header: DicomHeader; at: number }[] = [];
  headers.forEach((h, j) => {
    if (h instanceof DicomError) out[j] = problemOf(h);
    else good.push({ scanned: files[j]!, header: h, at: j });
  });
  const outcomes = writer.writeBatch(good, (f) => fs.existsSync(f));
  outcomes.forEach((o, k) => {
    const { header, at } = good[k]!;
    if (o.kind === 'imported' || o.kind === 'updated') out[at] = { kind: o.kind, header };
    else if (o.kind === 'duplicate') out[at] = { kind: 'duplicate', of: o.of, header };
    else out[at] = { kind: 'refused', reason: o.reason };
  });
  const problems: ImportProblemRecord[] = [];
  out.forEach((o, j) => {
    const file = files[j]!.file;
    if (o.kind === 'duplicate') problems.push({ file, kind: 'skipped', reason: duplicateReason(o.of) });
    else if (o.kind === 'refused' || o.kind === 'skipped') problems.push({ file, kind: o.kind, reason: o.reason });
  });
  writer.recordProblems(jobId, problems);
  return out;
}

/** Files that are not DICOM at all are skipped; DICOM files we cannot index are refused. */
function problemOf(err: DicomError): FileOutcome {
  // The problem list shows the file separately: the reason is the message without it.
  return { kind: err.reason === 'not_dicom' ? 'skipped' : 'refused', reason: err.summary };
}
