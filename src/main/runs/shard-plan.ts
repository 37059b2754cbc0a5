// Which images a shard classifies. The input is a list of DICOM files (read on any machine, no
// library needed) or a list of StudyInstanceUIDs of a library; either becomes studies with their
// images, and shard K of N takes the studies at positions K-1, K-1+N, K-1+2N, ... of the sorted
// StudyInstanceUIDs: an exam's images stay together (exam-level results need all of them), the
// shards differ by at most one study, and the assignment depends on the set of inputs alone, never
// on the order of the list.
import fs from 'node:fs';
import path from 'node:path';
import { DicomError } from '../dicom/errors';
import { readHeaders } from '../dicom/read-headers';
import { DB_FILE_NAME, openDatabase } from '../db/database';
import { ImagesRepo } from '../db/images-repo';
import { inputsSha256, type ResultsImage, type ResultsSkipped } from './results-file';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** "K/N" with 1 <= K <= N; anything else is refused with the rule. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new Error(`--shard ${text}: expected K/N, e.g. 2/8 (shards are numbered 1 to N)`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new Error(`--shard ${text}: N must be at least 1`);
  if (index < 1 || index > count) throw new Error(`--shard ${text}: K must be between 1 and ${count} (shards are numbered 1 to N)`);
  return { index, count };
}

export interface PlannedStudy {
  studyInstanceUid: string;
  /** Its classifiable images, by SOP Instance UID. */
  images: ResultsImage[];
}

export interface ShardPlan {
  shard: Shard;
  /** This shard's studies with at least one classifiable image, sorted by UID. */
  studies: PlannedStudy[];
  /** Inputs this shard does not classify, with the reason (files without a study go to shard 1). */
  skipped: ResultsSkipped[];
  /** Studies of the whole input (every shard). */
  totalStudies: number;
  inputsSha256: string;
}

/** The non-blank, non-comment lines of a list file, with their line numbers. */
function listLines(file: string): { line: number; text: string }[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read the list (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return text
    .split(/\r?\n/)
    .map((t, i) => ({ line: i + 1, text: t.trim() }))
    .filter((l) => l.text !== '' && !l.text.startsWith('#'));
}

/** An input image of a study, or (with a reason) one of its files that is not classified. */
interface Candidate extends ResultsImage {
  skipReason: string | null;
}

const FOR_PROCESSING_REASON = 'FOR PROCESSING image: not used for classification';

/** Cuts whole studies into the shard; what is skipped for a study goes with the study. */
function cut(shard: Shard, candidates: Candidate[], unplaced: ResultsSkipped[]): ShardPlan {
  const byStudy = new Map<string, Candidate[]>();
  for (const c of candidates) byStudy.set(c.studyInstanceUid, [...(byStudy.get(c.studyInstanceUid) ?? []), c]);
  const uids = [...byStudy.keys()].sort();
  const mine = uids.filter((_, i) => i % shard.count === shard.index - 1);
  const studies: PlannedStudy[] = [];
  const skipped: ResultsSkipped[] = shard.index === 1 ? [...unplaced] : [];
  for (const uid of mine) {
    const all = byStudy.get(uid)!.sort((a, b) => (a.sopInstanceUid < b.sopInstanceUid ? -1 : a.sopInstanceUid > b.sopInstanceUid ? 1 : 0));
    const images: ResultsImage[] = [];
    for (const { skipReason, ...image } of all) {
      if (skipReason === null) images.push(image);
      else skipped.push({ file: image.file, sopInstanceUid: image.sopInstanceUid || null, studyInstanceUid: uid, reason: skipReason });
    }
    if (images.length) studies.push({ studyInstanceUid: uid, images });
  }
  return { shard, studies, skipped, totalStudies: uids.length, inputsSha256: inputsSha256(uids) };
}

const side = (s: string | null): 'L' | 'R' | null => (s === 'L' || s === 'R' ? s : null);

/**
 * A list of DICOM files, one path a line (relative paths are relative to the list's folder; blank
 * lines and lines starting with # are ignored). Every header is read (the shard needs every file's
 * study to cut the same shards as the others). A path that does not exist fails, naming its line; a
 * file that is not a usable DICOM image, or a second file of the same SOP instance, is skipped
 * with the reason, as an import skips it.
 */
export async function planFromDicomList(listFile: string, shard: Shard): Promise<ShardPlan> {
  const base = path.dirname(path.resolve(listFile));
  const seen = new Set<string>();
  const files: string[] = [];
  for (const { line, text } of listLines(listFile)) {
    const file = path.resolve(base, text);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      throw new Error(`${listFile} line ${line}: ${file} does not exist`);
    }
    if (!stat.isFile()) throw new Error(`${listFile} line ${line}: ${file} is not a file`);
    if (seen.has(file)) continue;
    seen.add(file);
    files.push(file);
  }
  files.sort(); // which copy of a duplicated SOP instance is kept must not depend on the list's order
  const headers = await readHeaders(files);
  const candidates: Candidate[] = [];
  const unplaced: ResultsSkipped[] = [];
  const bySop = new Map<string, string>();
  headers.forEach((h, i) => {
    const file = files[i]!;
    const refuse = (reason: string, sop: string | null = null, study: string | null = null): void => {
      // Problems of a study travel with it; a file without one is reported once, by shard 1.
      if (study)
        candidates.push({ file, sopInstanceUid: sop ?? '', studyInstanceUid: study, laterality: null, view: null, skipReason: reason });
      else unplaced.push({ file, sopInstanceUid: sop, studyInstanceUid: study, reason });
    };
    if (h instanceof DicomError) return refuse(h.summary);
    if (!h.studyInstanceUID) return refuse('no StudyInstanceUID');
    if (!h.sopInstanceUID) return refuse('no SOPInstanceUID', null, h.studyInstanceUID);
    if (!h.hasPixelData) return refuse('no pixel data (not an image)', h.sopInstanceUID, h.studyInstanceUID);
    const first = bySop.get(h.sopInstanceUID);
    if (first) return refuse(`the same SOP instance as ${first} (kept)`, h.sopInstanceUID, h.studyInstanceUID);
    bySop.set(h.sopInstanceUID, file);
    candidates.push({
      file,
      sopInstanceUid: h.sopInstanceUID,
      studyInstanceUid: h.studyInstanceUID,
      laterality: side(h.breastSide),
      view: h.mammoView,
      skipReason: h.forProcessing ? FOR_PROCESSING_REASON : null,
    });
  });
  return cut(shard, candidates, unplaced);
}

/**
 * A list of StudyInstanceUIDs of the library at `dataDir`, one a line: the library is only read
 * (the images' files must be readable where the shard runs). A UID the library does not hold
 * fails, naming its line.
 */
export function planFromStudyList(listFile: string, dataDir: string, shard: Shard): ShardPlan {
  const dbFile = path.join(dataDir, DB_FILE_NAME);
  if (!fs.existsSync(dbFile)) throw new Error(`--study-list needs a library: no ${dbFile} (give --data-dir, or use --dicom-list)`);
  const db = openDatabase(dbFile, { readonly: true });
  try {
    const images = new ImagesRepo(db);
    const candidates: Candidate[] = [];
    const seen = new Set<string>();
    for (const { line, text } of listLines(listFile)) {
      if (seen.has(text)) continue;
      seen.add(text);
      const rows = images.imagesOfStudyUid(text);
      if (!rows.length) throw new Error(`${listFile} line ${line}: study ${text} is not in the library ${dbFile}`);
      for (const r of rows)
        candidates.push({
          file: r.filePath,
          sopInstanceUid: r.sopInstanceUid,
          studyInstanceUid: text,
          laterality: side(r.laterality),
          view: r.viewPosition,
          skipReason: r.forProcessing ? FOR_PROCESSING_REASON : null,
        });
    }
    return cut(shard, candidates, []);
  } finally {
    db.close();
  }
}
