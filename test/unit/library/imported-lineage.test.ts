// Lineage brought in from elsewhere (issue #12): a bundle whose prompt set was learned in another
// library has no training run here, so its manifest's `training.split` stands in (matched by
// StudyInstanceUID): the studies it trained and validated on are left out of the held-out
// evaluation. A prompt set whose manifest says nothing makes the evaluation say "training data
// unknown" instead of claiming held out. Two real libraries of the same dcmtk-written studies.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/main/api/backend';
import type { ClassifyResult } from '../../../src/common/jobs';
import { addPromptSet, openBundle } from '../../../src/native/bundle/index';
import { callApi } from '../../helpers/api';
import { runCli } from '../../helpers/cli';
import { requireDump2dcm, writeFourViewExam } from '../../helpers/dcmtk';
import { addTinyBundle, importExams, taskNamed, testBackend } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

const classOf = (n: number) => (n % 2 ? 'A' : 'B');
const examOf = (studyUid: string) => Number(studyUid.split('.').at(-1));

let a: Backend;
let b: Backend;
let dataDirB: string;
let split: { train: string[]; val: string[]; test: string[] };
let modelB: number;
let taskB: number;
let studiesB: number[];

async function labelled(backend: Backend, source: string): Promise<{ taskId: number; studyIds: number[] }> {
  const taskId = (await taskNamed(backend)).id;
  const studies = await importExams(backend, source);
  for (const s of studies)
    await callApi(backend, 'labels.set', { target: { taskId, studyId: s.id, scope: 'exam' }, className: classOf(examOf(s.studyUid)) });
  return { taskId, studyIds: studies.map((s) => s.id) };
}

beforeAll(async () => {
  requireDump2dcm();
  const source = tmpDir('cleft-imported-lineage-dicom-');
  for (let n = 1; n <= 12; n++) writeFourViewExam(source, n, `P${n}`);
  // Library A: a prompt set learned on a named split, exported with its bundle.
  a = testBackend();
  const libA = await labelled(a, source);
  const tiny = await addTinyBundle(a, 11);
  await callApi(a, 'splits.create', { name: 'site-a', taskId: libA.taskId, fractions: [0.5, 0.25, 0.25], seed: 4 });
  split = await callApi(a, 'splits.show', { name: 'site-a' });
  const learned = await a.jobs.waitFor(
    (
      await callApi(a, 'train.promptLearn', {
        modelId: tiny.modelId,
        taskId: libA.taskId,
        name: 'learned',
        split: 'site-a',
        steps: 2,
        nCtx: 2,
        batchSize: 8,
      })
    ).id,
  );
  if (learned.error) throw new Error(learned.error);
  const exported = path.join(tmpDir(), 'shared-bundle');
  await callApi(a, 'models.exportBundle', { id: tiny.modelId, destination: exported });
  a.close();
  // ... plus a prompt set whose manifest says nothing of its training (made by another tool)
  const bundle = await openBundle(exported, { verify: 'sizes' });
  const d = bundle.text.config.nEmbd;
  await addPromptSet(
    bundle,
    'silent',
    { data: new Float32Array(2 * d), shape: [2, d] },
    {
      task: 'Breast density',
      classNames: ['almost entirely fat', 'scattered fibroglandular densities', 'heterogeneously dense', 'extremely dense'],
      nCtx: 2,
    },
  );

  // Library B: the same studies, the bundle imported, no runs, no splits.
  dataDirB = tmpDir();
  b = testBackend(dataDirB);
  const libB = await labelled(b, source);
  taskB = libB.taskId;
  studiesB = libB.studyIds;
  modelB = (await callApi(b, 'models.import', { path: exported, copy: true })).id;
}, 600_000);
afterAll(() => {
  a?.close();
  b?.close();
  removeTmpDirs();
});

async function classify(promptSet: string): Promise<number> {
  const job = await b.jobs.waitFor(
    (await callApi(b, 'classify.start', { modelId: modelB, taskId: taskB, studyIds: studiesB, promptSet })).id,
  );
  if (job.error) throw new Error(job.error);
  return (job.result as ClassifyResult).runId;
}

describe('lineage from an imported manifest', () => {
  it("leaves out the studies the prompt set's manifest says it trained and validated on, matched by StudyInstanceUID", async () => {
    const runId = await classify('learned');
    expect((await callApi(b, 'runs.list', {})).filter((r) => r.kind === 'prompt-learning')).toEqual([]);
    const report = await callApi(b, 'runs.evaluate', { runId, scope: 'exam', bootstrapSamples: 20 });
    expect(report.n).toBe(split.test.length);
    expect(report.evaluationSet).toMatchObject({
      heldOutOnly: true,
      studies: split.test.length,
      excludedStudies: split.train.length + split.val.length,
      includesTrainingData: false,
      trainingDataUnknown: false,
      lineage: ['prompt set "learned" (split "site-a" of the library it was trained in, from its manifest)'],
    });
    // the export marks the parts the same way
    const csv = (await callApi(b, 'runs.exportCsv', { runId, scope: 'exam' })).csv.trim().split('\n');
    const header = csv[0]!.split(',');
    const part = new Map(
      csv
        .slice(1)
        .map((l) => l.split(','))
        .map((c) => [c[0]!, c[header.indexOf('split_part')]!]),
    );
    for (const uid of split.train) expect(part.get(uid)).toBe('train');
    for (const uid of split.val) expect(part.get(uid)).toBe('val');
    for (const uid of split.test) expect(part.get(uid)).toBe('test');
    // asked for all studies, marked as including training data
    const all = await callApi(b, 'runs.evaluate', { runId, scope: 'exam', bootstrapSamples: 20, includeTraining: true });
    expect(all).toMatchObject({ n: 12, evaluationSet: { includesTrainingData: true } });
  }, 300_000);

  it('a prompt set whose manifest names no studies: "training data unknown", never "held out"', async () => {
    const runId = await classify('silent');
    const report = await callApi(b, 'runs.evaluate', { runId, scope: 'exam', bootstrapSamples: 20 });
    expect(report.n).toBe(12);
    expect(report.evaluationSet).toMatchObject({ trainingDataUnknown: true, excludedStudies: 0 });
    expect(report.evaluationSet!.description).toBe(
      'training data unknown (prompt set "silent" (from elsewhere, training data unknown) does not list the studies it was trained on): all studies',
    );
    const csv = (await callApi(b, 'runs.exportCsv', { runId, scope: 'exam' })).csv.trim().split('\n');
    const col = csv[0]!.split(',').indexOf('split_part');
    expect(new Set(csv.slice(1).map((l) => l.split(',')[col]))).toEqual(new Set(['']));
    b.close();
    const text = runCli(['runs', 'evaluate', String(runId), '--scope', 'exam', '--bootstrap', '20', '--data-dir', dataDirB]);
    expect(text).toMatch(/TRAINING DATA UNKNOWN/);
    expect(text).toMatch(/^evaluated on: training data unknown/m);
    b = testBackend(dataDirB);
  }, 300_000);
});
