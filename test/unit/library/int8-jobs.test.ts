// The weight precision of library jobs: Settings' Encoder weights is the default of prompt learning
// and classification, a job's own `weights` param wins, and the job result and the run record say
// which was used. Real library (3 labelled phantom exams), jobs on worker threads.
import { afterAll, describe, expect, it } from 'vitest';
import { callApi } from '../../helpers/api';
import { labelledLibrary, testBackend } from '../../helpers/library';
import { removeTmpDirs } from '../../helpers/tmp';

afterAll(removeTmpDirs);

describe('weights in library jobs', () => {
  it('prompt learning and classification follow Settings, a job param overrides it, records state it', { timeout: 600_000 }, async () => {
    const { dataDir, modelId, taskId } = await labelledLibrary();
    const b = testBackend(dataDir);
    try {
      expect((await callApi(b, 'settings.update', { weights: 'int8' })).weights).toBe('int8');
      const learn = async (name: string, weights?: 'float32' | 'int8') => {
        const job = await b.jobs.waitFor(
          (await callApi(b, 'train.promptLearn', { modelId, taskId, name, steps: 1, batchSize: 2, ...(weights ? { weights } : {}) })).id,
        );
        expect(job.status, job.error ?? '').toBe('done');
        const result = job.result as { runId: number; weights?: string };
        return { result: result.weights, record: (await callApi(b, 'runs.get', { id: result.runId })).record.weights };
      };
      expect(await learn('from-settings')).toEqual({ result: 'int8', record: 'int8' });
      expect(await learn('explicit', 'float32')).toEqual({ result: 'float32', record: 'float32' });

      const studyIds = (await callApi(b, 'library.studies', {})).rows.map((r) => r.id);
      const classify = async (weights?: 'float32' | 'int8') => {
        const job = await b.jobs.waitFor(
          (await callApi(b, 'classify.start', { modelId, taskId, studyIds, ...(weights ? { weights } : {}) })).id,
        );
        expect(job.status, job.error ?? '').toBe('done');
        const result = job.result as { runId: number; weights?: string };
        return { result: result.weights, record: (await callApi(b, 'runs.get', { id: result.runId })).record.weights };
      };
      expect(await classify()).toEqual({ result: 'int8', record: 'int8' });
      expect(await classify('float32')).toEqual({ result: 'float32', record: 'float32' });
    } finally {
      await b.close();
    }
  });
});
