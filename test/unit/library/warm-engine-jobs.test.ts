// Sessions stay warm in the job worker from one job to the next (src/main/jobs/job-workers.ts):
// real classify jobs on worker threads, a tiny bundle, imported exams. Each job encodes new images
// and new prompts (another study, another task), so both encoders run in every job; the worker's
// engine stats prove the later jobs created no session (cache hits, not timing). A cancelled and a
// failed job in between leave the worker and its sessions usable; a changed Setting reaches the
// warm worker without a restart; the idle release still releases.
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import type { ClassifyResult } from '../../../src/common/jobs';
import type { WorkerEngineStats } from '../../../src/main/workers/job-protocol';
import { callApi } from '../../helpers/api';
import { addTinyBundle, importExams, taskNamed, testBackend } from '../../helpers/library';
import { requireDump2dcm, writeFourViewExam } from '../../helpers/dcmtk';
import { makeEndlessFileTree, removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { until } from '../../helpers/wait';

let b: Backend;
let source: string;
beforeAll(() => {
  requireDump2dcm();
  source = tmpDir('cleft-dicom-');
  for (let n = 1; n <= 5; n++) writeFourViewExam(source, n);
});
afterEach(() => b?.close());
afterAll(removeTmpDirs);

const classes = (word: string) =>
  ['A', 'B'].map((name) => ({ name, label: `${word} ${name}`, prompts: [`a mammogram showing ${word} of grade ${name}`] }));

describe('warm engine across jobs', () => {
  it(
    'a second classify job finds its image and text sessions loaded; cancelled and failed jobs do not spoil them; Settings and idle release reach the warm worker',
    { timeout: 300_000 },
    async () => {
      b = testBackend();
      const density = await taskNamed(b);
      const birads = await taskNamed(b, 'BI-RADS assessment');
      const { modelId } = await addTinyBundle(b, 11, { name: 'tiny' });
      const studies = await importExams(b, source);
      const studyId = (n: number) => studies[n - 1]!.id;
      const engine = (): WorkerEngineStats => {
        const s = b.jobs.engineStats();
        if (!s) throw new Error('the job worker has not reported its engine yet');
        return s;
      };

      const classify = async (taskId: number, study: number) => {
        const done = await b.jobs.waitFor(
          (await callApi(b, 'classify.start', { taskId, studyIds: [studyId(study)], modelId, promptSet: null })).id,
        );
        expect(done.error).toBeNull();
        const result = done.result as ClassifyResult;
        // New images and new prompts: both encoders ran in this job.
        expect(result.featureCacheHits).toBe(0);
        return { result, engine: engine() };
      };

      // 1. A cold worker: the image and text sessions are created.
      const first = await classify(density.id, 1);
      expect(first.result.classEmbeddings).toBe('computed');
      expect(Object.keys(first.result.device!.graphs).sort()).toEqual(['image_encoder', 'text_encoder']);
      expect(first.engine.misses).toBeGreaterThanOrEqual(2);
      expect(first.engine.size).toBe(first.engine.misses);

      // 2. Another prompt set and another study, back to back: the same worker, no session created.
      const second = await classify(birads.id, 2);
      expect(second.result.classEmbeddings).toBe('computed');
      expect(Object.keys(second.result.device!.graphs).sort()).toEqual(['image_encoder', 'text_encoder']);
      expect(second.engine.misses).toBe(first.engine.misses);
      expect(second.engine.hits).toBeGreaterThanOrEqual(first.engine.hits + 2);
      expect(second.engine.size).toBe(first.engine.size);
      expect(b.jobs.hasWarmWorker).toBe(true);

      // 3. A cancelled job in between (stopped at its check, so the worker stays).
      const endless = b.jobs.enqueue({ kind: 'hash-folder', params: { folder: makeEndlessFileTree().root } });
      await until(() => b.jobs.get(endless.id).progress.fraction > 0, 'progress on the endless job', 60_000);
      b.jobs.cancel(endless.id);
      expect((await b.jobs.waitFor(endless.id)).status).toBe('cancelled');
      expect(b.jobs.hasWarmWorker).toBe(true);

      // 4. A failed engine job: its prompts are encoded (on the kept session), then its images are gone.
      const broken = await callApi(b, 'tasks.create', { name: 'Broken', scope: 'image', classes: classes('calcification') });
      for (const inst of (await callApi(b, 'library.study', { id: studyId(4) })).instances) fs.rmSync(inst.filePath, { force: true });
      const failed = await b.jobs.waitFor(
        (await callApi(b, 'classify.start', { taskId: broken.id, studyIds: [studyId(4)], modelId, promptSet: null })).id,
      );
      expect(failed.status).toBe('failed');
      expect(engine().misses).toBe(first.engine.misses);

      // 5. The next job still finds both sessions.
      const other = await callApi(b, 'tasks.create', { name: 'Other', scope: 'image', classes: classes('asymmetry') });
      const after = await classify(other.id, 3);
      expect(after.result.classEmbeddings).toBe('computed');
      expect(after.engine.misses).toBe(first.engine.misses);
      expect(after.engine.hits).toBeGreaterThan(second.engine.hits);
      expect(after.engine.evictions).toBe(0);

      // 6. A memory budget set in the Settings reaches the warm worker (no job runs, no restart):
      // every kept session but the most recently used one is released.
      // (Sessions are sized by the RSS they added, MiBs even for tiny models: say so if not, rather than wait.)
      expect(after.engine.bytes).toBeGreaterThan(2 ** 20);
      await callApi(b, 'settings.update', { sessionMemoryMb: 1 });
      await until(() => engine().size === 1, 'the budget applied in the warm worker', 60_000);
      expect(engine().evictions).toBe(after.engine.size - 1);

      // 7. The idle release releases the rest.
      b.jobs.configureEngine({ idleMs: 1, budgetBytes: 0 });
      await until(() => engine().size === 0, 'the idle release in the warm worker', 60_000);
      expect(engine().evictions).toBe(after.engine.size);

      // 8. So the next job creates its session again (its prompts are cached: only the image encoder runs).
      // Back to the Settings' policy (10 minutes, no budget): the job applies it when it starts.
      await callApi(b, 'settings.update', { sessionMemoryMb: 0 });
      const again = await b.jobs.waitFor(
        (await callApi(b, 'classify.start', { taskId: density.id, studyIds: [studyId(5)], modelId, promptSet: null })).id,
      );
      expect(again.error).toBeNull();
      expect((again.result as ClassifyResult).classEmbeddings).toBe('cache');
      expect(engine().misses).toBe(first.engine.misses + 1);
      expect(engine().size).toBe(1); // kept: the job applied the Settings' 10 minutes, not the 1 ms set above
    },
  );
});
