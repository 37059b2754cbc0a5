// Importing study reports from the files researchers have: a CSV with a study key column
// (accession or StudyInstanceUID) and a report column, or .txt files beside a study's DICOM files
// (a folder is searched for them recursively). Rows that match no study are returned with the file,
// row and reason; everything else is stored (one current report per study).
import fs from 'node:fs';
import path from 'node:path';
import type { ReportImportResult } from '../../common/contract';
import { CleftError } from '../../common/errors';
import type { Db } from '../db/database';
import { ImagesRepo } from '../db/images-repo';
import { ReportsRepo } from '../db/reports-repo';
import { parseCsvRecords, readUtf8File } from './csv';

type Unmatched = ReportImportResult['unmatched'][number];

/** Header names, compared without case, spaces, '_' and '-'. */
const norm = (h: string) => h.toLowerCase().replace(/[\s_-]/g, '');
const UID_COLUMNS = ['studyuid', 'studyinstanceuid'];
const ACCESSION_COLUMNS = ['accession', 'accessionnumber'];
const TEXT_COLUMNS = ['report', 'text', 'reporttext'];

class StudyKeys {
  constructor(private readonly images: ImagesRepo) {}
  /** The study of a key, or why there is none. */
  find(key: string, kind: 'uid' | 'accession' | 'either'): { id: number } | { reason: string } {
    if (kind !== 'accession') {
      const id = this.images.studyIdByUid(key);
      if (id !== null) return { id };
      if (kind === 'uid') return { reason: `no study with StudyInstanceUID ${key} in the library` };
    }
    const ids = this.images.studyIdsByAccession(key);
    if (ids.length === 1) return { id: ids[0]! };
    if (ids.length > 1) return { reason: `accession ${key} belongs to several studies; use a StudyInstanceUID column` };
    return {
      reason: kind === 'accession' ? `no study with accession ${key} in the library` : `no study with accession or StudyInstanceUID ${key}`,
    };
  }
}

export function importReports(db: Db, target: string): ReportImportResult {
  const file = path.resolve(target);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new CleftError('invalid_input', `${file}: no such file or folder`);
  }
  if (stat.isDirectory()) return importTxtFolder(db, file);
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return importCsv(db, file);
  if (ext === '.txt') return importTxtFiles(db, file, [file]);
  throw new CleftError('invalid_input', `${file}: not a .csv or .txt report file, nor a folder of .txt reports`);
}

function importCsv(db: Db, file: string): ReportImportResult {
  let records;
  try {
    records = parseCsvRecords(readUtf8File(file), file);
  } catch (e) {
    throw new CleftError('invalid_input', e instanceof Error ? e.message : String(e));
  }
  const header = records[0];
  if (!header) throw new CleftError('invalid_input', `${file}: the CSV is empty`);
  const cols = header.cells.map(norm);
  const uidCol = cols.findIndex((c) => UID_COLUMNS.includes(c));
  const accCol = cols.findIndex((c) => ACCESSION_COLUMNS.includes(c));
  const textCol = cols.findIndex((c) => TEXT_COLUMNS.includes(c));
  const found = `the header has ${header.cells.map((c) => JSON.stringify(c)).join(', ')}`;
  if (uidCol < 0 && accCol < 0)
    throw new CleftError('invalid_input', `${file}: no study key column (accession, study_uid or StudyInstanceUID); ${found}`);
  if (textCol < 0) throw new CleftError('invalid_input', `${file}: no report column (report or text); ${found}`);

  const keys = new StudyKeys(new ImagesRepo(db));
  const repo = new ReportsRepo(db);
  const unmatched: Unmatched[] = [];
  const firstLine = new Map<number, number>();
  let matched = 0;
  db.transaction(() => {
    for (const rec of records.slice(1)) {
      const uid = uidCol >= 0 ? (rec.cells[uidCol] ?? '').trim() : '';
      const acc = accCol >= 0 ? (rec.cells[accCol] ?? '').trim() : '';
      const key = uid || acc;
      const miss = (reason: string) => unmatched.push({ file, row: rec.line, key, reason });
      if (!key) {
        miss('no study key (the accession / StudyInstanceUID cell is empty)');
        continue;
      }
      const text = (rec.cells[textCol] ?? '').trim();
      if (!text) {
        miss('the report is empty');
        continue;
      }
      const study = keys.find(key, uid ? 'uid' : 'accession');
      if ('reason' in study) {
        miss(study.reason);
        continue;
      }
      const earlier = firstLine.get(study.id);
      if (earlier !== undefined) {
        miss(`the same study as line ${earlier}, whose report was kept`);
        continue;
      }
      firstLine.set(study.id, rec.line);
      repo.upsert(study.id, text, file);
      matched++;
    }
  }).immediate();
  return { file, matched, unmatched };
}

function findTxt(dir: string, out: string[]): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) findTxt(p, out);
    else if (e.isFile() && e.name.toLowerCase().endsWith('.txt')) out.push(p);
  }
  return out;
}

function importTxtFolder(db: Db, dir: string): ReportImportResult {
  const files = findTxt(dir, []).sort();
  if (!files.length) throw new CleftError('invalid_input', `${dir}: no .txt report files in this folder or below it`);
  return { ...importTxtFiles(db, dir, files), file: dir };
}

/**
 * A .txt report belongs to the study whose DICOM files (already imported) are in the same folder;
 * failing that, its file name (without .txt) is the study's accession or StudyInstanceUID.
 */
function importTxtFiles(db: Db, root: string, files: readonly string[]): ReportImportResult {
  const images = new ImagesRepo(db);
  const keys = new StudyKeys(images);
  const repo = new ReportsRepo(db);
  const unmatched: Unmatched[] = [];
  const firstFile = new Map<number, string>();
  let matched = 0;
  db.transaction(() => {
    for (const file of files) {
      const dir = path.dirname(file);
      const key = path.basename(file);
      const miss = (reason: string) => unmatched.push({ file, row: 0, key, reason });
      let text: string;
      try {
        text = readUtf8File(file).trim();
      } catch (e) {
        // one unreadable report is listed; the others still import
        miss((e instanceof Error ? e.message : String(e)).replace(`${file}: `, ''));
        continue;
      }
      if (text.includes('\0')) {
        miss('contains a NUL byte; this is not a text report (binary, or saved as UTF-16?)');
        continue;
      }
      if (!text) {
        miss('the report is empty');
        continue;
      }
      // the files under the folder's prefix (an index range scan), then only those directly in it
      const rows = images.studyFilesUnder(dir + path.sep).filter((r) => path.dirname(r.file) === dir);
      const studies = [...new Set(rows.map((r) => r.studyId))];
      let studyId: number | null = null;
      if (studies.length === 1) studyId = studies[0]!;
      else if (studies.length > 1) {
        miss(`the folder holds DICOM files of ${studies.length} studies; name the file after the study's accession or StudyInstanceUID`);
        continue;
      } else {
        const study = keys.find(path.basename(file, path.extname(file)), 'either');
        if ('reason' in study) {
          miss(
            `no imported DICOM files beside it, and its name is not a study's accession or StudyInstanceUID (import the DICOM folder first)`,
          );
          continue;
        }
        studyId = study.id;
      }
      const earlier = firstFile.get(studyId);
      if (earlier !== undefined) {
        miss(`the same study as ${earlier}, whose report was kept`);
        continue;
      }
      firstFile.set(studyId, file);
      repo.upsert(studyId, text, file);
      matched++;
    }
  }).immediate();
  return { file: root, matched, unmatched };
}
