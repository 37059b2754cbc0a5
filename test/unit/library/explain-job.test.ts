// The explain job end to end on a tiny bundle and an imported exam: one job maps the study's four
// images (one press of M), progress over the images, naming the study and task; per image one map
// per class over the patch grid, placed on the image, deterministic, with the prompt set and device
// named; a cancel lands within one image; clear errors for a missing image, images of two studies
// and a model that is not a bundle.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import { ExplainStudyResult, type Job } from '../../../src/common/jobs';
import { inTurn } from '../../../src/main/jobs/kinds/explain';
import { JobCancelled } from '../../../src/main/jobs/job-context';
import { addPromptSet, openBundle } from '../../../src/native/bundle/index';
import { builtinTask, classNamesForPromptLearning } from '../../../src/native/cleft/tasks';
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

describe('explain job', () => {
  it('maps patch similarity per class over the grid and places it on the image', { timeout: 300_000 }, async () => {
    b = testBackend();
    const density = await taskNamed(b);
    const { modelId, parts } = await addTinyBundle(b, 7, { name: 'tiny' });
    const [study, other] = await importExams(b, source);
    const instances = (await callApi(b, 'library.study', { id: study!.id })).instances;
    expect(instances).toHaveLength(4);
    const inst = instances[0]!;
    const ids = instances.map((i) => i.id);

    const updates: Job[] = [];
    b.events.subscribe((event, payload) => {
      if (event === 'job.updated') updates.push(payload as Job);
    });
    const run = async () => {
      const started = await callApi(b, 'explain.start', { modelId, taskId: density.id, instanceIds: ids });
      const done = await b.jobs.waitFor(started.id);
      expect(done.error).toBeNull();
      return { id: started.id, result: ExplainStudyResult.parse(done.result) };
    };
    const { id: jobId, result: all } = await run();
    // One job for the study: every image's maps, in the order asked, the study and task named.
    expect(all).toMatchObject({ study: 'P1 · A1', task: 'Breast density', model: 'tiny', classNames: ['A', 'B', 'C', 'D'] });
    expect(all.images.map((m) => m.instanceId)).toEqual(ids);
    expect((await callApi(b, 'jobs.list', { kind: 'explain' })).length).toBe(1);
    // Progress over the images: the fractions it reported never go back and end at 1.
    const fractions = updates.filter((j) => j.id === jobId && j.status === 'running').map((j) => j.progress.fraction);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1]!);
    expect((await callApi(b, 'jobs.get', { id: jobId })).progress.fraction).toBe(1);
    const r = all.images[0]!;
    expect(r).toMatchObject({ model: 'tiny', promptSet: null, provider: 'cpu', classNames: ['A', 'B', 'C', 'D'] });
    expect(r.maps).toHaveLength(4);
    for (const m of r.maps) {
      expect(m).toHaveLength(r.rows * r.cols);
      for (const v of m) expect(Math.abs(v)).toBeLessThanOrEqual(1 + 1e-6);
    }
    expect(r.min).toBe(Math.min(...r.maps.flat()));
    expect(r.max).toBe(Math.max(...r.maps.flat()));
    // The grid spans the image (the Otsu crop can only shrink it): its far edge lies within the image.
    expect(r.imageColumns).toBe(inst.columns);
    const xEnd = r.x.origin + r.cols * r.x.step;
    const yEnd = r.y.origin + r.rows * r.y.step;
    for (const v of [r.x.origin, xEnd]) expect(v).toBeGreaterThanOrEqual(-1e-6);
    expect(Math.max(r.x.origin, xEnd)).toBeLessThanOrEqual(inst.columns! * 1.0001 + 1e-6);
    expect(yEnd).toBeGreaterThan(r.y.origin);
    // The same image, model and prompts give the same maps.
    expect((await run()).result.images[0]!.maps).toEqual(r.maps);

    // The job names the image it mapped, for the Jobs drawer.
    expect(r.image).toBe('RCC · P1 · A1');

    // A learned set that stores the phrases it was trained on (as the demo's does): the maps are
    // still named by the task's classes, so the viewer's Class selector lists A–D.
    const phrases = classNamesForPromptLearning(builtinTask('Breast density')!);
    const bundle = await openBundle((await callApi(b, 'models.list', { kind: 'bundle' }))[0]!.path);
    const dim = bundle.text.config.nEmbd;
    await addPromptSet(
      bundle,
      'phrases',
      { data: new Float32Array(2 * dim).fill(0.01), shape: [2, dim] },
      {
        task: 'Breast density',
        classNames: phrases,
        nCtx: 2,
        initPhrase: null,
        metrics: { before: null, after: null },
        training: {},
      },
    );
    const learned = await b.jobs.waitFor(
      (await callApi(b, 'explain.start', { modelId, taskId: density.id, instanceIds: [inst.id], promptSet: 'phrases' })).id,
    );
    expect(learned.error).toBeNull();
    const learnedMaps = ExplainStudyResult.parse(learned.result);
    expect(learnedMaps).toMatchObject({ promptSet: 'phrases', classNames: ['A', 'B', 'C', 'D'] });
    expect(learnedMaps.images[0]).toMatchObject({ promptSet: 'phrases', classNames: ['A', 'B', 'C', 'D'] });
    expect(phrases).not.toEqual(['A', 'B', 'C', 'D']);

    const missing = await b.jobs.waitFor((await callApi(b, 'explain.start', { modelId, taskId: density.id, instanceIds: [9999] })).id);
    expect(missing).toMatchObject({ status: 'failed', error: expect.stringMatching(/no image with id 9999/) });
    const otherImage = (await callApi(b, 'library.study', { id: other!.id })).instances[0]!.id;
    const mixed = await b.jobs.waitFor(
      (await callApi(b, 'explain.start', { modelId, taskId: density.id, instanceIds: [inst.id, otherImage] })).id,
    );
    expect(mixed).toMatchObject({ status: 'failed', error: expect.stringMatching(/one study at a time; .* are of 2 studies/) });
    const text = await callApi(b, 'models.import', { path: parts.text, name: 'just text' });
    const wrong = await b.jobs.waitFor(
      (await callApi(b, 'explain.start', { modelId: text.id, taskId: density.id, instanceIds: [inst.id] })).id,
    );
    expect(wrong).toMatchObject({ status: 'failed', error: expect.stringMatching(/needs a CLEFT bundle/) });
  });

  it('maps the images in turn and a cancel lands within one image', async () => {
    const ac = new AbortController();
    const seen: number[] = [];
    const before: number[] = [];
    const run = inTurn(
      [10, 11, 12, 13],
      async (id, i) => {
        seen.push(id);
        if (i === 1) ac.abort(); // cancelled while the second image is mapped
        return id;
      },
      { signal: ac.signal, before: (i) => before.push(i) },
    );
    await expect(run).rejects.toBeInstanceOf(JobCancelled);
    expect(seen).toEqual([10, 11]);
    expect(before).toEqual([0, 1]);
    expect(await inTurn([1, 2], async (x) => x * 2, { signal: new AbortController().signal, before: () => {} })).toEqual([2, 4]);
  });
});
