// "Send results to archive": a classification run's SRs (one per study, as sr.export makes them)
// sent to a saved archive with STOW-RS, straight from memory. Each study gets its own answer; an
// error that concerns the archive itself (unreachable, credentials refused) before anything was
// stored fails the call, after that it is the reason of every study not yet sent.
import type { SrSendResult, SrSendStudy } from '../../common/archives';
import type { Db } from '../db/database';
import type { ArchiveConnection } from '../archive/connections';
import { ArchiveError, type ArchiveRequest } from '../archive/http';
import { storeBytes } from '../archive/stow';
import { buildRunSrs, srFileName } from './export-sr';

export async function sendRunSrs(
  db: Db,
  conn: ArchiveConnection,
  input: { runId: number; studyUids?: readonly string[] | undefined },
  req: ArchiveRequest = {},
): Promise<SrSendResult> {
  const built = buildRunSrs(db, input);
  const studies: SrSendStudy[] = built.failed.map((f) => ({
    studyUid: f.studyUid,
    status: 'failed',
    sopInstanceUid: null,
    reason: `no report: ${f.reason}`,
  }));
  let stopped: string | null = null;
  for (const r of built.reports) {
    if (stopped !== null) {
      studies.push({ studyUid: r.studyUid, status: 'refused', sopInstanceUid: r.sopInstanceUid, reason: `not sent: ${stopped}` });
      continue;
    }
    try {
      const res = await storeBytes(conn, srFileName(built.runId, r.studyUid), r.bytes, req);
      studies.push({ studyUid: r.studyUid, status: res.status, sopInstanceUid: r.sopInstanceUid, reason: res.reason });
    } catch (err) {
      if (!(err instanceof ArchiveError) || !studies.some((s) => s.status === 'stored')) throw err;
      stopped = err.message;
      studies.push({ studyUid: r.studyUid, status: 'refused', sopInstanceUid: r.sopInstanceUid, reason: err.message });
    }
  }
  studies.sort((a, b) => (a.studyUid < b.studyUid ? -1 : a.studyUid > b.studyUid ? 1 : 0));
  return { runId: built.runId, archive: conn.name, studies, warnings: built.warnings };
}
