// Named splits on a real library of DICOM files written by dcmtk: created by patient (stratified by
// label, a patient's two studies and their CC and MLO views always on one side), the fallback to
// StudyInstanceUID reported, an official split CSV imported, a patient in two parts warned about at
// import and refused by training, and `cleft splits show --json` in its exact shape.
import fs from 'node:fs';
import zlib from 'node:zlib';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/main/api/backend';
import type { PromptLearnResult, TrainAdaptorResult } from '../../../src/common/jobs';
import { openBundle } from '../../../src/native/bundle/index';
import { callApi } from '../../helpers/api';
import { runCli } from '../../helpers/cli';
import { requireDump2dcm, writeFourViewExam } from '../../helpers/dcmtk';
import { addTinyBundle, importExams, taskNamed, testBackend } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { writeSafetensors } from '../../../src/native/formats/safetensors';
import { REF, cases } from '../native/cleft/reference';

const uid = (n: number) => `1.2.826.0.1.3680043.9.7777.${n}`;
/** Exams 1..12: P1 has exams 1 and 2; exam 12 has no PatientID; the others one patient each. */
const patientOf = (n: number) => (n === 2 ? 'P1' : n === 12 ? '' : `P${n}`);
/** Exam label (density A or B) by patient, so a patient's studies agree. */
const classOf = (n: number) => (n <= 2 || n % 2 === 1 ? 'A' : 'B');

let source: string;
let b: Backend;
beforeAll(() => {
  requireDump2dcm();
  source = tmpDir('cleft-split-dicom-');
  for (let n = 1; n <= 12; n++) writeFourViewExam(source, n, patientOf(n));
});
afterEach(() => b?.close());
afterAll(removeTmpDirs);

async function library(dataDir = tmpDir()) {
  b = testBackend(dataDir);
  const task = await taskNamed(b);
  const studies = await importExams(b, source);
  const byUid = new Map(studies.map((s) => [s.studyUid, s]));
  for (let n = 1; n <= 12; n++)
    await callApi(b, 'labels.set', { target: { taskId: task.id, studyId: byUid.get(uid(n))!.id, scope: 'exam' }, className: classOf(n) });
  return { dataDir, task, studies, byUid };
}

const partOf = (s: { train: string[]; val: string[]; test: string[] }, u: string) =>
  (['train', 'val', 'test'] as const).find((p) => s[p].includes(u));

// Trainings and CLI processes on a busy 2-core machine: a generous budget per test, none waits on time.
describe('splits', () => {
  it('a patient with two studies never sits in two parts, across seeds; stratified by label; the StudyInstanceUID fallback is said', async () => {
    const { task } = await library();
    for (let seed = 0; seed < 8; seed++) {
      const info = await callApi(b, 'splits.create', { name: `s${seed}`, taskId: task.id, fractions: [0.5, 0.25, 0.25], seed });
      expect(info.counts).toMatchObject({ train: expect.any(Number), patients: 11 });
      expect(info.counts.train + info.counts.val + info.counts.test).toBe(12);
      expect(info.notes.join(' ')).toMatch(/1 of 12 studies have no PatientID: each of them is grouped by its StudyInstanceUID/);
      const s = await callApi(b, 'splits.show', { name: `s${seed}` });
      expect(partOf(s, uid(1))).toBe(partOf(s, uid(2)));
      // stratified at the patient level: 6 patients of class A (P1 with two studies, P3, P5, P7, P9, P11), 5 of B
      const classes = (part: 'train' | 'val' | 'test', c: string) =>
        s[part].filter((u) => classOf(Number(u.split('.').at(-1))) === c && u !== uid(2)).length;
      expect([classes('val', 'A'), classes('test', 'A')]).toEqual([2, 2]); // round(6 × 0.25) each
      expect([classes('val', 'B'), classes('test', 'B')]).toEqual([1, 1]); // round(5 × 0.25)
    }
    const list = await callApi(b, 'splits.list', {});
    expect(list.map((s) => s.name)).toEqual(['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7']);
    expect(new Set(list.map((s) => s.sha256)).size).toBeGreaterThan(1);
    await expect(callApi(b, 'splits.create', { name: 's0', taskId: task.id })).rejects.toThrow(/already exists/);
  }, 300_000);

  it('imports an official split CSV (BOM, semicolons, keys by StudyInstanceUID, accession or PatientID) and lists unmatched rows', async () => {
    await library();
    const file = path.join(tmpDir(), 'official.csv');
    const rows = [
      'StudyInstanceUID;AccessionNumber;PatientID;split',
      `;;P1;train`, // both studies of P1
      ...[3, 4, 5, 6, 7, 8].map((n) => `${uid(n)};;;train`),
      ';A9;;validation',
      ';A10;;val',
      `${uid(11)};;;test`,
      `${uid(12)};;;test`,
      `1.2.3.999;;;test`,
    ];
    fs.writeFileSync(file, '\uFEFF' + rows.join('\r\n') + '\r\n');
    const r = await callApi(b, 'splits.import', { path: file, name: 'official' });
    expect(r.split!.counts).toEqual({ train: 8, val: 2, test: 2, patients: 11 });
    expect(r.unmatched).toEqual([{ line: 13, key: '1.2.3.999', reason: 'no study with StudyInstanceUID 1.2.3.999 in the library' }]);
    expect(r.patientsInSeveralParts).toEqual([]);
    const shown = await callApi(b, 'splits.show', { name: 'official' });
    expect(shown.val).toEqual([uid(10), uid(9)].sort());
    expect(shown.test).toEqual([uid(11), uid(12)].sort());

    // a bad value refuses the whole file, with its line
    const bad = path.join(tmpDir(), 'bad.csv');
    fs.writeFileSync(bad, `StudyInstanceUID,split\n${uid(1)},train\n${uid(3)},holdout\n`);
    await expect(callApi(b, 'splits.import', { path: bad, name: 'bad' })).rejects.toThrow(
      /line 3: split "holdout" is not train, val or test/,
    );
    expect((await callApi(b, 'splits.list', {})).map((s) => s.name)).toEqual(['official']);
  }, 300_000);

  it('flags a patient in two parts at import, and every training refuses that split naming the patient and the parts', async () => {
    const { task } = await library();
    const { modelId } = await addTinyBundle(b, 5);
    const file = path.join(tmpDir(), 'leaky.csv');
    fs.writeFileSync(
      file,
      [
        'StudyInstanceUID,split',
        `${uid(1)},train`,
        `${uid(2)},test`,
        ...[3, 4, 5, 6].map((n) => `${uid(n)},${n < 5 ? 'train' : 'val'}`),
      ].join('\n'),
    );
    const r = await callApi(b, 'splits.import', { path: file, name: 'leaky' });
    expect(r.patientsInSeveralParts).toEqual([{ patientId: 'P1', parts: ['train', 'test'] }]);
    expect(r.warnings.join(' ')).toMatch(/P1 \(train, test\)/);
    const refused = /split "leaky" puts a patient in two parts.*patient P1 is in train and test/;
    const pl = await b.jobs.waitFor(
      (await callApi(b, 'train.promptLearn', { modelId, taskId: task.id, name: 'x', split: 'leaky', steps: 1 })).id,
    );
    expect(pl).toMatchObject({ status: 'failed', error: expect.stringMatching(refused) });
    const ad = await b.jobs.waitFor(
      (await callApi(b, 'train.adaptor', { modelId, taskId: task.id, name: 'x', split: 'leaky', steps: 1 })).id,
    );
    expect(ad).toMatchObject({ status: 'failed', error: expect.stringMatching(refused) });
    const reports = path.join(tmpDir(), 'reports.csv');
    fs.writeFileSync(reports, 'accession,report\n' + [1, 2, 3, 4, 5, 6].map((n) => `A${n},Report of exam ${n}.`).join('\n') + '\n');
    await callApi(b, 'reports.import', { path: reports });
    const lora = await b.jobs.waitFor((await callApi(b, 'train.lora', { modelId, name: 'x', split: 'leaky', steps: 1, batchSize: 2 })).id);
    expect(lora).toMatchObject({ status: 'failed', error: expect.stringMatching(refused) });
    const unknown = await b.jobs.waitFor(
      (await callApi(b, 'train.adaptor', { modelId, taskId: task.id, name: 'x', split: 'nope', steps: 1 })).id,
    );
    expect(unknown.error).toMatch(/no split named "nope".*there are: leaky/);
  }, 300_000);

  it('training on a named split uses exactly its train and val studies and records the split; the default records a patient-level split', async () => {
    const { task } = await library();
    const { modelId } = await addTinyBundle(b, 7);
    await callApi(b, 'splits.create', { name: 'by-patient', taskId: task.id, fractions: [0.5, 0.25, 0.25], seed: 4 });
    const split = await callApi(b, 'splits.show', { name: 'by-patient' });
    const info = (await callApi(b, 'splits.list', {}))[0]!;

    const job = await b.jobs.waitFor(
      (
        await callApi(b, 'train.promptLearn', {
          modelId,
          taskId: task.id,
          name: 'on-split',
          split: 'by-patient',
          steps: 2,
          nCtx: 2,
          batchSize: 8,
        })
      ).id,
    );
    expect(job.error).toBeNull();
    const r = job.result as PromptLearnResult;
    expect(r.split).toMatchObject({
      name: 'by-patient',
      sha256: info.sha256,
      by: 'named',
      trainStudies: split.train,
      valStudies: split.val,
    });
    // the test part is never read: its images are not even encoded
    expect(r.images).toBe(48 - split.test.length * 4);
    expect([r.train, r.val]).toEqual([split.train.length * 4, split.val.length * 4]);
    expect(r.split!.notes.join(' ')).toMatch(
      new RegExp(`the split's ${split.test.length} test studies were never trained or validated on`),
    );
    const run = await callApi(b, 'runs.get', { id: r.runId });
    expect(run.record.split).toEqual(r.split);
    const bundle = await openBundle((await callApi(b, 'models.list', {})).find((m) => m.id === modelId)!.path, { verify: 'sizes' });
    expect(bundle.promptSets.find((p) => p.name === 'on-split')!.training).toMatchObject({
      split: { name: 'by-patient', sha256: info.sha256 },
    });

    // no split named: a seeded split by patient, recorded with its studies; P1's two studies together
    const auto = await b.jobs.waitFor(
      (await callApi(b, 'train.adaptor', { modelId, taskId: task.id, name: 'auto', steps: 5, valFraction: 0.3, seed: 2 })).id,
    );
    expect(auto.error).toBeNull();
    const a = auto.result as TrainAdaptorResult;
    expect(a.split).toMatchObject({ name: null, by: 'patient', seed: 2 });
    expect(a.split!.trainStudies.length + a.split!.valStudies.length).toBe(12);
    expect(a.split!.valStudies.includes(uid(1))).toBe(a.split!.valStudies.includes(uid(2)));
    expect(a.split!.notes.join(' ')).toMatch(/grouped by its StudyInstanceUID/);
    expect([a.train, a.val]).toEqual([a.split!.trainStudies.length * 4, a.split!.valStudies.length * 4]);
    expect((await callApi(b, 'runs.get', { id: a.runId })).record.split).toEqual(a.split);
  }, 300_000);

  it('cleft splits create / show --json / list on a library', async () => {
    const { dataDir } = await library();
    b.close();
    const out = runCli(['splits', 'create', 'cli', '--task', 'Breast density', '--seed', '3', '--data-dir', dataDir]);
    expect(out).toMatch(/Created split "cli" by patient \(seed 3\)/);
    expect(out).toMatch(/note: 1 of 12 studies have no PatientID: each of them is grouped by its StudyInstanceUID/);
    const shown = JSON.parse(runCli(['splits', 'show', 'cli', '--json', '--data-dir', dataDir])) as Record<string, unknown>;
    expect(Object.keys(shown)).toEqual(['train', 'val', 'test', 'counts']);
    const all = [...(shown.train as string[]), ...(shown.val as string[]), ...(shown.test as string[])];
    expect(all.sort()).toEqual(Array.from({ length: 12 }, (_, i) => uid(i + 1)).sort());
    expect(shown.counts).toMatchObject({ train: (shown.train as string[]).length, val: (shown.val as string[]).length });
    const list = JSON.parse(runCli(['splits', 'list', '--json', '--data-dir', dataDir])) as { name: string }[];
    expect(list.map((s) => s.name)).toEqual(['cli']);
    expect(runCli(['splits', 'list', '--data-dir', dataDir])).toMatch(/^cli {2}created \(Breast density\)/);
  }, 300_000);

  it('cleft prompt-learn / train-adaptor --split on a prepared file train on the rows of the train part and validate on those of val', async () => {
    const { dataDir } = await library();
    const csv = path.join(tmpDir(), 'three.csv');
    fs.writeFileSync(csv, `StudyInstanceUID,split\n${uid(1)},train\n${uid(2)},train\n${uid(3)},val\n${uid(4)},test\n`);
    await callApi(b, 'splits.import', { path: csv, name: 'three' });
    b.close();
    // the reference-a file's 3 images, as rows of studies 1 (train), 3 (val) and 4 (test)
    const t = (k: string) => cases.get(k)!;
    const tensors = {
      pixel_values: t('vit.pixel_values'),
      labels: t('prompt.labels'),
      'class_ids.0': t('prompt.class_ids.0'),
      'class_ids.1': t('prompt.class_ids.1'),
      'class_ids.2': t('prompt.class_ids.2'),
    };
    const dir = tmpDir();
    writeSafetensors(path.join(dir, 'data.safetensors'), tensors, { study_uids: JSON.stringify([uid(1), uid(3), uid(4)]) });
    const R = (p: string) => path.join(REF, p);
    const learn = (data: string, out: string, extra: string[]) =>
      JSON.parse(
        runCli([
          'prompt-learn',
          ...['--text-model', R('gpt2'), '--image-model', R('vit'), '--heads', R('heads.safetensors'), '--data', data],
          ...['--lr', '0.01', '--steps', '1', '--batch-size', '1', '--output', path.join(dir, out), '--json', ...extra],
        ]),
      ) as { split: Record<string, unknown> };
    const named = learn(path.join(dir, 'data.safetensors'), 'named', ['--split', 'three', '--data-dir', dataDir]);
    const info = JSON.parse(runCli(['splits', 'list', '--json', '--data-dir', dataDir])) as { sha256: string }[];
    expect(named.split).toMatchObject({
      train: 1,
      val: 1,
      name: 'three',
      sha256: info[0]!.sha256,
      trainStudies: [uid(1)],
      valStudies: [uid(3)],
    });
    // without a split the rows are grouped by the file's study_uids and the run records its studies
    const auto = learn(path.join(dir, 'data.safetensors'), 'auto', ['--val-fraction', '0.4']);
    expect(auto.split).toMatchObject({ name: null, by: 'study', train: expect.any(Number), val: expect.any(Number) });
    expect([...(auto.split.trainStudies as string[]), ...(auto.split.valStudies as string[])].sort()).toEqual(
      [uid(1), uid(3), uid(4)].sort(),
    );
    // cleft train-adaptor --split: the module and the probe train on the train row only (as the job)
    writeSafetensors(
      path.join(dir, 'pairs.safetensors'),
      { pixel_values: t('vit.pixel_values'), input_ids: t('text.input_ids'), lengths: t('text.lengths'), labels: t('prompt.labels') },
      { study_uids: JSON.stringify([uid(1), uid(3), uid(4)]) },
    );
    const adaptor = JSON.parse(
      runCli([
        'train-adaptor',
        ...['--text-model', R('gpt2'), '--image-model', R('vit'), '--data', path.join(dir, 'pairs.safetensors')],
        ...['--dim', '8', '--layers', '1', '--lr', '0.001', '--steps', '1', '--batch-size', '1', '--probe-steps', '2'],
        ...['--split', 'three', '--data-dir', dataDir, '--output', path.join(dir, 'adaptor'), '--json'],
      ]),
    ) as { adaptorRows: number; probe: { n: number }; split: { trainStudies: string[]; valStudies: string[] } };
    expect(adaptor.adaptorRows).toBe(1);
    expect(adaptor.probe.n).toBe(1); // measured on the val row
    expect(adaptor.split).toMatchObject({ trainStudies: [uid(1)], valStudies: [uid(3)] });
    // a file without study_uids cannot be matched to a named split
    writeSafetensors(path.join(dir, 'plain.safetensors'), tensors);
    expect(() => learn(path.join(dir, 'plain.safetensors'), 'plain', ['--split', 'three', '--data-dir', dataDir])).toThrow(
      /--split three: .*plain\.safetensors has no study_uids metadata/,
    );
  }, 300_000);

  it('imports the first sheet of an XLSX workbook, lines counted from its header', async () => {
    await library();
    const file = path.join(tmpDir(), 'official.xlsx');
    writeXlsx(file, [
      ['PatientID', 'Split'],
      ['P1', 'train'],
      ['P3', 'val'],
      ['P4', 'test'],
      ['P99', 'test'],
    ]);
    const r = await callApi(b, 'splits.import', { path: file, name: 'xl' });
    expect(r.split!.counts).toEqual({ train: 2, val: 1, test: 1, patients: 3 });
    expect(r.unmatched).toEqual([{ line: 5, key: 'P99', reason: 'no study with PatientID P99 in the library' }]);
    expect((await callApi(b, 'splits.show', { name: 'xl' })).train).toEqual([uid(1), uid(2)]);
  }, 300_000);
});

/** A minimal XLSX (stored zip, inline strings): what a spreadsheet program saves, without a writer library. */
function writeXlsx(file: string, rows: string[][]): void {
  const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const col = (i: number) => String.fromCharCode(65 + i);
  const sheet =
    '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>' +
    rows
      .map(
        (r, i) =>
          `<row r="${i + 1}">` +
          r.map((v, j) => `<c r="${col(j)}${i + 1}" t="inlineStr"><is><t>${esc(v)}</t></is></c>`).join('') +
          '</row>',
      )
      .join('') +
    '</sheetData></worksheet>';
  const rel = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
  const files: [string, string][] = [
    [
      '[Content_Types].xml',
      '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>' +
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' +
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
    ],
    [
      '_rels/.rels',
      `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
    ],
    [
      'xl/workbook.xml',
      `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="${rel}"><sheets><sheet name="Split" sheetId="1" r:id="rId1"/></sheets></workbook>`,
    ],
    [
      'xl/_rels/workbook.xml.rels',
      `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
    ],
    ['xl/worksheets/sheet1.xml', sheet],
  ];
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of files) {
    const data = Buffer.from(text, 'utf8');
    const nameBuf = Buffer.from(name, 'utf8');
    const crc = zlib.crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, data);
    centrals.push(central, nameBuf);
    offset += local.length + nameBuf.length + data.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  fs.writeFileSync(file, Buffer.concat([...locals, dir, end]));
}
