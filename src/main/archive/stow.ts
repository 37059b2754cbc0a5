// STOW-RS: DICOM Part 10 files sent to a saved archive, one multipart/related request per file so
// each file gets its own answer (stored, with the archive's warning if any, or refused with the
// archive's reason). A file that is not DICOM is refused here, before anything is sent.
import crypto from 'node:crypto';
import type { ArchiveStoreResult } from '../../common/archives';
import { readRegularFile } from '../dicom/file-access';
import { readHeaderFromBytes } from '../dicom/header';
import type { ArchiveConnection } from './connections';
import { int, items, str, TAG, type DicomJsonDataset } from './dicom-json';
import { archiveFetch, type ArchiveRequest } from './http';

/** PS3.4 / PS3.18 status codes an archive puts in FailureReason or WarningReason. */
const REASONS: Record<number, string> = {
  0x0110: 'processing failure',
  0x0122: 'SOP class not supported',
  0x0124: 'not authorized',
  0x0210: 'duplicate invocation',
  0x0211: 'unrecognized operation',
  0x0212: 'mistyped argument',
  0xa700: 'out of resources',
  0xa900: 'data set does not match SOP class',
  0xc000: 'cannot understand',
  0xc122: 'transfer syntax not supported',
  0xb000: 'coercion of data elements',
  0xb006: 'elements discarded',
  0xb007: 'data set does not match SOP class',
};

function reasonText(code: number | null): string {
  if (code === null) return 'no reason given';
  const hex = `0x${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return REASONS[code] ? `${REASONS[code]} (${hex})` : `status ${hex}`;
}

/** The multipart/related body of one instance, with a boundary that does not occur in it. */
export function stowBody(dicom: Uint8Array): { body: Buffer<ArrayBuffer>; contentType: string } {
  const data = Buffer.from(dicom.buffer, dicom.byteOffset, dicom.byteLength);
  let boundary: string;
  do boundary = `cleft-${crypto.randomBytes(16).toString('hex')}`;
  while (data.includes(boundary));
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`),
    data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

function isPart10(b: Uint8Array): boolean {
  return b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;
}

/** What the archive's answer (a DICOM JSON dataset, or not) says about `uid`. */
function verdict(file: string, uid: string, status: number, text: string): ArchiveStoreResult {
  let ds: DicomJsonDataset | null = null;
  try {
    const parsed = JSON.parse(text) as unknown;
    const first = Array.isArray(parsed) ? (parsed[0] as unknown) : parsed;
    if (typeof first === 'object' && first !== null) ds = first as DicomJsonDataset;
  } catch {
    /* not JSON: the text itself is the reason */
  }
  const failedItem = ds ? items(ds, TAG.FailedSOPSequence).find((i) => str(i, TAG.ReferencedSOPInstanceUID) === uid) : undefined;
  if (failedItem)
    return {
      file,
      sopInstanceUid: uid,
      status: 'refused',
      reason: `the archive refused it: ${reasonText(int(failedItem, TAG.FailureReason))}`,
    };
  const storedItem = ds ? items(ds, TAG.ReferencedSOPSequence).find((i) => str(i, TAG.ReferencedSOPInstanceUID) === uid) : undefined;
  if (storedItem && status < 300) {
    const warning = int(storedItem, TAG.WarningReason);
    return {
      file,
      sopInstanceUid: uid,
      status: 'stored',
      reason: warning === null ? null : `stored with a warning: ${reasonText(warning)}`,
    };
  }
  const said = text.replace(/\s+/g, ' ').trim().slice(0, 300);
  return {
    file,
    sopInstanceUid: uid,
    status: 'refused',
    reason:
      status < 300
        ? `the archive answered HTTP ${status} without confirming this instance`
        : `the archive refused it: HTTP ${status}${said && ds === null ? `: ${said}` : ''}`,
  };
}

/** Sends one file; network failures and refused credentials throw ArchiveError (they concern every file). */
export async function storeFile(conn: ArchiveConnection, file: string, req: ArchiveRequest = {}): Promise<ArchiveStoreResult> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(file);
  } catch (e) {
    return { file, sopInstanceUid: null, status: 'refused', reason: `not sent: ${e instanceof Error ? e.message : String(e)}` };
  }
  return storeBytes(conn, file, bytes, req);
}

/** Sends one DICOM Part 10 object held in memory (`file` names it in the result: a path or a label). */
export async function storeBytes(
  conn: ArchiveConnection,
  file: string,
  bytes: Uint8Array,
  req: ArchiveRequest = {},
): Promise<ArchiveStoreResult> {
  if (!isPart10(bytes))
    return { file, sopInstanceUid: null, status: 'refused', reason: 'not sent: not a DICOM Part 10 file (no DICM preamble)' };
  let uid: string | null;
  try {
    uid = readHeaderFromBytes(bytes, file).sopInstanceUID;
  } catch (e) {
    return { file, sopInstanceUid: null, status: 'refused', reason: `not sent: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (!uid) return { file, sopInstanceUid: null, status: 'refused', reason: 'not sent: no SOP Instance UID (0008,0018)' };
  const { body, contentType } = stowBody(bytes);
  const res = await archiveFetch(conn, 'studies', {
    ...req,
    method: 'POST',
    accept: 'application/dicom+json',
    headers: { 'Content-Type': contentType },
    body,
    allowStatus: [400, 409, 413, 415, 500, 503],
  });
  return verdict(file, uid, res.status, await res.text());
}

/** Sends every file in turn; stops at the first error that concerns the archive rather than a file. */
export async function storeFiles(
  conn: ArchiveConnection,
  files: readonly string[],
  req: ArchiveRequest = {},
  onResult?: (r: ArchiveStoreResult) => void,
): Promise<ArchiveStoreResult[]> {
  const results: ArchiveStoreResult[] = [];
  for (const file of files) {
    const r = await storeFile(conn, file, req);
    results.push(r);
    onResult?.(r);
  }
  return results;
}
