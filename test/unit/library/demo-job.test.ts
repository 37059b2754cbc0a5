import { afterAll, describe, expect, it } from 'vitest';
import type { DemoJobResult } from '../../../src/common/jobs';
import { callApi } from '../../helpers/api';
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
      const report = await callApi(b, 'runs.evaluate', { runId, scope: 'breast', bootstrapSamples: 50 });
      expect(report.n).toBe(r.labels);
    } finally {
      b.close();
    }
  }, 600_000);
});
