import { afterAll, describe, expect, it } from 'vitest';
import type { DemoJobResult } from '../../../src/common/jobs';
import { callApi } from '../../helpers/api';
import { openBundle } from '../../../src/native/bundle/index';
import { removeTmpDirs } from '../../helpers/tmp';
import { testBackend } from '../../helpers/library';

afterAll(removeTmpDirs);

describe('first-run demo job', () => {
  it('leaves a library with labelled phantom studies and a registered model the app can classify with', async () => {
    const b = testBackend();
    try {
      const job = await callApi(b, 'demo.start', { quick: true });
      const done = await b.jobs.waitFor(job.id);
      expect(done.error).toBeNull();
      const r = done.result as DemoJobResult;
      expect(r.studies).toBeGreaterThanOrEqual(8);
      expect(r.labels).toBe(2 * r.studies);
      expect(await callApi(b, 'library.stats', {})).toMatchObject({
        studies: r.studies,
        instances: 4 * r.studies,
        labels: r.labels,
        models: 1,
        reports: r.studies,
      });
      expect(r.reports).toBe(r.studies);
      const [model] = await callApi(b, 'models.list', { kind: 'bundle' });
      expect(model!.id).toBe(r.modelId);
      // The loop closes: classify the demo studies with the demo model and evaluate against the labels.
      const density = (await callApi(b, 'tasks.list', {})).find((t) => t.name === 'Breast density')!;
      const studyIds = (await callApi(b, 'library.studies', {})).rows.map((s) => s.id);
      const classified = await b.jobs.waitFor((await callApi(b, 'classify.start', { taskId: density.id, studyIds })).id);
      expect(classified.error).toBeNull();
      const runId = (classified.result as { runId: number }).runId;
      // The demo's bundle says which phantom exams trained it (its manifest's training.split): those
      // are left out of the held-out evaluation, and the prompt set's training exams too.
      const manifest = (await openBundle(r.bundleDir, { verify: 'sizes' })).manifest;
      const trained = (manifest.training!.split as { trainStudies: string[] }).trainStudies;
      expect(trained.length).toBeGreaterThan(0);
      const report = await callApi(b, 'runs.evaluate', { runId, scope: 'breast', bootstrapSamples: 50 });
      expect(report.evaluationSet).toMatchObject({
        excludedStudies: trained.length,
        trainingDataUnknown: false,
        lineage: ['bundle "CLEFT demo (phantoms)" (automatic split, seed 1, from its manifest)'],
      });
      expect(report.n).toBe(2 * (r.studies - trained.length));
      const all = await callApi(b, 'runs.evaluate', { runId, scope: 'breast', bootstrapSamples: 50, includeTraining: true });
      expect(all).toMatchObject({ n: r.labels, evaluationSet: { includesTrainingData: true } });
      const entry = manifest.promptSets.find((p) => p.name === r.promptSet)!;
      const prompt = entry.training!.split as { trainStudies: string[]; valStudies: string[] };
      const learned = await b.jobs.waitFor(
        (await callApi(b, 'classify.start', { taskId: density.id, studyIds, promptSet: r.promptSet })).id,
      );
      const withSet = await callApi(b, 'runs.evaluate', {
        runId: (learned.result as { runId: number }).runId,
        scope: 'breast',
        bootstrapSamples: 50,
      });
      const seen = new Set([...trained, ...prompt.trainStudies, ...prompt.valStudies]);
      expect(withSet.evaluationSet!.excludedStudies).toBe(seen.size);
      expect(withSet.n).toBe(2 * (r.studies - seen.size));
    } finally {
      b.close();
    }
  }, 600_000);
});
