// Honest evaluation and exports a paper can use (issue #12, sections 3 and 4), on a real library of
// DICOM files written by dcmtk: a prompt set trained on a named split is evaluated by default on the
// split's test part only (and says so), "includes training data" when asked for every study, with
// intervals resampling patients; `runs.exportCsv` / `cleft runs export` write the documented columns
// keyed by the files' UIDs, pseudonymized with a key kept in the library (mode 0600).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/main/api/backend';
import type { ClassifyResult, PromptLearnResult, TrainAdaptorResult } from '../../../src/common/jobs';
import { evaluate } from '../../../src/native/cleft/metrics';
import { RunsRepo } from '../../../src/main/db/runs-repo';
import { PSEUDONYM_KEY_FILE, PSEUDONYM_LENGTH } from '../../../src/main/runs/pseudonym';
import { callApi } from '../../helpers/api';
import { runCli } from '../../helpers/cli';
import { requireDump2dcm, writeFourViewExam } from '../../helpers/dcmtk';
import { addTinyBundle, importExams, taskNamed, testBackend } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

const uid = (n: number) => `1.2.826.0.1.3680043.9.7777.${n}`;
/** Exams 1..12: P1 has exams 1 and 2; exam 12 has no PatientID; the others one patient each. */
const patientOf = (n: number) => (n === 2 ? 'P1' : n === 12 ? '' : `P${n}`);
const classOf = (n: number) => (n <= 2 || n % 2 === 1 ? 'A' : 'B');
const examOf = (studyUid: string) => Number(studyUid.split('.').at(-1));

/** Parses the exported CSV (no quoted cells in these files). */
function table(csv: string): { header: string[]; rows: Record<string, string>[] } {
  const [head, ...lines] = csv.trim().split('\n');
  const header = head!.split(',');
  return { header, rows: lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i]!, v]))) };
}

let b: Backend;
let dataDir: string;
let taskId: number;
let modelId: number;
let studyIds: number[];
let runId: number;
let split: { train: string[]; val: string[]; test: string[] };
let bundleSha: string;
let promptSetSha: string | null;
let appVersion: string;

// One library for the whole file: a prompt-learning job and a classification on a busy 2-core machine.
beforeAll(async () => {
  requireDump2dcm();
  const source = tmpDir('cleft-heldout-dicom-');
  for (let n = 1; n <= 12; n++) writeFourViewExam(source, n, patientOf(n));
  dataDir = tmpDir();
  b = testBackend(dataDir);
  const task = await taskNamed(b);
  taskId = task.id;
  const studies = await importExams(b, source);
  for (const s of studies)
    await callApi(b, 'labels.set', { target: { taskId, studyId: s.id, scope: 'exam' }, className: classOf(examOf(s.studyUid)) });
  const tiny = await addTinyBundle(b, 7);
  modelId = tiny.modelId;
  const sha256 = tiny.sha256;
  studyIds = studies.map((s) => s.id);
  await callApi(b, 'splits.create', { name: 'by-patient', taskId, fractions: [0.5, 0.25, 0.25], seed: 4 });
  split = await callApi(b, 'splits.show', { name: 'by-patient' });
  const learned = await b.jobs.waitFor(
    (await callApi(b, 'train.promptLearn', { modelId, taskId, name: 'on-split', split: 'by-patient', steps: 2, nCtx: 2, batchSize: 8 })).id,
  );
  if (learned.error) throw new Error(learned.error);
  expect((learned.result as PromptLearnResult).split!.name).toBe('by-patient');
  const classified = await b.jobs.waitFor(
    (await callApi(b, 'classify.start', { modelId, taskId, studyIds: studies.map((s) => s.id), promptSet: 'on-split' })).id,
  );
  if (classified.error) throw new Error(classified.error);
  runId = (classified.result as ClassifyResult).runId;
  const run = await callApi(b, 'runs.get', { id: runId });
  bundleSha = run.record.modelSha256!;
  promptSetSha = run.record.promptSetSha256;
  appVersion = run.record.appVersion; // the version that made the predictions
  // the bundle as it was when it classified: with the learned prompt set added
  expect(bundleSha).toBe((await callApi(b, 'models.list', {})).find((m) => m.id === modelId)!.sha256);
  expect(bundleSha).not.toBe(sha256);
}, 600_000);
afterAll(() => {
  b?.close();
  removeTmpDirs();
});

describe('held-out evaluation', () => {
  it('by default evaluates only the test part of the split the prompt set was trained on, and equals evaluating that part', async () => {
    const report = await callApi(b, 'runs.evaluate', { runId, scope: 'exam', bootstrapSamples: 200, seed: 5 });
    expect(split.test.length).toBeGreaterThan(0);
    expect(report.n).toBe(split.test.length);
    expect(report.evaluationSet).toMatchObject({
      heldOutOnly: true,
      description: 'test part of split "by-patient"',
      studies: split.test.length,
      includesTrainingData: false,
      excludedStudies: split.train.length + split.val.length,
    });
    expect(report.evaluationSet!.lineage).toEqual([expect.stringMatching(/^prompt-learning run #\d+ \(split "by-patient"\)$/)]);

    // the same numbers as evaluating the test part's predictions directly, patients resampled
    const classes = ['A', 'B', 'C', 'D'];
    const test = (
      await callApi(b, 'runs.predictions', { runId, filter: { scope: 'exam' }, sort: { key: 'patientId', dir: 'asc' }, limit: 100 })
    ).rows
      .filter((p) => split.test.includes(p.studyUid))
      .sort((a, c) => a.id - c.id);
    expect(test).toHaveLength(split.test.length);
    const direct = evaluate(
      test.map((p) => classes.indexOf(p.label!)),
      test.map((p) => classes.map((c) => p.probabilities[c] ?? 0)),
      classes,
      { bootstrapSamples: 200, seed: 5, clusters: test.map((p) => `p:${p.patientId}`) },
    );
    const { evaluationSet: _set, ...figures } = report;
    expect(figures).toEqual(direct);
    // the study without PatientID is its own cluster: clusters = distinct patients of the test part
    expect(report.bootstrap.clusters).toBe(new Set(test.map((p) => p.patientId)).size);
  });

  it('asked for all studies, it counts every labelled study and says it includes training data', async () => {
    const all = await callApi(b, 'runs.evaluate', { runId, scope: 'exam', includeTraining: true, bootstrapSamples: 50 });
    expect(all.n).toBe(12);
    expect(all.evaluationSet).toMatchObject({ heldOutOnly: false, includesTrainingData: true, studies: 12, excludedStudies: 0 });
    const stored = (await callApi(b, 'runs.get', { id: runId })).metrics as { exam: { evaluationSet: { includesTrainingData: boolean } } };
    expect(stored.exam.evaluationSet.includesTrainingData).toBe(true);

    const held = await callApi(b, 'runs.compare', { taskId, scope: 'exam', runIds: [runId] });
    expect(held.rows[0]!.own!.n).toBe(split.test.length);
    expect(held.rows[0]!.evaluationSet).toMatchObject({ heldOutOnly: true, includesTrainingData: false });
    const everything = await callApi(b, 'runs.compare', { taskId, scope: 'exam', runIds: [runId], includeTraining: true });
    expect(everything.rows[0]!.own!.n).toBe(12);
    expect(everything.rows[0]!.evaluationSet.includesTrainingData).toBe(true);
  });

  it('without a named split: everything outside the train and val studies of the adaptor a classification used', async () => {
    // four studies unlabelled while the head trains, labelled again to be evaluated: never seen by it
    const later = studyIds.slice(8);
    for (const studyId of later) await callApi(b, 'labels.clear', { target: { taskId, studyId, scope: 'exam' } });
    const trained = await b.jobs.waitFor(
      (await callApi(b, 'train.adaptor', { modelId, taskId, name: 'auto-head', steps: 5, valFraction: 0.3, seed: 2 })).id,
    );
    expect(trained.error).toBeNull();
    const a = (trained.result as TrainAdaptorResult).split!;
    expect(a.name).toBeNull();
    const used = new Set([...a.trainStudies, ...a.valStudies]);
    expect(used.size).toBe(8);
    const studies = (await callApi(b, 'library.studies', { sort: { key: 'accession', dir: 'asc' } })).rows;
    for (const s of studies.filter((x) => later.includes(x.id)))
      await callApi(b, 'labels.set', { target: { taskId, studyId: s.id, scope: 'exam' }, className: classOf(examOf(s.studyUid)) });

    const cls = await b.jobs.waitFor((await callApi(b, 'classify.start', { modelId, taskId, studyIds, adaptor: 'auto-head' })).id);
    expect(cls.error).toBeNull();
    const clsRun = (cls.result as ClassifyResult).runId;
    const held = await callApi(b, 'runs.evaluate', { runId: clsRun, scope: 'exam', bootstrapSamples: 20 });
    expect(held.n).toBe(4);
    expect(held.evaluationSet).toMatchObject({ heldOutOnly: true, includesTrainingData: false, studies: 4, excludedStudies: 8 });
    expect(held.evaluationSet!.description).toMatch(
      /^studies outside the training and validation of adaptor run #\d+ \(automatic split, seed 2\)$/,
    );
    const all = await callApi(b, 'runs.evaluate', { runId: clsRun, scope: 'exam', includeTraining: true, bootstrapSamples: 20 });
    expect(all).toMatchObject({ n: 12, evaluationSet: { includesTrainingData: true } });
  }, 300_000);

  it("a bundle's LoRA run is in the lineage too: its training and validation studies leave the test part", async () => {
    // Two test studies the (recorded) LoRA run trained and validated on; a run of the same bundle and
    // prompt set made after it, with the same predictions.
    const [t1, t2] = split.test;
    expect(t2).toBeDefined();
    await recordRun({
      kind: 'contrastive-lora',
      name: 'lora of the bundle',
      taskId: null,
      promptSetId: null,
      split: { seed: 9, trainStudies: [t1!], valStudies: [t2!], sha256: 'c'.repeat(64) },
      withPredictions: false,
    });
    const later = await recordRun({ kind: 'zero-shot', name: 'after lora', taskId, promptSetId: 'classified', withPredictions: true });
    const r = await callApi(b, 'runs.evaluate', { runId: later, scope: 'exam', bootstrapSamples: 20 });
    expect(r.n).toBe(split.test.length - 2);
    expect(r.evaluationSet!.lineage).toEqual([
      expect.stringMatching(/^prompt-learning run #\d+ \(split "by-patient"\)$/),
      expect.stringMatching(/^LoRA run #\d+ \(automatic split, seed 9\)$/),
    ]);
    expect(r.evaluationSet).toMatchObject({ description: 'test part of split "by-patient"', includesTrainingData: false });
    const parts = table((await callApi(b, 'runs.exportCsv', { runId: later, scope: 'exam' })).csv).rows;
    expect(parts.find((row) => row.StudyInstanceUID === t1)!.split_part).toBe('train');
    expect(parts.find((row) => row.StudyInstanceUID === t2)!.split_part).toBe('val');
  });

  it('nothing held out is an empty report saying why, from the API, runs.compare and the CLI alike', async () => {
    // A prompt-learning run (its own lineage) that trained and validated on every study of the library.
    const uids = [...split.train, ...split.val, ...split.test];
    const everything = await recordRun({
      kind: 'prompt-learning',
      name: 'learned on everything',
      taskId,
      promptSetId: null,
      split: { seed: 3, trainStudies: uids.slice(2), valStudies: uids.slice(0, 2), sha256: 'e'.repeat(64) },
      withPredictions: true,
    });
    const empty = await callApi(b, 'runs.evaluate', { runId: everything, scope: 'exam', bootstrapSamples: 20 });
    expect(empty).toMatchObject({
      n: 0,
      classes: ['A', 'B', 'C', 'D'],
      accuracy: null,
      balancedAccuracy: null,
      macroAuc: null,
      ece: null,
      confusion: [0, 1, 2, 3].map(() => [0, 0, 0, 0]),
      evaluationSet: { heldOutOnly: true, studies: 0, includesTrainingData: false, excludedStudies: 12 },
    });
    expect(empty.emptyReason).toMatch(
      /^no labelled exam among the held-out predictions: the prompt set was learned on every labelled study \(prompt-learning run #\d+ \(automatic split, seed 3\)\)/,
    );
    // stored with the run like any report
    expect((await callApi(b, 'runs.get', { id: everything })).metrics).toMatchObject({ exam: { n: 0, emptyReason: empty.emptyReason } });
    // all studies: figures, marked
    const all = await callApi(b, 'runs.evaluate', { runId: everything, scope: 'exam', includeTraining: true, bootstrapSamples: 20 });
    expect(all).toMatchObject({ n: 12, evaluationSet: { includesTrainingData: true } });
    expect(all.emptyReason).toBeUndefined();
    const compared = await callApi(b, 'runs.compare', { taskId, scope: 'exam', runIds: [everything] });
    expect(compared.rows[0]).toMatchObject({ own: null, common: null, evaluationSet: { studies: 0 } });
    const text = runCli(['runs', 'evaluate', String(everything), '--scope', 'exam', '--bootstrap', '20', '--data-dir', dataDir]);
    expect(text).toMatch(
      /^n 0, classes A, B, C, D: no labelled exam among the held-out predictions: the prompt set was learned on every labelled study/m,
    );
    const json = JSON.parse(
      runCli(['runs', 'evaluate', String(everything), '--scope', 'exam', '--bootstrap', '20', '--json', '--data-dir', dataDir]),
    ) as { n: number; emptyReason: string };
    expect(json).toMatchObject({ n: 0, emptyReason: empty.emptyReason });
  }, 120_000);

  it('cleft runs evaluate shows which set it evaluated and marks --include-training', () => {
    const held = runCli(['runs', 'evaluate', String(runId), '--scope', 'exam', '--bootstrap', '50', '--data-dir', dataDir]);
    expect(held).toContain(`evaluated on: test part of split "by-patient" (${split.test.length} studies;`);
    expect(held).not.toMatch(/INCLUDES TRAINING DATA/);
    expect(held).toMatch(/by patient \(\d+ patients resampled\)/);
    const all = runCli([
      'runs',
      'evaluate',
      String(runId),
      '--scope',
      'exam',
      '--bootstrap',
      '50',
      '--include-training',
      '--data-dir',
      dataDir,
    ]);
    expect(all).toMatch(/INCLUDES TRAINING DATA/);
    expect(all).toMatch(/^n 12,/m);
    const compared = runCli([
      'runs',
      'compare',
      '--task',
      'Breast density',
      '--scope',
      'exam',
      '--runs',
      String(runId),
      '--include-training',
      '--data-dir',
      dataDir,
    ]);
    expect(compared).toMatch(/INCLUDES TRAINING DATA/);
  }, 300_000);
});

describe('predictions export', () => {
  it('image scope: the documented columns, UIDs of the DICOM files, split part, bundle and prompt set, run and version', async () => {
    const out = await callApi(b, 'runs.exportCsv', { runId, scope: 'image' });
    const { header, rows } = table(out.csv);
    expect(header).toEqual([
      'StudyInstanceUID',
      'SeriesInstanceUID',
      'SOPInstanceUID',
      'AccessionNumber',
      'PatientID',
      'laterality',
      'view',
      'p_A',
      'p_B',
      'p_C',
      'p_D',
      'predicted',
      'label',
      'split_part',
      'bundle',
      'bundle_sha256',
      'prompt_set',
      'prompt_set_sha256',
      'run_id',
      'app_version',
    ]);
    expect(rows).toHaveLength(48);
    expect(out.rows).toBe(48);
    const views = ['R CC', 'L CC', 'R MLO', 'L MLO'];
    for (const r of rows) {
      const n = examOf(r.StudyInstanceUID!);
      expect(r.StudyInstanceUID).toBe(uid(n));
      expect(r.SeriesInstanceUID).toBe(`${uid(n)}.1`);
      // writeFourViewExam: image i of exam n is SOP <study>.1.<i> with views R CC, L CC, R MLO, L MLO
      const i = Number(r.SOPInstanceUID!.split('.').at(-1));
      expect(r.SOPInstanceUID).toBe(`${uid(n)}.1.${i}`);
      expect(`${r.laterality} ${r.view}`).toBe(views[i - 1]);
      expect(r.AccessionNumber).toBe(`A${n}`);
      expect(r.PatientID).toBe(patientOf(n));
      const part = split.train.includes(r.StudyInstanceUID!) ? 'train' : split.val.includes(r.StudyInstanceUID!) ? 'val' : 'test';
      expect(r.split_part).toBe(part);
      expect(r.prompt_set).toBe('on-split');
      expect(r.prompt_set_sha256).toBe(promptSetSha ?? '');
      expect(r.bundle_sha256).toBe(bundleSha);
      expect(r.bundle).not.toBe('');
      expect(r.run_id).toBe(String(runId));
      expect(r.app_version).toBe(appVersion);
      expect(Math.abs(['A', 'B', 'C', 'D'].reduce((s, c) => s + Number(r[`p_${c}`]), 0) - 1)).toBeLessThan(1e-6);
      expect(['A', 'B', 'C', 'D']).toContain(r.predicted);
    }
    // exam scope: no series or SOP columns, the exam label
    const exam = table((await callApi(b, 'runs.exportCsv', { runId, scope: 'exam' })).csv);
    expect(exam.header.slice(0, 5)).toEqual(['StudyInstanceUID', 'AccessionNumber', 'PatientID', 'laterality', 'view']);
    expect(exam.rows).toHaveLength(12);
    for (const r of exam.rows) expect(r.label).toBe(classOf(examOf(r.StudyInstanceUID!)));
  });

  it('pseudonymized: PatientID and AccessionNumber are keyed hashes, stable across exports, the key file 0600', async () => {
    const plain = table((await callApi(b, 'runs.exportCsv', { runId, scope: 'exam' })).csv).rows;
    const first = await callApi(b, 'runs.exportCsv', { runId, scope: 'exam', pseudonymize: true });
    const keyFile = path.join(dataDir, PSEUDONYM_KEY_FILE);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    const key = fs.readFileSync(keyFile, 'utf8');
    // through the CLI (another process, same library): same pseudonyms, key untouched
    const file = path.join(tmpDir(), 'shared.csv');
    runCli(['runs', 'export', String(runId), '--scope', 'exam', '--pseudonymize', '--output', file, '--data-dir', dataDir]);
    expect(fs.readFileSync(keyFile, 'utf8')).toBe(key);
    expect(fs.readFileSync(file, 'utf8')).toBe(first.csv);
    expect(first.fileName).toBe(`cleft-run-${runId}-exam-pseudonymized.csv`);
    const shared = table(first.csv).rows;
    const byStudy = new Map(plain.map((r) => [r.StudyInstanceUID!, r]));
    for (const r of shared) {
      const orig = byStudy.get(r.StudyInstanceUID!)!;
      expect(r.AccessionNumber).toMatch(new RegExp(`^[0-9a-f]{${PSEUDONYM_LENGTH}}$`));
      expect(r.AccessionNumber).not.toBe(orig.AccessionNumber);
      if (orig.PatientID === '') expect(r.PatientID).toBe('');
      else {
        expect(r.PatientID).toMatch(new RegExp(`^[0-9a-f]{${PSEUDONYM_LENGTH}}$`));
        expect(r.PatientID).not.toBe(orig.PatientID);
      }
      expect({ ...r, PatientID: '', AccessionNumber: '' }).toEqual({ ...orig, PatientID: '', AccessionNumber: '' });
    }
    // P1's two studies keep one pseudonym: the file still groups by patient
    expect(byStudyPseudonym(shared, uid(1))).toBe(byStudyPseudonym(shared, uid(2)));
    expect(new Set(shared.map((r) => r.AccessionNumber)).size).toBe(12);
  });

  it('an exported CSV feeds `cleft evaluate`, which resamples by its PatientID column', () => {
    const file = path.join(tmpDir(), 'exam.csv');
    runCli(['runs', 'export', String(runId), '--scope', 'exam', '--output', file, '--data-dir', dataDir]);
    const out = runCli(['evaluate', '--predictions', file, '--bootstrap', '50', '--json']);
    const report = JSON.parse(out) as { n: number; bootstrap: { clusters?: number } };
    expect(report.n).toBe(12);
    expect(report.bootstrap.clusters).toBe(11); // P1's two studies are one patient; exam 12 its own
  }, 120_000);
});

/**
 * A run of the classified bundle recorded by hand: the classification's record, with an automatic
 * training split by patient when given; with the classification's exam predictions when asked.
 * promptSetId 'classified': the classification's prompt set.
 */
async function recordRun(o: {
  kind: 'contrastive-lora' | 'zero-shot' | 'prompt-learning';
  name: string;
  taskId: number | null;
  promptSetId: 'classified' | null;
  split?: { seed: number; trainStudies: string[]; valStudies: string[]; sha256: string };
  withPredictions: boolean;
}): Promise<number> {
  const repo = new RunsRepo(b.db);
  const classified = await callApi(b, 'runs.get', { id: runId });
  const id = repo.createRun({
    kind: o.kind,
    name: o.name,
    jobId: null,
    modelId,
    taskId: o.taskId,
    promptSetId: o.promptSetId === 'classified' ? classified.promptSetId : null,
    record: o.split
      ? {
          ...classified.record,
          split: {
            name: null,
            sha256: o.split.sha256,
            by: 'patient',
            seed: o.split.seed,
            trainStudies: o.split.trainStudies,
            valStudies: o.split.valStudies,
            notes: [],
          },
        }
      : classified.record,
  });
  if (o.withPredictions) {
    const preds = await callApi(b, 'runs.predictions', { runId, filter: { scope: 'exam' }, limit: 100 });
    repo.addPredictions(
      id,
      ['A', 'B', 'C', 'D'],
      preds.rows.map((p) => ({
        scope: 'exam' as const,
        studyId: p.studyId,
        instanceId: null,
        laterality: null,
        probabilities: ['A', 'B', 'C', 'D'].map((c) => p.probabilities[c]!),
      })),
    );
  }
  return id;
}

function byStudyPseudonym(rows: Record<string, string>[], studyUid: string): string {
  return rows.find((r) => r.StudyInstanceUID === studyUid)!.PatientID!;
}
