// The explain job end to end on a tiny bundle and an imported exam: one map per class over the
// patch grid, placed on the image, deterministic, with the prompt set and device named; clear
// errors for a missing image and a model that is not a bundle.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import { ExplainResult } from '../../../src/common/jobs';
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
});
afterEach(() => b?.close());
afterAll(removeTmpDirs);

describe('explain job', () => {
  it('maps patch similarity per class over the grid and places it on the image', { timeout: 300_000 }, async () => {
    b = testBackend();
    const density = await taskNamed(b);
    const { modelId, parts } = await addTinyBundle(b, 7, { name: 'tiny' });
    const study = (await importExams(b, source))[0]!;
    const inst = (await callApi(b, 'library.study', { id: study.id })).instances[0]!;

    const run = async () => {
      const done = await b.jobs.waitFor((await callApi(b, 'explain.start', { modelId, taskId: density.id, instanceId: inst.id })).id);
      expect(done.error).toBeNull();
      return ExplainResult.parse(done.result);
    };
    const r = await run();
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
    expect((await run()).maps).toEqual(r.maps);

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
      (await callApi(b, 'explain.start', { modelId, taskId: density.id, instanceId: inst.id, promptSet: 'phrases' })).id,
    );
    expect(learned.error).toBeNull();
    expect(ExplainResult.parse(learned.result)).toMatchObject({ promptSet: 'phrases', classNames: ['A', 'B', 'C', 'D'] });
    expect(phrases).not.toEqual(['A', 'B', 'C', 'D']);

    const missing = await b.jobs.waitFor((await callApi(b, 'explain.start', { modelId, taskId: density.id, instanceId: 9999 })).id);
    expect(missing).toMatchObject({ status: 'failed', error: expect.stringMatching(/no image with id 9999/) });
    const text = await callApi(b, 'models.import', { path: parts.text, name: 'just text' });
    const wrong = await b.jobs.waitFor(
      (await callApi(b, 'explain.start', { modelId: text.id, taskId: density.id, instanceId: inst.id })).id,
    );
    expect(wrong).toMatchObject({ status: 'failed', error: expect.stringMatching(/needs a CLEFT bundle/) });
  });
});
