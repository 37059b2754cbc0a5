// QIDO-RS searches of a saved archive: studies by patient, accession, date range and modality (with
// whether the library already holds each), then a study's series and instances on demand.
import { ArchiveQuery, type ArchiveInstance, type ArchiveSeries, type ArchiveStudy } from '../../common/archives';
import { CleftError } from '../../common/errors';
import { libraryStudyInstances } from '../db/archives-repo';
import type { Db } from '../db/database';
import type { ArchiveConnection } from './connections';
import { datasets, int, str, strs, TAG, type DicomJsonDataset } from './dicom-json';
import { ArchiveError, archiveDicomJson, type ArchiveRequest } from './http';

/** Attributes asked for beyond QIDO's defaults (description and counts are optional for servers). */
const STUDY_FIELDS = [TAG.StudyDescription, TAG.ModalitiesInStudy, TAG.NumberOfStudyRelatedSeries, TAG.NumberOfStudyRelatedInstances];
const SERIES_FIELDS = [TAG.SeriesDescription, TAG.SeriesNumber, TAG.NumberOfSeriesRelatedInstances];

function isRealDate(d: string): boolean {
  const y = Number(d.slice(0, 4));
  const m = Number(d.slice(4, 6));
  const day = Number(d.slice(6, 8));
  const t = new Date(Date.UTC(y, m - 1, day));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === day;
}

/** "20240101-20240131", "20240101-" (from), "-20240131" (until) or "20240115" (that day). */
export function parseStudyDateRange(text: string): { studyDateFrom?: string; studyDateTo?: string } {
  const m = /^(\d{8})?(-)?(\d{8})?$/.exec(text.trim());
  const bad = (why: string) =>
    new CleftError('invalid_input', `--study-date "${text}": ${why} (use YYYYMMDD-YYYYMMDD, YYYYMMDD-, -YYYYMMDD or YYYYMMDD)`);
  if (!m || (!m[1] && !m[3]) || (!m[2] && m[3])) throw bad('not a date range');
  for (const d of [m[1], m[3]]) if (d && !isRealDate(d)) throw bad(`${d} is not a date`);
  if (!m[2]) return { studyDateFrom: m[1], studyDateTo: m[1] };
  if (m[1] && m[3] && m[1] > m[3]) throw bad('the range ends before it starts');
  return { ...(m[1] ? { studyDateFrom: m[1] } : {}), ...(m[3] ? { studyDateTo: m[3] } : {}) };
}

function malformed(conn: ArchiveConnection, request: string): ArchiveError {
  return new ArchiveError('malformed', conn.name, request, 'the answer is not a list of DICOM JSON datasets');
}

/** The QIDO-RS path of a study search (relative to the archive's base URL). */
export function studySearchPath(q: ArchiveQuery): string {
  const query = ArchiveQuery.parse(q);
  const p = new URLSearchParams();
  if (query.patientId) p.append('PatientID', query.patientId);
  if (query.accession) p.append('AccessionNumber', query.accession);
  if (query.studyDateFrom || query.studyDateTo) p.append('StudyDate', `${query.studyDateFrom ?? ''}-${query.studyDateTo ?? ''}`);
  if (query.modality) p.append('ModalitiesInStudy', query.modality);
  p.append('limit', String(query.limit));
  for (const f of STUDY_FIELDS) p.append('includefield', f);
  return `studies?${p.toString()}`;
}

/** Studies matching `q`, newest first as the archive orders them, each with what the library holds of it. */
export async function queryStudies(db: Db, conn: ArchiveConnection, q: ArchiveQuery, req: ArchiveRequest = {}): Promise<ArchiveStudy[]> {
  const target = studySearchPath(q);
  const limit = ArchiveQuery.parse(q).limit;
  const list = datasets(await archiveDicomJson(conn, target, req));
  if (!list) throw malformed(conn, `GET /${target}`);
  const found = list
    .map((ds) => ({ ds, uid: str(ds, TAG.StudyInstanceUID) }))
    .filter((s): s is { ds: DicomJsonDataset; uid: string } => s.uid !== null)
    .slice(0, limit); // some archives ignore limit
  const held = libraryStudyInstances(
    db,
    found.map((s) => s.uid),
  );
  return found.map(({ ds, uid }) => ({
    studyUid: uid,
    patientId: str(ds, TAG.PatientID),
    patientName: str(ds, TAG.PatientName),
    studyDate: str(ds, TAG.StudyDate),
    accession: str(ds, TAG.AccessionNumber),
    description: str(ds, TAG.StudyDescription),
    modalities: strs(ds, TAG.ModalitiesInStudy),
    series: int(ds, TAG.NumberOfStudyRelatedSeries),
    images: int(ds, TAG.NumberOfStudyRelatedInstances),
    inLibrary: held.has(uid),
    libraryImages: held.get(uid) ?? 0,
  }));
}

/** The series of one study. */
export async function querySeries(conn: ArchiveConnection, studyUid: string, req: ArchiveRequest = {}): Promise<ArchiveSeries[]> {
  const p = new URLSearchParams();
  for (const f of SERIES_FIELDS) p.append('includefield', f);
  const target = `studies/${encodeURIComponent(studyUid)}/series?${p.toString()}`;
  const list = datasets(await archiveDicomJson(conn, target, req));
  if (!list) throw malformed(conn, `GET /${target}`);
  return list
    .map((ds) => ({
      seriesUid: str(ds, TAG.SeriesInstanceUID) ?? '',
      modality: str(ds, TAG.Modality),
      seriesNumber: int(ds, TAG.SeriesNumber),
      description: str(ds, TAG.SeriesDescription),
      images: int(ds, TAG.NumberOfSeriesRelatedInstances),
    }))
    .filter((s) => s.seriesUid !== '');
}

/** The instances of one study (or of one of its series). */
export async function queryInstances(
  conn: ArchiveConnection,
  studyUid: string,
  seriesUid?: string,
  req: ArchiveRequest = {},
): Promise<ArchiveInstance[]> {
  const target = `studies/${encodeURIComponent(studyUid)}${seriesUid ? `/series/${encodeURIComponent(seriesUid)}` : ''}/instances`;
  const list = datasets(await archiveDicomJson(conn, target, req));
  if (!list) throw malformed(conn, `GET /${target}`);
  return list
    .map((ds) => ({
      sopInstanceUid: str(ds, TAG.SOPInstanceUID) ?? '',
      sopClassUid: str(ds, TAG.SOPClassUID),
      seriesUid: str(ds, TAG.SeriesInstanceUID) ?? seriesUid ?? null,
      instanceNumber: int(ds, TAG.InstanceNumber),
    }))
    .filter((i) => i.sopInstanceUid !== '');
}
