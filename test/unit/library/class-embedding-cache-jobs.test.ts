// The classify and explain jobs read class text embeddings from the library's cache (jobs on worker
// threads, a tiny bundle, an imported exam): the first classification computes and records
// 'computed', the second records 'cache' with the same predictions, the patch map of the same model
// and task reads the same row, and a learned prompt set whose context changed is encoded again.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import { ExplainStudyResult, type ClassifyResult } from '../../../src/common/jobs';
import { addPromptSet, openBundle } from '../../../src/native/bundle/index';
import { callApi } from '../../helpers/api';
import { addTinyBundle, importExams, taskNamed, testBackend } from '../../helpers/library';
import { requireDump2dcm, writeFourViewExam } from '../../helpers/dcmtk';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

let b: Backend;
let source: string;
beforeAll(() => {
  requireDump2dcm();
  source = tmpDir('cleft-dicom-');
  writeFourViewExam(source, 1);
});
afterEach(() => b?.close());
afterAll(removeTmpDirs);

describe('class embedding cache in the jobs', () => {
  it(
    'classify records computed then cache with the same predictions; explain reads the same row; a changed learned context is encoded again',
    {
      timeout: 300_000,
    },
    async () => {
      b = testBackend();
      const density = await taskNamed(b);
      const { modelId, dir } = await addTinyBundle(b, 7, { name: 'tiny' });
      const studyIds = (await importExams(b, source)).map((s) => s.id);

      const classify = async (promptSet: string | null = null) => {
        const done = await b.jobs.waitFor((await callApi(b, 'classify.start', { taskId: density.id, studyIds, modelId, promptSet })).id);
        expect(done.error).toBeNull();
        const result = done.result as ClassifyResult;
        const run = await callApi(b, 'runs.get', { id: result.runId });
        const preds = await callApi(b, 'runs.predictions', { runId: result.runId, limit: 100 });
        return { result, run, probabilities: preds.rows.map((p) => p.probabilities) };
      };

      const first = await classify();
      expect(first.result.classEmbeddings).toBe('computed');
      expect(first.run.record.params.classEmbeddings).toEqual({ source: 'computed', keySha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      const second = await classify();
      expect(second.result.classEmbeddings).toBe('cache');
      expect(second.run.record.params.classEmbeddings).toEqual({
        source: 'cache',
        keySha256: (first.run.record.params.classEmbeddings as { keySha256: string }).keySha256,
      });
      expect(second.probabilities).toEqual(first.probabilities);

      const inst = (await callApi(b, 'library.study', { id: studyIds[0]! })).instances[0]!;
      const explained = await b.jobs.waitFor(
        (await callApi(b, 'explain.start', { modelId, taskId: density.id, instanceIds: [inst.id] })).id,
      );
      expect(explained.error).toBeNull();
      const study = ExplainStudyResult.parse(explained.result);
      expect(study).toMatchObject({ classEmbeddings: 'cache', classNames: ['A', 'B', 'C', 'D'] });
      expect(study.images.map((i) => i.classEmbeddings)).toEqual(['cache']);

      // A learned prompt set: computed once, then cached; replaced with other context vectors, computed again.
      const learn = async (fill: number) => {
        const bundle = await openBundle(dir);
        const dim = bundle.text.config.nEmbd;
        await addPromptSet(
          bundle,
          'learned',
          { data: new Float32Array(2 * dim).fill(fill), shape: [2, dim] },
          { task: 'Breast density', classNames: ['A', 'B', 'C', 'D'], nCtx: 2, initPhrase: null },
          { replace: true },
        );
      };
      await learn(0.01);
      expect((await classify('learned')).result.classEmbeddings).toBe('computed');
      const cached = await classify('learned');
      expect(cached.result.classEmbeddings).toBe('cache');
      await learn(0.02);
      const changed = await classify('learned');
      expect(changed.result.classEmbeddings).toBe('computed');
      expect(changed.probabilities).not.toEqual(cached.probabilities);
      // the templates' row stayed valid beside the prompt set's
      expect((await classify()).result.classEmbeddings).toBe('cache');
    },
  );
});
