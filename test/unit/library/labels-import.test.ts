// Label spreadsheets in and out (issue #12) on real files (test/fixtures/labels: CSV with commas,
// tabs, semicolons, a BOM, quoted commas and line breaks, CRLF; XLSX written by openpyxl) and a real
// SQLite library of DICOM studies written by dcmtk: every rule of the import, its undo, the export
// round trip and the CLI.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/main/api/backend';
import type { MethodInput, MethodName, MethodOutput } from '../../../src/common/contract';
import type { LabelImportOptions } from '../../../src/common/label-files';
import { callApi } from '../../helpers/api';
import { ROOT, cliOutcome } from '../../helpers/cli';
import { requireDump2dcm, writeFourViewExam, writeMgInstance } from '../../helpers/dcmtk';
import { testBackend } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

const FIX = path.join(ROOT, 'test/fixtures/labels');
const fx = (name: string) => path.join(FIX, name);
const uid = (n: number) => `1.2.826.0.1.3680043.9.7777.${n}`;

let source: string;
let b: Backend;
let dataDir: string;
const call = <M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>> => callApi(b, method, input);

/** Exams 1-3 of patients P1-P3, exam 4 as P3's second study, and two one-image studies sharing accession DUP. */
function writeSource(): string {
  const dir = tmpDir('cleft-label-dicom-');
  writeFourViewExam(dir, 1);
  writeFourViewExam(dir, 2);
  writeFourViewExam(dir, 3);
  writeFourViewExam(dir, 4, 'P3');
  for (const k of [1, 2])
    writeMgInstance(path.join(dir, `dup${k}`, 'IM1'), {
      sopInstanceUid: `1.2.826.0.1.3680043.9.8888.${k}.1.1`,
      studyUid: `1.2.826.0.1.3680043.9.8888.${k}`,
      seriesUid: `1.2.826.0.1.3680043.9.8888.${k}.1`,
      patientId: `D${k}`,
      accession: 'DUP',
    });
  return dir;
}

async function library(dir = tmpDir()): Promise<Backend> {
  const backend = testBackend(dir);
  const job = await backend.jobs.waitFor((await callApi(backend, 'library.import', { paths: [source] })).id);
  if (job.error) throw new Error(job.error);
  return backend;
}

let taskSeq = 0;
/** A fresh breast-scope task with classes A-D (each test its own, so they share one library). */
async function newTask(classes = ['A', 'B', 'C', 'D']): Promise<number> {
  const t = await call('tasks.create', {
    name: `T${++taskSeq}`,
    scope: 'breast',
    classes: classes.map((c) => ({ name: c, label: `class ${c}`, prompts: [`a mammogram of class ${c}`] })),
  });
  return t.id;
}

interface Row {
  id: number;
  study: string;
  scope: string;
  sop: string | null;
  laterality: string | null;
  class_name: string;
  annotator: string;
  created_at: string;
}
/** A task's labels straight from SQLite, in a stable order. */
function labelsOf(backend: Backend, taskId: number): Row[] {
  return backend.db
    .prepare(
      `SELECT l.id, s.study_uid AS study, l.scope, i.sop_instance_uid AS sop, l.laterality, l.class_name, l.annotator, l.created_at
       FROM labels l JOIN studies s ON s.id = l.study_ref LEFT JOIN instances i ON i.id = l.instance_ref
       WHERE l.task_ref = ? ORDER BY s.study_uid, l.scope, l.laterality, i.sop_instance_uid`,
    )
    .all(taskId) as Row[];
}
const brief = (rows: Row[]) =>
  rows.map((r) => `${r.study.split('.').at(-1)} ${r.scope} ${r.sop?.split('.').slice(-1)[0] ?? ''}${r.laterality ?? ''} ${r.class_name}`);

const importFile = (file: string, opts: Omit<LabelImportOptions, 'taskId'> & { taskId: number }, apply = true) =>
  call(apply ? 'labels.importApply' : 'labels.importPreview', { source: { path: file }, ...opts });

beforeAll(async () => {
  requireDump2dcm();
  source = writeSource();
  dataDir = tmpDir();
  b = await library(dataDir);
}, 120_000);
afterAll(() => {
  b?.close();
  removeTmpDirs();
});

describe('label files: formats', () => {
  it('reads an EMBED-style comma CSV keyed by acc_anon with side (B = both breasts) and --map', async () => {
    const taskId = await newTask();
    const r = await importFile(fx('embed-comma.csv'), { taskId, map: '1=A,2=B,3=C,4=D', annotator: 'site' });
    expect(r).toMatchObject({ format: 'csv', delimiter: ',', written: true, blocked: false, dryRun: false });
    expect(r.columns).toMatchObject({ label: 'tissueden', laterality: 'side', view: null });
    expect(r.columns.keys).toEqual([
      { key: 'accession', column: 'acc_anon' },
      { key: 'patient', column: 'empi_anon' },
    ]);
    expect(r.counts).toEqual({ rows: 3, applied: 4, created: 4, replaced: 0, unchanged: 0, kept: 0, refused: 0, ready: 4 });
    expect(brief(labelsOf(b, taskId))).toEqual(['1 breast L A', '1 breast R B', '2 breast L C', '2 breast R C']);
    expect(labelsOf(b, taskId).every((l) => l.annotator === 'site')).toBe(true);
  });

  it('reads a TSV of exam labels keyed by StudyInstanceUID', async () => {
    const taskId = await newTask();
    const r = await importFile(fx('exam-tab.tsv'), { taskId });
    expect(r).toMatchObject({ format: 'tsv', delimiter: '\t' });
    expect(r.counts.applied).toBe(2);
    expect(brief(labelsOf(b, taskId))).toEqual(['1 exam  B', '2 exam  D']);
  });

  it('reads semicolons, a BOM and CRLF; laterality with a view labels that one image', async () => {
    const taskId = await newTask();
    const r = await importFile(fx('image-semicolon-bom.csv'), { taskId });
    expect(r).toMatchObject({ format: 'csv', delimiter: ';' });
    expect(r.columns).toMatchObject({
      keys: [{ key: 'accession', column: 'AccessionNumber' }],
      laterality: 'ImageLaterality',
      view: 'ViewPosition',
    });
    // exam 1's LCC is its 2nd image, exam 2's RMLO its 3rd
    expect(brief(labelsOf(b, taskId))).toEqual(['1 image 2 C', '2 image 3 D']);
  });

  it('names the line a record starts on when quoted fields hold commas and line breaks; a refused row blocks the file', async () => {
    const taskId = await newTask();
    const r = await importFile(fx('quoted-multiline.csv'), { taskId });
    expect(r.blocked).toBe(true);
    expect(r.written).toBe(false);
    expect(r.counts).toMatchObject({ rows: 2, applied: 0, refused: 1, ready: 1 });
    expect(r.refused).toEqual([
      { line: 4, column: 'class', value: 'Z', reason: expect.stringMatching(/^unknown class: "Z" is not a class of T\d+ \(A, B, C, D\)/) },
    ]);
    expect(r.unmapped).toEqual([{ value: 'Z', rows: 1 }]);
    expect(labelsOf(b, taskId)).toEqual([]);
    const skipped = await importFile(fx('quoted-multiline.csv'), { taskId, skipBadRows: true });
    expect(skipped).toMatchObject({ blocked: false, written: true, counts: { applied: 1, refused: 1 } });
    expect(brief(labelsOf(b, taskId))).toEqual(['1 exam  A']);
  });

  it('reads the first XLSX sheet, or the one --sheet names; numbers are read as written', async () => {
    const taskId = await newTask();
    const r = await importFile(fx('labels.xlsx'), { taskId, map: '1=A,2=B,3=C,4=D', skipBadRows: true });
    expect(r).toMatchObject({ format: 'xlsx', sheet: 'density', delimiter: null });
    expect(r.refused).toEqual([
      { line: 5, column: 'acc_anon', value: 'A9', reason: 'matches nothing: no study with accession A9 in the library' },
    ]);
    expect(brief(labelsOf(b, taskId))).toEqual(['1 breast L D', '1 breast R D', '3 breast L B', '3 breast R B']);

    const birads = (await call('tasks.list', {})).find((t) => t.name === 'BI-RADS assessment')!;
    const s = await importFile(fx('labels.xlsx'), { taskId: birads.id, sheet: 'birads' });
    expect(s).toMatchObject({ sheet: 'birads', counts: { applied: 2 } });
    expect(brief(labelsOf(b, birads.id))).toEqual(['1 exam  1', '2 exam  2']);
    await expect(importFile(fx('labels.xlsx'), { taskId, sheet: 'nope' })).rejects.toThrow(
      /labels\.xlsx: no sheet named "nope" \(the workbook has "density", "birads"\)/,
    );
  });

  it('takes the file as uploaded bytes (plain or gzip, as the Labels page sends it) with the same report', async () => {
    const taskId = await newTask();
    const bytes = fs.readFileSync(fx('labels.xlsx'));
    const opts = { taskId, map: '1=A,2=B,3=C,4=D', skipBadRows: true };
    const byPath = await importFile(fx('labels.xlsx'), opts, false);
    const plain = await call('labels.importPreview', {
      source: { fileName: 'labels.xlsx', dataBase64: bytes.toString('base64') },
      ...opts,
    });
    const zipped = await call('labels.importPreview', {
      source: { fileName: 'labels.xlsx', dataBase64: zlib.gzipSync(bytes).toString('base64'), gzip: true },
      ...opts,
    });
    expect({ ...plain, file: byPath.file }).toEqual(byPath);
    expect(zipped).toEqual(plain);
    expect(plain.file).toBe('labels.xlsx');
    await expect(
      call('labels.importPreview', { source: { fileName: 'x.csv', dataBase64: bytes.toString('base64'), gzip: true }, ...opts }),
    ).rejects.toThrow(/x\.csv: the upload is not valid gzip/);
    expect(labelsOf(b, taskId)).toEqual([]);
  });

  it('refuses files that are not UTF-8 CSV/TSV or XLSX, and empty ones, naming file and line; the library is unchanged', async () => {
    const taskId = await newTask();
    await expect(importFile(fx('latin1.csv'), { taskId })).rejects.toThrow(
      /latin1\.csv: line 3: not UTF-8 text \(byte 0xE9 at offset \d+\)/,
    );
    await expect(importFile(fx('not-a-workbook.zip'), { taskId })).rejects.toThrow(/not-a-workbook\.zip: not a readable XLSX workbook/);
    const dicom = path.join(source, 'exam1', 'IM1');
    await expect(importFile(dicom, { taskId })).rejects.toThrow(/IM1: line 1: contains a NUL byte; not a CSV\/TSV\/XLSX file/);
    const empty = path.join(tmpDir(), 'empty.csv');
    fs.writeFileSync(empty, '');
    await expect(importFile(empty, { taskId })).rejects.toThrow(/empty\.csv: the file is empty/);
    fs.writeFileSync(empty, '\ufeff\r\n\r\n');
    await expect(importFile(empty, { taskId })).rejects.toThrow(/empty\.csv: the file is empty/);
    await expect(importFile(path.join(tmpDir(), 'missing.csv'), { taskId })).rejects.toThrow(/missing\.csv: no such file/);
    expect(labelsOf(b, taskId)).toEqual([]);
  });
});

describe('label files: rules', () => {
  function csv(text: string): string {
    const file = path.join(tmpDir(), 'labels.csv');
    fs.writeFileSync(file, text);
    return file;
  }

  it('names unknown columns given in flags, missing key or label columns, and a --map to a class outside the task', async () => {
    const taskId = await newTask();
    const file = csv(`StudyInstanceUID,grade\n${uid(1)},A\n`);
    await expect(importFile(file, { taskId, labelColumn: 'density' })).rejects.toThrow(
      /labels\.csv: --label-column "density": no such column; the header \(line 1\) has "StudyInstanceUID", "grade"/,
    );
    await expect(importFile(file, { taskId })).rejects.toThrow(/no label column .*name it with --label-column/);
    await expect(importFile(file, { taskId, labelColumn: 'grade', key: 'sop' })).rejects.toThrow(/--key sop: no SOPInstanceUID/);
    await expect(importFile(csv('foo,class\nx,A\n'), { taskId })).rejects.toThrow(/no key column/);
    await expect(importFile(file, { taskId, labelColumn: 'grade', map: '1=A,5=E' })).rejects.toThrow(
      /--map: 5=E: "E" is not a class of T\d+ \(A, B, C, D\)/,
    );
    expect((await importFile(file, { taskId, labelColumn: 'grade', keyColumn: 'StudyInstanceUID' })).counts.applied).toBe(1);
  });

  it('refuses rows that match nothing, match ambiguously, name an unknown class or contradict another row, each with line, column and reason', async () => {
    const taskId = await newTask();
    const file = csv(
      [
        'AccessionNumber,laterality,class',
        'A1,L,A', // 2 ok
        'A404,L,A', // 3 nothing
        'DUP,,B', // 4 ambiguous
        'A2,R,4', // 5 unknown class (no --map)
        'A3,B,C', // 6 contradicts line 7 on the left breast
        'A3,L,D', // 7
        'A1,L,A', // 8 the same as line 2: fine
        'A2,X,A', // 9 bad laterality
        ',L,A', // 10 no key
        'A2,,', // 11 no label
        'A2,R,B,x', // 12 wider than the header
      ].join('\n'),
    );
    const r = await importFile(file, { taskId });
    expect(r.blocked).toBe(true);
    expect(r.refused).toEqual([
      { line: 3, column: 'AccessionNumber', value: 'A404', reason: 'matches nothing: no study with accession A404 in the library' },
      { line: 4, column: 'AccessionNumber', value: 'DUP', reason: expect.stringMatching(/^ambiguous: accession DUP belongs to 2 studies/) },
      { line: 5, column: 'class', value: '4', reason: expect.stringMatching(/^unknown class: "4"/) },
      { line: 6, column: 'class', value: 'C', reason: 'contradicts line 7: same target, class C here and D there' },
      { line: 7, column: 'class', value: 'D', reason: 'contradicts line 6: same target, class D here and C there' },
      { line: 9, column: 'laterality', value: 'X', reason: 'laterality must be L, R, B or bilateral (or empty for the exam)' },
      { line: 10, column: 'AccessionNumber', value: '', reason: 'no key (AccessionNumber empty)' },
      { line: 11, column: 'class', value: '', reason: 'no label (the cell is empty)' },
      { line: 12, column: '', value: 'x', reason: '4 cells but the header has 3 (an unquoted comma in a field?)' },
    ]);
    expect(r.counts).toMatchObject({ rows: 11, refused: 9, applied: 0, ready: 1 });
    expect(labelsOf(b, taskId)).toEqual([]);
  });

  it('a big file (studies looked up in one query) follows the same rules as a small one', async () => {
    const taskId = await newTask();
    const rows = ['AccessionNumber,StudyInstanceUID,laterality,class'];
    for (let i = 0; i < 2500; i++) rows.push(i % 2 ? `A1,,L,A` : `,${uid(2)},R,B`);
    rows.push('DUP,,,C', 'A404,,,C', `,9.9.9,,C`);
    const r = await importFile(csv(rows.join('\n')), { taskId, skipBadRows: true });
    expect(r.counts).toMatchObject({ rows: 2503, applied: 2, refused: 3 });
    expect(r.refused.map((x) => [x.line, x.reason.split(':')[0]])).toEqual([
      [2502, 'ambiguous'],
      [2503, 'matches nothing'],
      [2504, 'matches nothing'],
    ]);
    expect(brief(labelsOf(b, taskId))).toEqual(['1 breast L A', '2 breast R B']);
  });

  it('a SOPInstanceUID key labels the image; a laterality that contradicts the image is refused', async () => {
    const taskId = await newTask();
    const file = csv(`SOPInstanceUID,ImageLaterality,class\n${uid(1)}.1.1,R,A\n${uid(1)}.1.2,R,B\n9.9.9,,C\n`);
    const r = await importFile(file, { taskId, skipBadRows: true });
    expect(r.refused.map((x) => [x.line, x.column, x.reason])).toEqual([
      [3, 'ImageLaterality', `contradicts the image: SOPInstanceUID ${uid(1)}.1.2 is a L image`],
      [4, 'SOPInstanceUID', 'matches nothing: no image with SOPInstanceUID 9.9.9 in the library'],
    ]);
    expect(brief(labelsOf(b, taskId))).toEqual(['1 image 1 A']);
  });

  it('a PatientID key labels every study of the patient and says so', async () => {
    const taskId = await newTask();
    const r = await importFile(csv('PatientID,side,class\nP3,L,C\n'), { taskId });
    expect(r.columns.keys).toEqual([{ key: 'patient', column: 'PatientID' }]);
    expect(r.counts.applied).toBe(2);
    expect(r.notes.join(' ')).toMatch(/keyed by PatientID label every study of that patient/);
    expect(brief(labelsOf(b, taskId))).toEqual(['3 breast L C', '4 breast L C']);
  });

  it('keeps existing labels of another class (reported as kept) or replaces them; unchanged ones are counted; --dry-run writes nothing', async () => {
    const taskId = await newTask();
    await importFile(csv('acc_anon,side,class\nA1,L,A\nA1,R,B\n'), { taskId, annotator: 'first' });
    const before = labelsOf(b, taskId);
    const file = csv('acc_anon,side,class\nA1,L,A\nA1,R,C\nA2,L,D\n');
    const kept = await importFile(file, { taskId, annotator: 'second' });
    expect(kept.counts).toMatchObject({ applied: 1, created: 1, unchanged: 1, kept: 1, refused: 0 });
    expect(kept.kept).toEqual([
      { line: 3, column: 'class', value: 'C', reason: expect.stringMatching(/^kept the existing label B \(by first\)/) },
    ]);
    expect(labelsOf(b, taskId).slice(0, 2)).toEqual(before);

    const dry = await importFile(file, { taskId, onConflict: 'replace' }, false);
    expect(dry).toMatchObject({ dryRun: true, written: false, importId: null, counts: { applied: 1, replaced: 1, unchanged: 2 } });
    const replaced = await importFile(file, { taskId, onConflict: 'replace', annotator: 'second' });
    expect(replaced.counts).toMatchObject({ applied: 1, replaced: 1, unchanged: 2 });
    expect(brief(labelsOf(b, taskId))).toEqual(['1 breast L A', '1 breast R C', '2 breast L D']);
  });

  it('one undo restores the labels exactly as before the import (ids, classes, annotators, times), and only once', async () => {
    const taskId = await newTask();
    await importFile(csv('acc_anon,side,class\nA1,L,A\nA1,R,B\nA3,L,C\n'), { taskId, annotator: 'reader' });
    const before = labelsOf(b, taskId);
    const r = await importFile(csv('acc_anon,side,class\nA1,L,D\nA1,R,B\nA2,B,C\n'), {
      taskId,
      onConflict: 'replace',
      annotator: 'import',
    });
    expect(r.counts).toMatchObject({ created: 2, replaced: 1, unchanged: 1 });
    expect(labelsOf(b, taskId)).not.toEqual(before);
    expect(await call('labels.importUndo', { importId: r.importId! })).toEqual({ importId: r.importId, removed: 2, restored: 1 });
    expect(labelsOf(b, taskId)).toEqual(before);
    await expect(call('labels.importUndo', { importId: r.importId! })).rejects.toThrow(/already undone/);
  });

  it('undo refuses when a label the import wrote was changed since, and changes nothing', async () => {
    const taskId = await newTask();
    const r = await importFile(csv('acc_anon,side,class\nA1,L,A\nA1,R,B\n'), { taskId });
    const left = labelsOf(b, taskId)[0]!;
    const study = b.db.prepare(`SELECT id FROM studies WHERE study_uid = ?`).get(uid(1)) as { id: number };
    await call('labels.set', { target: { taskId, studyId: study.id, scope: 'breast', laterality: 'L' }, className: 'D' });
    const after = labelsOf(b, taskId);
    expect(after.find((l) => l.laterality === 'L')!.id).not.toBe(left.id);
    await expect(call('labels.importUndo', { importId: r.importId! })).rejects.toThrow(/1 label\(s\) written by import \d+ changed since/);
    expect(labelsOf(b, taskId)).toEqual(after);
  });
});

describe('label export', () => {
  it('exports every scope keyed by DICOM UIDs; importing it into a fresh library with the same studies reproduces every label', async () => {
    const taskId = await newTask();
    const file = path.join(tmpDir(), 'mixed.csv');
    fs.writeFileSync(
      file,
      [
        'StudyInstanceUID,SOPInstanceUID,laterality,view,class',
        `${uid(1)},,,,A`,
        `${uid(1)},,L,,B`,
        `${uid(1)},,R,,C`,
        `${uid(2)},${uid(2)}.1.4,,,D`,
        `${uid(3)},,L,MLO,A`,
      ].join('\n'),
    );
    await importFile(file, { taskId, annotator: 'Dr. "Quote", MD' });
    const exported = await call('labels.export', { taskId });
    expect(exported.rows).toBe(5);
    const lines = exported.csv.trim().split('\n');
    expect(lines[0]).toBe('StudyInstanceUID,AccessionNumber,PatientID,SOPInstanceUID,laterality,view,class,annotator,time');
    expect(lines[1]).toMatch(new RegExp(`^${uid(1).replaceAll('.', '\\.')},A1,P1,,,,A,"Dr\\. ""Quote"", MD",\\d{4}-`));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`,A2,P2,${uid(2).replaceAll('.', '\\.')}\\.1\\.4,L,MLO,D,`)));
    expect((await call('labels.export', { taskId, scope: 'breast' })).rows).toBe(2);

    const out = path.join(tmpDir(), 'export.csv');
    fs.writeFileSync(out, exported.csv);
    const fresh = await library();
    try {
      const task2 = (
        await callApi(fresh, 'tasks.create', {
          name: `T${taskSeq}`,
          scope: 'breast',
          classes: ['A', 'B', 'C', 'D'].map((c) => ({ name: c, label: c, prompts: [c] })),
        })
      ).id;
      const r = await callApi(fresh, 'labels.importApply', { source: { path: out }, taskId: task2 });
      expect(r.counts).toMatchObject({ rows: 5, applied: 5, refused: 0 });
      const strip = (rows: Row[]) => rows.map(({ id: _id, ...rest }) => rest);
      expect(strip(labelsOf(fresh, task2))).toEqual(strip(labelsOf(b, taskId)));
      // and the export of the copy is the same file
      expect((await callApi(fresh, 'labels.export', { taskId: task2 })).csv).toBe(exported.csv);
    } finally {
      fresh.close();
    }
  }, 120_000);
});

describe('cleft labels (CLI)', () => {
  const cli = (args: string[]) => {
    const r = cliOutcome([...args, '--data-dir', dataDir]);
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('imports with --json, blocks on refused rows with a non-zero exit, dry-runs and exports', async () => {
    const taskId = await newTask();
    const name = `T${taskSeq}`;
    const blocked = cli(['labels', 'import', fx('quoted-multiline.csv'), '--task', name, '--json']);
    expect(blocked.code).toBe(1);
    const report = JSON.parse(blocked.out) as MethodOutput<'labels.importApply'>;
    expect(report.counts).toMatchObject({ rows: 2, applied: 0, unchanged: 0, kept: 0, refused: 1 });
    expect(report.refused).toEqual([{ line: 4, column: 'class', value: 'Z', reason: expect.stringMatching(/^unknown class/) }]);

    const dry = cli(['labels', 'import', fx('embed-comma.csv'), '--task', name, '--map', '1=A,2=B,3=C,4=D', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/3 rows: would apply 4 label\(s\)/);
    expect(labelsOf(b, taskId)).toEqual([]);

    const ok = cli(['labels', 'import', fx('embed-comma.csv'), '--task', name, '--map', '1=A,2=B,3=C,4=D', '--annotator', 'cli']);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/applied 4 label\(s\) \(4 new, 0 replaced\)/);
    expect(labelsOf(b, taskId)).toHaveLength(4);

    const bad = cli(['labels', 'import', fx('latin1.csv'), '--task', name]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/latin1\.csv: line 3: not UTF-8 text/);

    const out = path.join(tmpDir(), 'out.csv');
    const exp = cli(['labels', 'export', '--task', name, '--output', out, '--scope', 'breast']);
    expect(exp.code).toBe(0);
    expect(exp.out).toMatch(/Wrote 4 label\(s\)/);
    expect(fs.readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(5);
  }, 120_000);
});
