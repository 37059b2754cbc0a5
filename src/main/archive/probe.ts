// `pacs test`: is the archive reachable, do the credentials pass, and which DICOMweb services answer.
// Three requests at most, none of which stores or changes anything: a QIDO-RS search for one study,
// WADO-RS metadata of that study (headers only; the body is not read), and a STOW-RS POST whose
// content type no archive stores (an archive with STOW answers 415 or 400; one without, 404/405/501).
import type { ArchiveServiceCheck, ArchiveTestResult } from '../../common/archives';
import type { ArchiveConnection } from './connections';
import { datasets, str, TAG } from './dicom-json';
import { ArchiveError, archiveDicomJson, archiveFetch, type ArchiveRequest } from './http';

const UNREACHABLE = new Set(['refused', 'timeout', 'tls', 'dropped', 'cancelled']);
/** Statuses a STOW-RS endpoint gives a body it will not store: the service is there. */
const STOW_PRESENT = [400, 409, 415];
const ABSENT = [404, 405, 501];

function failed(e: ArchiveError): ArchiveServiceCheck {
  return { answers: ABSENT.includes(e.status ?? 0) || e.kind === 'unauthorized' ? false : null, detail: e.message };
}

export async function testArchive(
  conn: ArchiveConnection,
  req: Pick<ArchiveRequest, 'timeoutMs' | 'signal'> = {},
): Promise<ArchiveTestResult> {
  const result: ArchiveTestResult = {
    name: conn.name,
    url: conn.url,
    reachable: true,
    problem: null,
    services: {
      qido: { answers: null, detail: 'not tried' },
      wado: { answers: null, detail: 'not tried' },
      stow: { answers: null, detail: 'not tried' },
    },
  };
  const stop = (e: ArchiveError): ArchiveTestResult => {
    result.reachable = !UNREACHABLE.has(e.kind);
    result.problem = e.message;
    return result;
  };

  // QIDO-RS
  let studyUid: string | null = null;
  try {
    const list = datasets(await archiveDicomJson(conn, 'studies?limit=1', req));
    if (list === null) result.services.qido = { answers: false, detail: 'GET /studies?limit=1: the answer is not DICOM JSON' };
    else {
      studyUid = list[0] ? str(list[0], TAG.StudyInstanceUID) : null;
      result.services.qido = {
        answers: true,
        detail: `GET /studies?limit=1: ${list.length === 0 ? 'answered, no study' : 'answered with a study'}`,
      };
    }
  } catch (e) {
    if (!(e instanceof ArchiveError)) throw e;
    if (UNREACHABLE.has(e.kind) || e.kind === 'unauthorized') {
      result.services.qido = failed(e);
      return stop(e);
    }
    result.services.qido = failed(e);
  }

  // WADO-RS: metadata of the study QIDO named (nothing to ask for in an empty archive).
  if (studyUid === null) result.services.wado = { answers: null, detail: 'no study to ask for (QIDO-RS named none)' };
  else {
    const target = `studies/${encodeURIComponent(studyUid)}/metadata`;
    try {
      const res = await archiveFetch(conn, target, { ...req, accept: 'application/dicom+json' });
      await res.body?.cancel();
      result.services.wado = { answers: true, detail: `GET /${target}: HTTP ${res.status}` };
    } catch (e) {
      if (!(e instanceof ArchiveError)) throw e;
      if (UNREACHABLE.has(e.kind)) return stop(e);
      result.services.wado = failed(e);
    }
  }

  // STOW-RS: a body no archive stores, so nothing is written.
  try {
    const res = await archiveFetch(conn, 'studies', {
      ...req,
      method: 'POST',
      accept: 'application/dicom+json',
      headers: { 'Content-Type': 'application/x-cleft-probe' },
      body: '',
      allowStatus: STOW_PRESENT,
    });
    await res.body?.cancel();
    result.services.stow = { answers: true, detail: `POST /studies (an empty probe, nothing stored): HTTP ${res.status}` };
  } catch (e) {
    if (!(e instanceof ArchiveError)) throw e;
    if (UNREACHABLE.has(e.kind)) return stop(e);
    result.services.stow = failed(e);
  }
  if (result.problem === null) {
    const refused = Object.values(result.services).find((s) => s.answers === false && /credentials refused/.test(s.detail));
    if (refused) result.problem = refused.detail;
  }
  return result;
}
