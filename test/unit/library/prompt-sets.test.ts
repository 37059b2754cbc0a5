// Activating a learned prompt set per (model, task): listing with stored metrics, the choice kept in
// the settings table, and classify.start using the active set when the request names none.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import type { ClassifyResult } from '../../../src/common/jobs';
import { addPromptSet, openBundle, type CleftBundle } from '../../../src/native/bundle/index';
import { callApi } from '../../helpers/api';
import { testBackend, addTinyBundle } from '../../helpers/library';
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

const CLASSES = ['A', 'B', 'C', 'D'];

/** A prompt set with seeded context vectors, as prompt learning would store it. */
async function addSet(bundle: CleftBundle, name: string, task: string, seed: number, accuracy: [number, number]): Promise<CleftBundle> {
  const nCtx = 2;
  const dim = bundle.text.config.nEmbd;
  const data = new Float32Array(nCtx * dim).map((_, i) => Math.sin(seed * 7.3 + i * 0.37) * 0.5);
  return addPromptSet(
    bundle,
    name,
    { data, shape: [nCtx, dim] },
    {
      task,
      classNames: CLASSES,
      nCtx,
      initPhrase: 'a mammogram of',
      metrics: { before: { accuracy: accuracy[0] }, after: { accuracy: accuracy[1] } },
    },
  );
}

describe('prompt set activation', () => {
  it('lists sets with metrics, activates one per (model, task), and classification uses it unless the request says otherwise', async () => {
    b = testBackend();
    const tasks = await callApi(b, 'tasks.list', {});
    const density = tasks.find((t) => t.name === 'Breast density')!;
    const other = tasks.find((t) => t.name !== 'Breast density')!;
    const made = await addTinyBundle(b, 5, { name: 'tiny' });
    const modelId = made.modelId;
    let bundle = await openBundle(made.dir, { verify: 'sizes' });
    bundle = await addSet(bundle, 'site-a', density.name, 1, [0.4, 0.55]);
    bundle = await addSet(bundle, 'site-b', density.name, 2, [0.4, 0.7]);
    bundle = await addSet(bundle, 'other-task', other.name, 3, [0.5, 0.6]);
    const fileSha = (name: string): string =>
      bundle.files.find((f) => f.path === bundle.promptSets.find((p) => p.name === name)!.path)!.sha256;

    const all = await callApi(b, 'promptSets.list', { modelId });
    expect(all.map((s) => s.name).sort()).toEqual(['other-task', 'site-a', 'site-b']);
    const listed = await callApi(b, 'promptSets.list', { modelId, taskId: density.id });
    expect(listed.map((s) => [s.name, s.taskId, s.active, s.metrics.before?.accuracy, s.metrics.after?.accuracy])).toEqual([
      ['site-a', density.id, false, 0.4, 0.55],
      ['site-b', density.id, false, 0.4, 0.7],
    ]);

    // Refusals name what is wrong.
    await expect(callApi(b, 'promptSets.activate', { modelId, taskId: density.id, name: 'nope' })).rejects.toThrow(
      /no prompt set "nope" for "Breast density" \(has: site-a, site-b\)/,
    );
    await expect(callApi(b, 'promptSets.activate', { modelId, taskId: density.id, name: 'other-task' })).rejects.toMatchObject({
      code: 'invalid_input',
    });

    await expect(callApi(b, 'promptSets.activate', { modelId, taskId: density.id, name: 'site-b' })).resolves.toEqual({ active: 'site-b' });
    expect((await callApi(b, 'promptSets.list', { modelId, taskId: density.id })).map((s) => [s.name, s.active])).toEqual([
      ['site-a', false],
      ['site-b', true],
    ]);
    // Per task: the other task's choice is separate.
    expect((await callApi(b, 'promptSets.list', { modelId, taskId: other.id }))[0]!.active).toBe(false);

    await b.jobs.waitFor((await callApi(b, 'library.import', { paths: [source] })).id);
    const studyIds = (await callApi(b, 'library.studies', {})).rows.map((s) => s.id);
    const classify = async (promptSet?: string | null): Promise<{ params: unknown; result: ClassifyResult; sha: string | null }> => {
      const job = await callApi(b, 'classify.start', {
        modelId,
        taskId: density.id,
        studyIds,
        ...(promptSet !== undefined ? { promptSet } : {}),
      });
      const done = await b.jobs.waitFor(job.id);
      expect(done.error).toBeNull();
      const result = done.result as ClassifyResult;
      const run = await callApi(b, 'runs.get', { id: result.runId });
      return { params: done.params, result, sha: run.record.promptSetSha256 };
    };

    // Not named: the active set, recorded in the job's params and the run.
    const byDefault = await classify();
    expect(byDefault.params).toMatchObject({ promptSet: 'site-b' });
    expect(byDefault.result.promptSet).toBe('site-b');
    expect(byDefault.sha).toBe(fileSha('site-b'));
    // Explicit null: the task's templates, whatever is active.
    const templates = await classify(null);
    expect(templates.result.promptSet).toBeNull();
    expect(templates.sha).toBeNull();
    // Explicit name: that set.
    expect((await classify('site-a')).sha).toBe(fileSha('site-a'));
    // The learned context changes the probabilities (the set is really used, not only named).
    const probs = async (runId: number) => (await callApi(b, 'runs.predictions', { runId, limit: 100 })).rows.map((p) => p.probabilities);
    expect(await probs(byDefault.result.runId)).not.toEqual(await probs(templates.result.runId));

    // Deactivated: templates again.
    await expect(callApi(b, 'promptSets.activate', { modelId, taskId: density.id, name: null })).resolves.toEqual({ active: null });
    expect((await classify()).result.promptSet).toBeNull();

    // Deleting the model forgets its choices (a later model may get the same id).
    await callApi(b, 'promptSets.activate', { modelId, taskId: density.id, name: 'site-a' });
    const key = `promptSet.active.${modelId}.${density.id}`;
    const stored = () => b.db.prepare(`SELECT value_json FROM settings WHERE key = ?`).get(key) as { value_json: string } | undefined;
    expect(stored()?.value_json).toBe('"site-a"');
    await callApi(b, 'models.delete', { id: modelId });
    expect(stored()).toBeUndefined();
  });
});
