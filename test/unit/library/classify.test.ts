import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import type { ClassifyResult } from '../../../src/common/jobs';
import type { PromptLearnResult } from '../../../src/common/jobs';
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
afterEach(() => b?.close());
afterAll(removeTmpDirs);

describe('zero-shot classification job', () => {
  it('classifies studies per view, breast and exam, records the run, and reuses cached features', async () => {
    b = testBackend();
    const density = await taskNamed(b);
    await expect(callApi(b, 'classify.start', { taskId: density.id, studyIds: [1] })).rejects.toMatchObject({ code: 'conflict' });

    const made = await addTinyBundle(b, 7, { name: 'tiny' });
    expect((await callApi(b, 'models.list', {})).map((m) => [m.id, m.kind])).toEqual([[made.modelId, 'bundle']]);
    const studyIds = (await importExams(b, source)).map((s) => s.id);

    const job = await callApi(b, 'classify.start', { taskId: density.id, studyIds });
    const done = await b.jobs.waitFor(job.id);
    expect(done.error).toBeNull();
    const result = done.result as ClassifyResult;
    expect(result).toMatchObject({ studies: 2, images: 8, featureCacheHits: 0, executionProvider: 'cpu' });

    const run = await callApi(b, 'runs.get', { id: result.runId });
    expect(run).toMatchObject({
      kind: 'zero-shot',
      predictions: 2 * (4 + 2 + 1),
      record: { modelSha256: made.sha256, executionProvider: 'cpu' },
    });
    expect(run.record.preprocessSha256).toMatch(/^[0-9a-f]{64}$/);
    const preds = await callApi(b, 'runs.predictions', { runId: result.runId, limit: 100 });
    for (const p of preds.rows) {
      const values = Object.values(p.probabilities);
      expect(Object.keys(p.probabilities)).toEqual(['A', 'B', 'C', 'D']);
      expect(values.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 5);
      expect(p.confidence).toBeCloseTo(Math.max(...values), 6);
    }
    // Per-breast probabilities are the mean of that breast's views.
    const study = studyIds[0]!;
    const views = preds.rows.filter((p) => p.studyId === study && p.scope === 'image' && p.laterality === 'R');
    const breast = preds.rows.find((p) => p.studyId === study && p.scope === 'breast' && p.laterality === 'R')!;
    expect(views).toHaveLength(2);
    for (const c of ['A', 'B', 'C', 'D'])
      expect(breast.probabilities[c]).toBeCloseTo((views[0]!.probabilities[c]! + views[1]!.probabilities[c]!) / 2, 6);

    const again = await b.jobs.waitFor((await callApi(b, 'classify.start', { taskId: density.id, studyIds })).id);
    const second = again.result as ClassifyResult;
    expect(second.featureCacheHits).toBe(8);
    const preds2 = await callApi(b, 'runs.predictions', { runId: second.runId, limit: 100 });
    expect(preds2.rows.map((p) => p.probabilities)).toEqual(preds.rows.map((p) => p.probabilities));
  });
});

describe('prompt learning on library labels', () => {
  it('learns a prompt set from labelled breasts, adds it to the bundle, and classification can use it', async () => {
    b = testBackend();
    const density = await taskNamed(b);
    const { modelId } = await addTinyBundle(b, 3);
    const studies = await importExams(b, source);
    await expect(
      b.jobs.waitFor((await callApi(b, 'train.promptLearn', { modelId, taskId: density.id, name: 'none' })).id),
    ).resolves.toMatchObject({ status: 'failed', error: expect.stringMatching(/at least two classes/) });

    const classes = ['A', 'B', 'C', 'D'];
    for (const [i, s] of studies.entries())
      for (const side of ['L', 'R'] as const)
        await callApi(b, 'labels.set', {
          target: { taskId: density.id, studyId: s.id, scope: 'breast', laterality: side },
          className: classes[i * 2 + (side === 'L' ? 1 : 0)]!,
        });

    // One-click classification with the task's prompts, on the same 8 images prompt learning is judged
    // on below (no validation split): its "before" must be exactly this.
    const base = await b.jobs.waitFor(
      (await callApi(b, 'classify.start', { modelId, taskId: density.id, studyIds: studies.map((s) => s.id) })).id,
    );
    const images = (
      await callApi(b, 'runs.predictions', { runId: (base.result as ClassifyResult).runId, filter: { scope: 'image' }, limit: 100 })
    ).rows;
    expect(images).toHaveLength(8);
    const labelOf = (p: (typeof images)[number]) =>
      classes[studies.findIndex((s) => s.id === p.studyId) * 2 + (p.laterality === 'L' ? 1 : 0)]!;
    const zeroShotAccuracy = images.filter((p) => p.predictedClass === labelOf(p)).length / images.length;
    const zeroShotLoss = -images.reduce((sum, p) => sum + Math.log(p.probabilities[labelOf(p)]!), 0) / images.length;

    const seen: number[] = [];
    b.events.subscribe((event, payload) => {
      if (event === 'job.metric') seen.push((payload as { point: { step: number } }).point.step);
    });
    const job = await callApi(b, 'train.promptLearn', {
      modelId,
      taskId: density.id,
      name: 'site-a',
      nCtx: 4,
      steps: 6,
      batchSize: 4,
      valFraction: 0,
    });
    const done = await b.jobs.waitFor(job.id);
    expect(done.error).toBeNull();
    expect(done.result).toMatchObject({ promptSet: 'site-a', images: 8, steps: 6 });
    const { before, after } = (done.result as PromptLearnResult).metrics;
    expect(before!.accuracy).toBeCloseTo(zeroShotAccuracy, 9);
    expect(before!.loss).toBeCloseTo(zeroShotLoss, 4);
    expect(after!.loss).toBeLessThan(before!.loss!);
    expect(seen.length).toBeGreaterThan(0);
    expect((await callApi(b, 'jobs.metrics', { id: job.id })).map((p) => p.step)).toEqual(seen);
    const run = await callApi(b, 'runs.list', { kind: 'prompt-learning' });
    expect(run[0]).toMatchObject({ promptSetId: expect.any(Number), record: { promptSetSha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });

    const zs = await b.jobs.waitFor(
      (await callApi(b, 'classify.start', { modelId, taskId: density.id, studyIds: [studies[0]!.id], promptSet: 'site-a' })).id,
    );
    expect(zs.error).toBeNull();
    expect((await callApi(b, 'runs.get', { id: (zs.result as ClassifyResult).runId })).record.promptSetSha256).toBe(
      run[0]!.record.promptSetSha256,
    );
  });
});
