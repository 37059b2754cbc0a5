// `cleft classify --study UID...` on studies of the library runs the classify job kind as the app's
// Classify does (cli/run-job.ts): the run is recorded, its id printed ("runId" in --json), and the
// Predictions page's API (runs.get, runs.predictions) shows the same predictions the command printed
// and the app's own path (classify.start) gives for the same study, model and task.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClassifyResult } from '../../../../src/common/jobs';
import type { Prediction } from '../../../../src/common/runs';
import { defaultTokenizerDir } from '../../../../src/native/cleft/demo';
import { QUICK_SIZES, writeTinyModels } from '../../../../src/native/cleft/tiny-models';
import { callApi } from '../../../helpers/api';
import { runCli } from '../../../helpers/cli';
import { requireDump2dcm, writeFourViewExam } from '../../../helpers/dcmtk';
import { addTinyBundle, importExams, taskNamed, testBackend, type TinyBundle } from '../../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);

interface CliOutput {
  runId: number;
  task: string;
  classes: string[];
  model: { sha256: string; modelId: number };
  device: string;
  views: { sopInstanceUID: string; laterality: string; view: string; probabilities: Record<string, number> }[];
  breast: Record<string, Record<string, number>>;
  exam: Record<string, number>;
  prediction: string;
  studies: { studyInstanceUID: string }[];
}

/** A run's predictions keyed by target, to compare two runs (or a run and the printed output). */
function byTarget(rows: readonly Prediction[]): Map<string, Record<string, number>> {
  return new Map(rows.map((p) => [`${p.studyUid} ${p.scope} ${p.sopInstanceUid ?? ''} ${p.laterality ?? ''}`, p.probabilities]));
}

function expectClose(a: Record<string, number>, b: Record<string, number>): void {
  expect(Object.keys(a)).toEqual(Object.keys(b));
  for (const k of Object.keys(a)) expect(a[k]).toBeCloseTo(b[k]!, 6);
}

describe('cleft classify --study', () => {
  let dataDir: string;
  let bundle: TinyBundle;
  let uids: string[];
  let exam2Files: string[];
  beforeAll(async () => {
    requireDump2dcm();
    const source = tmpDir('cleft-dicom-');
    writeFourViewExam(source, 1);
    exam2Files = writeFourViewExam(source, 2);
    dataDir = path.join(tmpDir(), 'library');
    const b = testBackend(dataDir);
    try {
      bundle = await addTinyBundle(b, 7, { name: 'tiny' });
      uids = (await importExams(b, source)).map((s) => s.studyUid);
    } finally {
      await b.close();
    }
  }, 300_000);

  it(
    'records the run as the app does: same run through the Predictions API, same predictions as classify.start',
    { timeout: 300_000 },
    async () => {
      const out = JSON.parse(
        runCli(['classify', '--bundle', bundle.dir, '--task', 'Breast density', '--study', uids[0]!, '--json'], { dataDir }),
      ) as CliOutput;
      expect(out.runId).toEqual(expect.any(Number));
      expect(out).toMatchObject({ task: 'Breast density', classes: ['A', 'B', 'C', 'D'], device: 'cpu' });
      expect(out.model).toMatchObject({ sha256: bundle.sha256, modelId: bundle.modelId });
      expect(out.studies.map((s) => s.studyInstanceUID)).toEqual([uids[0]]);
      expect(out.views.map((v) => `${v.laterality}${v.view}`).sort()).toEqual(['LCC', 'LMLO', 'RCC', 'RMLO']);

      const b = testBackend(dataDir);
      try {
        const density = await taskNamed(b);
        const run = await callApi(b, 'runs.get', { id: out.runId });
        expect(run).toMatchObject({ kind: 'zero-shot', modelId: bundle.modelId, taskId: density.id, predictions: 4 + 2 + 1 });
        expect(run.record).toMatchObject({ modelSha256: bundle.sha256, executionProvider: 'cpu' });
        expect((await callApi(b, 'runs.list', { taskId: density.id })).map((r) => r.id)).toContain(out.runId);
        const recorded = (await callApi(b, 'runs.predictions', { runId: out.runId, limit: 100 })).rows;
        expect(recorded).toHaveLength(7);

        // What the command printed is what the run holds.
        const printed = byTarget(recorded);
        for (const v of out.views) expectClose(v.probabilities, printed.get(`${uids[0]} image ${v.sopInstanceUID} ${v.laterality}`)!);
        for (const side of ['L', 'R']) expectClose(out.breast[side]!, printed.get(`${uids[0]} breast  ${side}`)!);
        expectClose(out.exam, printed.get(`${uids[0]} exam  `)!);
        const exam = recorded.find((p) => p.scope === 'exam')!;
        expect(out.prediction).toBe(exam.predictedClass);

        // The app's path on the same study, model and task gives the same predictions.
        const studyId = (await callApi(b, 'library.studies', {})).rows.find((s) => s.studyUid === uids[0])!.id;
        const job = await b.jobs.waitFor(
          (await callApi(b, 'classify.start', { taskId: density.id, studyIds: [studyId], modelId: bundle.modelId })).id,
        );
        expect(job.error).toBeNull();
        const ui = (await callApi(b, 'runs.predictions', { runId: (job.result as ClassifyResult).runId, limit: 100 })).rows;
        const fromUi = byTarget(ui);
        expect([...fromUi.keys()].sort()).toEqual([...printed.keys()].sort());
        for (const [k, p] of printed) expectClose(p, fromUi.get(k)!);
      } finally {
        await b.close();
      }
    },
  );

  it('several studies in one run; the text output names the run', { timeout: 300_000 }, async () => {
    const stdout = runCli(['classify', '--bundle', bundle.dir, '--task', 'Breast density', '--study', ...uids], { dataDir });
    const m = /^run (\d+) recorded: Breast density with tiny \([0-9a-f]{12}\), prompts: task templates, device cpu$/m.exec(stdout);
    expect(m, stdout).not.toBeNull();
    for (const uid of uids) expect(stdout).toContain(` study ${uid}`);
    expect(stdout.match(/^ {2}exam /gm)).toHaveLength(2);
    const b = testBackend(dataDir);
    try {
      const run = await callApi(b, 'runs.get', { id: Number(m![1]) });
      expect(run.predictions).toBe(2 * (4 + 2 + 1));
    } finally {
      await b.close();
    }
  });

  it('registers a bundle the library does not know yet (in place), as a run names its model', { timeout: 300_000 }, async () => {
    const parts = writeTinyModels(tmpDir(), QUICK_SIZES, 9);
    const b = testBackend(dataDir);
    let dir: string;
    try {
      dir = (
        await callApi(b, 'models.createBundle', {
          output: path.join(tmpDir(), 'other'),
          name: 'other',
          textModel: parts.text,
          imageModel: parts.image,
          heads: parts.heads,
          tokenizer: defaultTokenizerDir(),
          register: false,
        })
      ).dir;
    } finally {
      await b.close();
    }
    const out = JSON.parse(
      runCli(['classify', '--bundle', dir, '--task', 'Breast density', '--study', uids[1]!, '--json'], { dataDir }),
    ) as CliOutput;
    const again = testBackend(dataDir);
    try {
      const model = (await callApi(again, 'models.list', {})).find((m) => m.id === out.model.modelId)!;
      expect(model).toMatchObject({ name: 'other', copied: false, path: dir });
      expect((await callApi(again, 'runs.get', { id: out.runId })).modelId).toBe(model.id);
    } finally {
      await again.close();
    }
  });

  it(
    'a second classification with unchanged model and prompts reads the class embeddings from the library cache',
    { timeout: 300_000 },
    async () => {
      // A task of its own, so no other test of this file has cached its prompts.
      const b = testBackend(dataDir);
      try {
        await callApi(b, 'tasks.create', {
          name: 'Cache check',
          scope: 'breast',
          classes: ['fatty', 'dense'].map((n) => ({ name: n, label: n, prompts: [`a mammogram of ${n} breast tissue`] })),
        });
      } finally {
        await b.close();
      }
      const classify = () =>
        JSON.parse(
          runCli(['classify', '--bundle', bundle.dir, '--task', 'Cache check', '--study', uids[1]!, '--json'], { dataDir }),
        ) as CliOutput & {
          classEmbeddings: string;
        };
      const first = classify();
      expect(first.classEmbeddings).toBe('computed');
      const second = classify();
      expect(second.classEmbeddings).toBe('cache');
      expect(second.exam).toEqual(first.exam);
      const text = runCli(['classify', '--bundle', bundle.dir, '--task', 'Cache check', '--study', uids[1]!], { dataDir });
      expect(text).toContain('class embeddings: read from the library cache (the text encoder did not run)');
      // DICOM files classified with a bundle the library has registered read the same cache
      const files = JSON.parse(
        runCli(['classify', '--bundle', bundle.dir, '--task', 'Cache check', '--dicom', ...exam2Files, '--json'], { dataDir }),
      ) as { classEmbeddings: string };
      expect(files.classEmbeddings).toBe('cache');
    },
  );

  it('names a study that is not in the library', () => {
    expect(() => runCli(['classify', '--bundle', bundle.dir, '--task', 'Breast density', '--study', '1.2.3.999'], { dataDir })).toThrow(
      /study 1\.2\.3\.999: not in the library/,
    );
  });
});
