// Named splits of the library and the split every training uses. A created split groups studies by
// patient (PatientID; a study without one is its own group, and the result says so) or by study,
// stratified by the task's label of each group (splits.ts in src/native/cleft). An imported split
// reads a CSV whose `split` column says train / val / test per study, keyed like labels. Training
// takes a named split's train and val parts (never its test part) and refuses one in which a
// patient sits in two parts; without one it makes the seeded patient-level split itself.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { readSheet } from 'read-excel-file/node';
import { CleftError } from '../../common/errors';
import type {
  SplitCreateInput,
  SplitDeleteResult,
  SplitImportResult,
  SplitInfo,
  SplitPart,
  SplitReferences,
  TrainingSplitRecord,
} from '../../common/splits';
import { SplitCreateInput as SplitCreateSchema, SplitName } from '../../common/splits';
import type { Db } from '../db/database';
import { SplitsRepo, type StudyGroupRow } from '../db/splits-repo';
import { TasksRepo } from '../db/tasks-repo';
import { groupLabel, groupStratifiedSplit, groupsInSeveralParts, trainValSplit, SPLIT_PARTS } from '../../native/cleft/splits';
import { ImagesRepo } from '../db/images-repo';

/** The group of a study: its patient, or itself (by study, or when it has no PatientID). */
export function studyGroup(s: StudyGroupRow, by: 'patient' | 'study'): string {
  return by === 'patient' && s.patientId !== null ? `patient:${s.patientId}` : `study:${s.studyUid}`;
}

const fallbackNote = (n: number, of: number) => `${n} of ${of} studies have no PatientID: each of them is grouped by its StudyInstanceUID`;

/** Content hash of a split: its parts' sorted StudyInstanceUIDs. */
export function splitSha256(parts: Partial<Record<SplitPart, readonly string[]>>): string {
  const canonical = JSON.stringify(Object.fromEntries(SPLIT_PARTS.filter((p) => parts[p]).map((p) => [p, [...parts[p]!].sort()])));
  return crypto.createHash('sha256').update(canonical).digest('hex');
}

/** `splits.create`: every study of the library, by patient (or study), stratified by the task's label. */
export function createSplit(db: Db, input: SplitCreateInput): SplitInfo {
  const parsed = SplitCreateSchema.safeParse(input);
  if (!parsed.success)
    throw new CleftError(
      'invalid_input',
      `split: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')}`,
    );
  const o = parsed.data;
  const task = new TasksRepo(db).get(o.taskId);
  const classes = task.classes.map((c) => c.name);
  const repo = new SplitsRepo(db);
  const studies = repo.studies();
  if (studies.length === 0) throw new CleftError('invalid_input', 'the library has no studies to split: import DICOM first');
  // a study's label: the most frequent label of its labelled images
  const imageLabels = new Map<number, number[]>();
  for (const im of new ImagesRepo(db).labelled(o.taskId)) {
    const y = classes.indexOf(im.label);
    if (y >= 0) imageLabels.set(im.studyId, [...(imageLabels.get(im.studyId) ?? []), y]);
  }
  const labels = studies.map((s) => groupLabel(imageLabels.get(s.studyId) ?? []));
  const groups = studies.map((s) => studyGroup(s, o.by));
  const [, val, test] = o.fractions;
  const rows = groupStratifiedSplit(groups, labels, { val, test }, o.seed);
  const parts: { studyId: number; part: SplitPart }[] = [];
  const uids: Record<SplitPart, string[]> = { train: [], val: [], test: [] };
  for (const p of SPLIT_PARTS)
    for (const i of rows[p]) {
      parts.push({ studyId: studies[i]!.studyId, part: p });
      uids[p].push(studies[i]!.studyUid);
    }
  const notes: string[] = [];
  const missing = studies.filter((s) => s.patientId === null).length;
  if (o.by === 'patient' && missing) notes.push(fallbackNote(missing, studies.length));
  if (o.by === 'study' && new Set(studies.map((s) => studyGroup(s, 'patient'))).size < studies.length)
    notes.push('split by study: studies of one patient may sit in different parts, and training refuses such a split');
  const unlabelled = labels.filter((y) => y === null).length;
  if (unlabelled) notes.push(`${unlabelled} of ${studies.length} studies have no "${task.name}" label and were split as one more stratum`);
  return repo.create(
    {
      name: o.name,
      source: 'created',
      taskId: o.taskId,
      params: { by: o.by, fractions: o.fractions, seed: o.seed, task: task.name },
      sha256: splitSha256(uids),
      notes,
    },
    parts,
  );
}

/** Header names, compared without case, spaces, '_' and '-'. */
const norm = (h: string) => h.toLowerCase().replace(/[\s_-]/g, '');
const KEY_COLUMNS = {
  study: ['studyinstanceuid', 'studyuid'],
  accession: ['accessionnumber', 'accession', 'accanon'],
  patient: ['patientid', 'empianon'],
} as const;
const PART_ALIASES: Record<string, SplitPart> = {
  train: 'train',
  training: 'train',
  val: 'val',
  valid: 'val',
  validate: 'val',
  validation: 'val',
  test: 'test',
  testing: 'test',
};

/** Rows of a CSV or TSV (UTF-8, BOM or not, delimiter detected from the header), with their line. */
function readTable(file: string): { header: string[]; rows: { line: number; cells: string[] }[] } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(fs.readFileSync(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CleftError('invalid_input', `${file}: no such file`);
    if (code) throw e;
    throw new CleftError('invalid_input', `${file}: not UTF-8 text (save the spreadsheet as CSV UTF-8)`);
  }
  const body = text.replace(/^\uFEFF/, '');
  const first = body.split(/\r?\n/, 1)[0] ?? '';
  const delimiter = [',', '\t', ';'].map((d) => ({ d, n: first.split(d).length })).sort((a, b) => b.n - a.n)[0]!.d;
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(body, { delimiter, info: true, skip_empty_lines: true, trim: true, relax_quotes: false }) as unknown as typeof records;
  } catch (e) {
    throw new CleftError('invalid_input', `${file}: ${(e as Error).message}`);
  }
  const [head, ...rest] = records;
  if (!head) throw new CleftError('invalid_input', `${file}: the file is empty`);
  // csv-parse counts the line a record ends on; a quoted cell may span lines, so step back over them
  const startLine = (r: (typeof records)[number]) => r.info.lines - r.record.reduce((n, c) => n + (c.match(/\n/g)?.length ?? 0), 0);
  return { header: head.record, rows: rest.map((r) => ({ line: startLine(r), cells: r.record })) };
}

/** The first sheet of an XLSX workbook as text cells; row r is line r + 1 (the header is line 1). */
async function readXlsx(file: string): Promise<{ header: string[]; rows: { line: number; cells: string[] }[] }> {
  let data: unknown[][];
  try {
    data = (await readSheet(file)) as unknown[][];
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CleftError('invalid_input', `${file}: no such file`);
    throw new CleftError('invalid_input', `${file}: not a readable .xlsx workbook (${(e as Error).message})`);
  }
  const text = (v: unknown) => (v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : String(v).trim());
  const [head, ...rest] = data;
  if (!head) throw new CleftError('invalid_input', `${file}: the first sheet is empty`);
  return {
    header: head.map(text),
    rows: rest.map((r, i) => ({ line: i + 2, cells: r.map(text) })).filter((r) => r.cells.some((c) => c !== '')),
  };
}

/** What names a split, as one clause: "run #3 (prompt-learning: …), job #5 (prompt-learn, done)". */
export function describeReferences(r: SplitReferences): string {
  return [...r.runs.map((x) => `run #${x.id} (${x.kind}: ${x.name})`), ...r.jobs.map((x) => `job #${x.id} (${x.kind}, ${x.status})`)].join(
    ', ',
  );
}

/**
 * `splits.delete`: removes a split. Refused (conflict, naming them) while a run or job names it,
 * unless `force`: the runs keep the StudyInstanceUIDs they recorded, and their evaluation falls
 * back to "outside training and validation"; a job still asking for it fails when it runs.
 */
export function deleteSplit(db: Db, name: string, force = false): SplitDeleteResult {
  const repo = new SplitsRepo(db);
  return db
    .transaction(() => {
      const split = repo.get(name);
      const references = repo.referencesTo(name);
      if (!force && (references.runs.length || references.jobs.length))
        throw new CleftError(
          'conflict',
          `split "${name}" is used by ${describeReferences(references)}; delete it anyway with --force (force: true): ` +
            'the runs keep the studies they recorded',
        );
      repo.delete(split.id);
      return { deleted: split, references };
    })
    .immediate();
}

/**
 * `splits.import`: a CSV, TSV or XLSX (first sheet) with a `split` column (train / val / test) keyed
 * by StudyInstanceUID, AccessionNumber or PatientID.
 */
export async function importSplit(db: Db, target: string, name: string): Promise<SplitImportResult> {
  const named = SplitName.safeParse(name);
  if (!named.success) throw new CleftError('invalid_input', `split name "${name}": ${named.error.issues[0]!.message}`);
  const file = path.resolve(target);
  const ext = path.extname(file).toLowerCase();
  if (!['.csv', '.tsv', '.txt', '.xlsx'].includes(ext)) throw new CleftError('invalid_input', `${file}: not a .csv, .tsv or .xlsx file`);
  const { header, rows } = ext === '.xlsx' ? await readXlsx(file) : readTable(file);
  const cols = header.map(norm);
  const col = (names: readonly string[]) => cols.findIndex((c) => names.includes(c));
  const partCol = col(['split', 'part', 'partition']);
  const keyCols = { study: col(KEY_COLUMNS.study), accession: col(KEY_COLUMNS.accession), patient: col(KEY_COLUMNS.patient) };
  const found = `the header has ${header.map((c) => JSON.stringify(c)).join(', ')}`;
  if (partCol < 0) throw new CleftError('invalid_input', `${file}: no split column (split = train, val or test); ${found}`);
  if (keyCols.study < 0 && keyCols.accession < 0 && keyCols.patient < 0)
    throw new CleftError('invalid_input', `${file}: no key column (StudyInstanceUID, AccessionNumber or PatientID); ${found}`);
  const repo = new SplitsRepo(db);
  const studies = repo.studies();
  const index = {
    study: new Map<string, StudyGroupRow[]>(),
    accession: new Map<string, StudyGroupRow[]>(),
    patient: new Map<string, StudyGroupRow[]>(),
  };
  for (const s of studies) {
    index.study.set(s.studyUid, [s]);
    if (s.accession) index.accession.set(s.accession, [...(index.accession.get(s.accession) ?? []), s]);
    if (s.patientId) index.patient.set(s.patientId, [...(index.patient.get(s.patientId) ?? []), s]);
  }
  const assigned = new Map<number, { part: SplitPart; line: number }>();
  const unmatched: SplitImportResult['unmatched'] = [];
  const refused: string[] = [];
  for (const r of rows) {
    const rawPart = (r.cells[partCol] ?? '').toLowerCase();
    const part = PART_ALIASES[rawPart];
    // the most specific key the row has
    const kind = (['study', 'accession', 'patient'] as const).find((k) => keyCols[k] >= 0 && (r.cells[keyCols[k]] ?? '') !== '');
    const key = kind ? r.cells[keyCols[kind]]! : '';
    if (!part) {
      refused.push(`line ${r.line}: split "${r.cells[partCol] ?? ''}" is not train, val or test`);
      continue;
    }
    if (!kind) {
      refused.push(`line ${r.line}: no StudyInstanceUID, AccessionNumber or PatientID`);
      continue;
    }
    const matches = index[kind].get(key);
    if (!matches) {
      unmatched.push({
        line: r.line,
        key,
        reason: `no study with ${{ study: 'StudyInstanceUID', accession: 'AccessionNumber', patient: 'PatientID' }[kind]} ${key} in the library`,
      });
      continue;
    }
    for (const s of matches) {
      const before = assigned.get(s.studyId);
      if (before && before.part !== part)
        refused.push(`line ${r.line}: study ${s.studyUid} is put in ${part}, but line ${before.line} put it in ${before.part}`);
      else if (!before) assigned.set(s.studyId, { part, line: r.line });
    }
  }
  if (refused.length)
    throw new CleftError(
      'invalid_input',
      `${file}: nothing imported, ${refused.length} row(s) refused:\n  ${refused.slice(0, 50).join('\n  ')}${refused.length > 50 ? `\n  … and ${refused.length - 50} more` : ''}`,
    );
  if (assigned.size === 0)
    throw new CleftError(
      'invalid_input',
      `${file}: no row matches a study of the library (${unmatched.length} rows unmatched); nothing imported`,
    );
  const byId = new Map(studies.map((s) => [s.studyId, s]));
  const parts = [...assigned].map(([studyId, a]) => ({ studyId, part: a.part }));
  const uids: Record<SplitPart, string[]> = { train: [], val: [], test: [] };
  for (const p of parts) uids[p.part].push(byId.get(p.studyId)!.studyUid);
  const crossing = groupsInSeveralParts(
    parts.flatMap((p) => {
      const s = byId.get(p.studyId)!;
      return s.patientId === null ? [] : [{ group: s.patientId, part: p.part }];
    }),
  );
  const warnings: string[] = [];
  if (crossing.length)
    warnings.push(
      `${crossing.length} patient(s) have studies in two parts; training refuses this split until they sit in one: ` +
        crossing
          .slice(0, 20)
          .map((c) => `${c.group} (${c.parts.join(', ')})`)
          .join('; ') +
        (crossing.length > 20 ? `; … and ${crossing.length - 20} more` : ''),
    );
  if (unmatched.length) warnings.push(`${unmatched.length} row(s) match no study of the library and were left out`);
  const missing = parts.filter((p) => byId.get(p.studyId)!.patientId === null).length;
  const notes = [...warnings];
  if (missing) notes.push(fallbackNote(missing, parts.length));
  const split = repo.create({ name, source: 'imported', taskId: null, params: { file }, sha256: splitSha256(uids), notes }, parts);
  return { split, unmatched, patientsInSeveralParts: crossing.map((c) => ({ patientId: c.group, parts: c.parts })), warnings };
}

/**
 * The rows of a named split's train and val parts, given each row's StudyInstanceUID (rows of its
 * test part or outside it are left out and counted in the notes); refused when a patient of the
 * split sits in two parts.
 */
export function namedSplitRows(db: Db, name: string, rowStudyUids: readonly string[]): TrainingSplit {
  const repo = new SplitsRepo(db);
  const split = repo.get(name);
  const members = repo.studiesOf(split.id);
  const crossing = groupsInSeveralParts(members.flatMap((s) => (s.patientId === null ? [] : [{ group: s.patientId, part: s.part }])));
  if (crossing.length)
    throw new CleftError(
      'invalid_input',
      `split "${split.name}" puts ${crossing.length === 1 ? 'a patient' : `${crossing.length} patients`} in two parts, ` +
        `which would train and evaluate on the same patient: ` +
        crossing
          .slice(0, 10)
          .map((c) => `patient ${c.group} is in ${c.parts.join(' and ')}`)
          .join('; ') +
        (crossing.length > 10 ? `; … and ${crossing.length - 10} more` : '') +
        '. Fix the split file and import it again, or create a split by patient (cleft splits create NAME --task T).',
    );
  const partOf = new Map(members.map((s) => [s.studyUid, s.part]));
  const train: number[] = [];
  const val: number[] = [];
  let test = 0;
  let outside = 0;
  rowStudyUids.forEach((u, i) => {
    const p = partOf.get(u);
    if (p === 'train') train.push(i);
    else if (p === 'val') val.push(i);
    else if (p === 'test') test++;
    else outside++;
  });
  if (train.length === 0)
    throw new CleftError('invalid_input', `split "${split.name}": none of the ${rowStudyUids.length} training rows is in its train part`);
  const notes: string[] = [];
  const testStudies = members.filter((m) => m.part === 'test').length;
  if (testStudies) notes.push(`the split's ${testStudies} test studies were never trained or validated on`);
  if (test) notes.push(`${test} row(s) of the split's test part were left out`);
  if (outside) notes.push(`${outside} row(s) of studies outside split "${split.name}" were left out`);
  const uidsOf = (idx: readonly number[]) => [...new Set(idx.map((i) => rowStudyUids[i]!))].sort();
  return {
    train,
    val,
    record: {
      name: split.name,
      sha256: split.sha256,
      by: 'named',
      seed: null,
      trainStudies: uidsOf(train),
      valStudies: uidsOf(val),
      notes,
    },
  };
}

/**
 * The studies of a named split's test part (none without a split), so a training leaves them out
 * before reading a single image of them. An unknown name is refused here, before any work.
 */
export function splitTestStudies(db: Db, name: string | null | undefined): ReadonlySet<number> {
  if (name === null || name === undefined) return new Set();
  const repo = new SplitsRepo(db);
  return new Set(
    repo
      .studiesOf(repo.get(name).id)
      .filter((s) => s.part === 'test')
      .map((s) => s.studyId),
  );
}

/** The rows a training uses, and what its run records. */
export interface TrainingSplit {
  train: number[];
  val: number[];
  record: TrainingSplitRecord;
}

/**
 * The split of a training's rows (images or image-report pairs, each with its study): the named
 * split's train and val parts (rows of its test part or outside it are left out), refused when a
 * patient sits in two parts; else the seeded split by patient (StudyInstanceUID without PatientID),
 * stratified by the rows' labels.
 */
export function trainingSplit(
  db: Db,
  rows: readonly { studyId: number }[],
  labels: readonly number[],
  // split is absent from the params of a job queued before splits existed
  o: { split?: string | null | undefined; valFraction: number; seed: number },
): TrainingSplit {
  const repo = new SplitsRepo(db);
  const studyIds = [...new Set(rows.map((r) => r.studyId))];
  const studies = new Map(repo.studies(studyIds).map((s) => [s.studyId, s]));
  const uidsOf = (idx: readonly number[]) => [...new Set(idx.map((i) => studies.get(rows[i]!.studyId)!.studyUid))].sort();
  if (o.split !== null && o.split !== undefined)
    return namedSplitRows(
      db,
      o.split,
      rows.map((r) => studies.get(r.studyId)!.studyUid),
    );
  const groups = rows.map((r) => studyGroup(studies.get(r.studyId)!, 'patient'));
  const { train, val } = trainValSplit(labels, o.valFraction, o.seed, groups);
  const notes: string[] = [];
  const missing = [...studies.values()].filter((s) => s.patientId === null).length;
  if (missing) notes.push(fallbackNote(missing, studies.size));
  const trainStudies = uidsOf(train);
  const valStudies = uidsOf(val);
  return {
    train,
    val,
    record: {
      name: null,
      sha256: splitSha256({ train: trainStudies, val: valStudies }),
      by: 'patient',
      seed: o.seed,
      trainStudies,
      valStudies,
      notes,
    },
  };
}

/**
 * What a bundle entry (prompt set, adaptor) or a LoRA bundle's manifest records of its split: the
 * StudyInstanceUIDs trained and validated on, with a named split's name and hash or the automatic
 * split's seed, so a library that imports it leaves those studies out of its evaluation.
 */
export function bundleSplitProvenance(r: TrainingSplitRecord): Record<string, unknown> {
  return r.name !== null
    ? { name: r.name, sha256: r.sha256, trainStudies: r.trainStudies, valStudies: r.valStudies }
    : { name: null, sha256: r.sha256, by: r.by, seed: r.seed, trainStudies: r.trainStudies, valStudies: r.valStudies };
}

/** One line saying which split a training used (bundle descriptions, CLI output). */
export function splitSummary(r: TrainingSplitRecord): string {
  const sizes = `${r.trainStudies.length} training and ${r.valStudies.length} validation studies`;
  return r.name !== null
    ? `split "${r.name}" (sha256 ${r.sha256.slice(0, 12)}…): ${sizes}`
    : `automatic split by patient, seed ${r.seed} (sha256 ${r.sha256.slice(0, 12)}…): ${sizes}`;
}
