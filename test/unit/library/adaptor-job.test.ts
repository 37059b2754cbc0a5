// The Adaptor / linear probe as a job on library labels: the head lands in the bundle, the run
// holds the held-out images' probabilities, and classification with the saved head reproduces them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import type { ClassifyResult } from '../../../src/common/jobs';
import type { TrainAdaptorResult } from '../../../src/common/jobs';
import { manifestSha256, openBundle, parseBundleManifest } from '../../../src/native/bundle/index';
import { startCli, stopClis } from '../../helpers/cli';
import { callApi } from '../../helpers/api';
import { testBackend, addTinyBundle, importExams, taskNamed } from '../../helpers/library';
import { requireDump2dcm, writeFourViewExam } from '../../helpers/dcmtk';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

let b: Backend;
let source: string;
beforeAll(() => {
  requireDump2dcm();
  source = tmpDir('cleft-dicom-');
  writeFourViewExam(source, 1);
  writeFourViewExam(source, 2);
});
afterEach(stopClis);
afterEach(() => b?.close());
afterAll(removeTmpDirs);

describe('train-adaptor job', () => {
  it('trains a linear probe and an Adaptor on labelled breasts, saves them in the bundle, and classify uses them', async () => {
    const dataDir = tmpDir();
    b = testBackend(dataDir);
    const density = await taskNamed(b);
    const { modelId } = await addTinyBundle(b, 11);
    const studies = await importExams(b, source);
    await expect(
      b.jobs.waitFor((await callApi(b, 'train.adaptor', { modelId, taskId: density.id, name: 'none' })).id),
    ).resolves.toMatchObject({ status: 'failed', error: expect.stringMatching(/at least two classes/) });

    // 4 breasts x 2 views: A, B, A, B -> 4 images per class. The split is by patient (P1, P2): one
    // whole patient, both breasts and both views, is held out (never one view of a breast on each side).
    for (const [i, s] of studies.entries())
      for (const side of ['L', 'R'] as const)
        await callApi(b, 'labels.set', {
          target: { taskId: density.id, studyId: s.id, scope: 'breast', laterality: side },
          className: (i * 2 + (side === 'L' ? 1 : 0)) % 2 === 0 ? 'A' : 'B',
        });

    for (const mode of ['linear-probe', 'adaptor'] as const) {
      const job = await callApi(b, 'train.adaptor', {
        modelId,
        taskId: density.id,
        name: `head-${mode}`,
        mode,
        steps: 40,
        valFraction: 0.25,
        seed: 3,
      });
      const done = await b.jobs.waitFor(job.id);
      expect(done.error).toBeNull();
      const r = done.result as TrainAdaptorResult;
      expect(r).toMatchObject({ mode, images: 8, train: 4, val: 4 });
      expect(r.split!.trainStudies).toHaveLength(1);
      expect(r.split!.valStudies).toHaveLength(1);
      // Classes C and D have no images at all: measured over A and B, never NaN.
      for (const v of [r.metrics.accuracy, r.metrics.balancedAccuracy, r.metrics.macroAuc]) {
        expect(v).not.toBeNull();
        expect(v!).toBeGreaterThanOrEqual(0);
        expect(v!).toBeLessThanOrEqual(1);
      }
      expect(r.notes.join(' ')).toMatch(/no images of C, D/);

      const run = await callApi(b, 'runs.get', { id: r.runId });
      expect(run).toMatchObject({
        kind: 'adaptor',
        predictions: expect.any(Number),
        record: { modelSha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      });
      const held = (await callApi(b, 'runs.predictions', { runId: r.runId, limit: 100 })).rows.filter((p) => p.scope === 'image');
      expect(held).toHaveLength(4);
      expect(new Set(held.map((p) => p.studyId))).toEqual(new Set([studies.find((s) => s.studyUid === r.split!.valStudies[0])!.id]));
      // Labels are per breast; the held-out patient's two breasts are measured from their two views' mean.
      // They are the training's validation studies: not held out, so only on request, and marked.
      const none = await callApi(b, 'runs.evaluate', { runId: r.runId, scope: 'breast', bootstrapSamples: 10 });
      expect(none).toMatchObject({ n: 0, accuracy: null, evaluationSet: { studies: 0, includesTrainingData: false } });
      expect(none.emptyReason).toMatch(
        /^no labelled breast among the held-out predictions: the adaptor was trained on every labelled study/,
      );
      const report = await callApi(b, 'runs.evaluate', { runId: r.runId, scope: 'breast', bootstrapSamples: 10, includeTraining: true });
      expect(report.evaluationSet).toMatchObject({ includesTrainingData: true, studies: 1 });
      expect(report.n).toBe(2);
      const breasts = (await callApi(b, 'runs.predictions', { runId: r.runId, limit: 100 })).rows.filter((p) => p.scope === 'breast');
      expect(report.accuracy!.estimate).toBeCloseTo(breasts.filter((p) => p.predictedClass === p.label).length / breasts.length, 9);

      const bundle = await openBundle((await callApi(b, 'models.list', {})).find((m) => m.id === modelId)!.path, { verify: 'full' });
      const entry = bundle.adaptors.find((a) => a.name === `head-${mode}`)!;
      expect(entry).toMatchObject({ mode, classNames: ['A', 'B', 'C', 'D'], adaptor: mode === 'adaptor' ? { dim: 128, layers: 2 } : null });

      // Classifying with the saved head gives the held-out images the probabilities of the training run.
      const cls = await b.jobs.waitFor(
        (await callApi(b, 'classify.start', { modelId, taskId: density.id, studyIds: studies.map((s) => s.id), adaptor: `head-${mode}` }))
          .id,
      );
      expect(cls.error).toBeNull();
      const clsRun = await callApi(b, 'runs.get', { id: (cls.result as ClassifyResult).runId });
      expect(clsRun.kind).toBe('adaptor');
      expect(clsRun.record.params).toMatchObject({ adaptor: `head-${mode}` });
      const clsPreds = (await callApi(b, 'runs.predictions', { runId: clsRun.id, limit: 100 })).rows;
      for (const h of held) {
        const p = clsPreds.find((q) => q.scope === 'image' && q.instanceId === h.instanceId)!;
        for (const c of ['A', 'B', 'C', 'D']) expect(p.probabilities[c]).toBeCloseTo(h.probabilities[c]!, 5);
      }
      // `cleft classify --adaptor` (same head, features computed afresh) agrees with the job per exam.
      // Spawned, not run synchronously: the CLI queues its classify job for the runner of this
      // library, which is this test's backend, so this process must keep serving it.
      const child = startCli([
        'classify',
        '--bundle',
        bundle.dir,
        '--task',
        'Breast density',
        '--study',
        studies[0]!.studyUid,
        '--adaptor',
        `head-${mode}`,
        '--data-dir',
        dataDir,
        '--json',
      ]);
      const ended = await child.exited;
      expect(ended.code, child.stderr()).toBe(0);
      const cli = JSON.parse(child.stdout()) as { adaptor: string; exam: Record<string, number> };
      expect(cli.adaptor).toBe(`head-${mode}`);
      const exam = clsPreds.find((q) => q.scope === 'exam' && q.studyId === studies[0]!.id)!;
      for (const c of ['A', 'B', 'C', 'D']) expect(cli.exam[c]).toBeCloseTo(exam.probabilities[c]!, 4);
    }
    await expect(
      b.jobs.waitFor(
        (await callApi(b, 'classify.start', { modelId, taskId: density.id, studyIds: [studies[0]!.id], adaptor: 'missing' })).id,
      ),
    ).resolves.toMatchObject({ status: 'failed', error: expect.stringMatching(/no adaptor "missing"/) });
  }, 600_000); // two trainings, two classifications and two CLI runs: minutes on a busy 2-core machine

  it('bundles without adaptors keep their identity (older manifests have no "adaptors" key)', async () => {
    b = testBackend();
    const made = await addTinyBundle(b, 2, { tokenizer: false });
    const bundle = await openBundle(made.dir, { verify: 'sizes' });
    const { adaptors: _a, ...older } = bundle.manifest;
    expect(manifestSha256(parseBundleManifest(JSON.parse(JSON.stringify(older))))).toBe(bundle.sha256);
  });
});
