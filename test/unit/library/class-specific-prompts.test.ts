// Class-specific prompt contexts ([classes, nCtx, d]) are saved into bundles and classify with them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import type { ClassifyResult } from '../../../src/common/jobs';
import { addPromptSet, openBundle, readPromptSet } from '../../../src/native/bundle/index';
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

describe('class-specific prompt sets', () => {
  it('are learned into the bundle as [classes, nCtx, d] and classify; one context copied per class classifies like the shared one', async () => {
    b = testBackend();
    const density = await taskNamed(b);
    const made = await addTinyBundle(b, 5);
    const modelId = made.modelId;
    const studies = await importExams(b, source);
    const studyIds = studies.map((s) => s.id);
    const classes = ['A', 'B', 'C', 'D'];
    for (const [i, s] of studies.entries())
      for (const side of ['L', 'R'] as const)
        await callApi(b, 'labels.set', {
          target: { taskId: density.id, studyId: s.id, scope: 'breast', laterality: side },
          className: classes[i * 2 + (side === 'L' ? 1 : 0)]!,
        });

    const learn = (name: string, classSpecific: boolean) =>
      callApi(b, 'train.promptLearn', {
        modelId,
        taskId: density.id,
        name,
        nCtx: 3,
        steps: 4,
        batchSize: 4,
        valFraction: 0,
        classSpecific,
      });
    const own = await b.jobs.waitFor((await learn('per-class', true)).id);
    expect(own.error).toBeNull();
    const shared = await b.jobs.waitFor((await learn('shared', false)).id);
    expect(shared.error).toBeNull();

    let bundle = await openBundle(made.dir, { verify: 'full' });
    const dim = bundle.text.config.nEmbd;
    const perClass = readPromptSet(bundle, 'per-class');
    expect(perClass.shape).toEqual([4, 3, dim]);
    expect(perClass.entry.classSpecific).toBe(true);
    // trained apart: the classes' contexts differ after learning
    const rows = [0, 1].map((c) => perClass.ctx.subarray(c * 3 * dim, (c + 1) * 3 * dim));
    expect(Array.from(rows[0]!)).not.toEqual(Array.from(rows[1]!));
    const sharedSet = readPromptSet(bundle, 'shared');
    expect(sharedSet.shape).toEqual([3, dim]);
    expect(sharedSet.entry.classSpecific).toBeUndefined();

    // The set names the task's classes but keeps the text its context was learned in front of:
    // classifying with " A" after a context trained before "breast tissue density 1: …" is another prompt.
    expect(sharedSet.entry.classNames).toEqual(classes);
    expect(sharedSet.entry.classTexts).toEqual(classNamesForPromptLearning(builtinTask('Breast density')!));
    expect(sharedSet.entry.classTexts![0]).toMatch(/density 1/);

    // The shared context copied to every class, saved as a class-specific set.
    const { task, classNames, classTexts, nCtx, initPhrase, metrics, training } = sharedSet.entry;
    const meta = { task, classNames, classTexts, nCtx, initPhrase, metrics, training };
    const copied = new Float32Array(4 * 3 * dim);
    for (let c = 0; c < 4; c++) copied.set(sharedSet.ctx, c * 3 * dim);
    bundle = await addPromptSet(bundle, 'copied', { data: copied, shape: [4, 3, dim] }, meta);
    expect(bundle.promptSets.find((p) => p.name === 'copied')).toMatchObject({ classSpecific: true, nCtx: 3 });
    await expect(addPromptSet(bundle, 'bad', { data: copied.subarray(0, 3 * 3 * dim), shape: [3, 3, dim] }, meta)).rejects.toThrow(
      /ctx must be \[classes 4, nCtx 3/,
    );

    const classifyWith = async (promptSet: string) => {
      const job = await b.jobs.waitFor((await callApi(b, 'classify.start', { modelId, taskId: density.id, studyIds, promptSet })).id);
      expect(job.error).toBeNull();
      return (await callApi(b, 'runs.predictions', { runId: (job.result as ClassifyResult).runId, limit: 100 })).rows;
    };
    const viaShared = await classifyWith('shared');
    const viaCopied = await classifyWith('copied');
    expect(viaCopied).toHaveLength(viaShared.length);
    viaShared.forEach((p, i) => {
      for (const c of classes) expect(viaCopied[i]!.probabilities[c]).toBeCloseTo(p.probabilities[c]!, 5);
    });
    const viaOwn = await classifyWith('per-class');
    expect(viaOwn).toHaveLength(viaShared.length);
    for (const p of viaOwn) expect(Object.values(p.probabilities).reduce((a, v) => a + v, 0)).toBeCloseTo(1, 5);
  });
});
