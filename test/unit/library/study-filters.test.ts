// The Library's prediction filters and status over real SQLite: latest exam prediction per study,
// predicted class, disagreement with labels, the selection of ids, positions for the viewer's
// next/previous, runs named by their prompt set, and jobs listed by kind.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { methods } from '../../../src/common/contract';
import { type Backend } from '../../../src/main/api/backend';
import { RunsRepo } from '../../../src/main/db/runs-repo';
import { callApi } from '../../helpers/api';
import { requireDump2dcm, writeFourViewExam } from '../../helpers/dcmtk';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { testBackend } from '../../helpers/library';

let b: Backend;
let source: string;
beforeAll(() => {
  requireDump2dcm();
  source = tmpDir('cleft-dicom-');
  for (let n = 1; n <= 5; n++) writeFourViewExam(source, n);
});
afterEach(() => b?.close());
afterAll(removeTmpDirs);

const RECORD = {
  modelSha256: 'a'.repeat(64),
  adapters: {},
  promptSetSha256: null,
  preprocessSha256: 'b'.repeat(64),
  selectionSha256: null,
  executionProvider: 'cpu',
  appVersion: 'test',
  params: {},
};

/** One-hot-ish probabilities for class index `k` of four. */
const probs = (k: number): number[] => [0, 1, 2, 3].map((i) => (i === k ? 0.7 : 0.1));

describe('library.studies prediction filters and status', () => {
  it('filters by the latest exam prediction and by disagreement, and locates studies in the list', async () => {
    b = testBackend();
    await b.jobs.waitFor((await callApi(b, 'library.import', { paths: [source] })).id);
    const sort = { key: 'accession', dir: 'asc' } as const;
    const studies = (await callApi(b, 'library.studies', { sort })).rows;
    expect(studies.map((s) => s.accession)).toEqual(['A1', 'A2', 'A3', 'A4', 'A5']);
    expect(studies.every((s) => s.prediction === null)).toBe(true);
    const [s1, s2, s3, s4, s5] = studies.map((s) => s.id) as [number, number, number, number, number];
    const tasks = await callApi(b, 'tasks.list', {});
    const density = tasks.find((t) => t.name === 'Breast density')!;
    const other = tasks.find((t) => t.id !== density.id)!;
    const classes = ['A', 'B', 'C', 'D'];

    const repo = new RunsRepo(b.db);
    const newRun = (taskId: number, name: string): number =>
      repo.createRun({ kind: 'zero-shot', name, jobId: null, modelId: null, taskId, promptSetId: null, record: RECORD });
    const examAndBreasts = (studyId: number, k: number, right = k) => [
      { scope: 'exam' as const, studyId, instanceId: null, laterality: null, probabilities: probs(k) },
      { scope: 'breast' as const, studyId, instanceId: null, laterality: 'R' as const, probabilities: probs(right) },
      { scope: 'breast' as const, studyId, instanceId: null, laterality: 'L' as const, probabilities: probs(k) },
    ];
    // Run 1 over studies 1-4: A, B, C, D at exam scope; study 2's right breast says C.
    const run1 = newRun(density.id, 'all');
    repo.addPredictions(run1, classes, [
      ...examAndBreasts(s1, 0),
      ...examAndBreasts(s2, 1, 2),
      ...examAndBreasts(s3, 2),
      ...examAndBreasts(s4, 3),
    ]);
    // Run 2 (later) re-classifies study 1 only, as B: the latest for study 1, not for the others.
    const run2 = newRun(density.id, 'one study');
    repo.addPredictions(run2, classes, examAndBreasts(s1, 1));
    // Another task's prediction must not leak into the density status.
    const otherClasses = other.classes.map((c) => c.name);
    const run3 = newRun(other.id, 'other task');
    repo.addPredictions(run3, otherClasses, [
      { scope: 'exam', studyId: s5, instanceId: null, laterality: null, probabilities: otherClasses.map((_, i) => (i === 0 ? 1 : 0)) },
    ]);

    // Labels: study 1 exam A (run 2 says B: disagrees), study 2 right breast B (run 1 says C there:
    // disagrees although the exam agrees), study 3 exam C (agrees), study 4 unlabelled.
    const label = (studyId: number, className: string, laterality?: 'L' | 'R') =>
      callApi(b, 'labels.set', {
        target: laterality ? { taskId: density.id, studyId, scope: 'breast', laterality } : { taskId: density.id, studyId, scope: 'exam' },
        className,
      });
    await label(s1, 'A');
    await label(s2, 'B', 'R');
    await label(s3, 'C');

    const list = async (filter: Record<string, unknown>) =>
      (await callApi(b, 'library.studies', { filter: { taskId: density.id, ...filter }, sort })).rows.map((r) => r.accession);

    const all = (await callApi(b, 'library.studies', { filter: { taskId: density.id }, sort })).rows;
    expect(
      all.map((r) => r.prediction && [r.prediction.className, r.prediction.runId, r.prediction.label, r.prediction.disagreement]),
    ).toEqual([['B', run2, 'A', true], ['B', run1, null, true], ['C', run1, 'C', false], ['D', run1, null, false], null]);
    expect(all[0]!.prediction!.confidence).toBeCloseTo(0.7, 6);
    expect(all[0]!.prediction!.taskId).toBe(density.id);

    expect(await list({ predictedClass: 'B' })).toEqual(['A1', 'A2']);
    expect(await list({ predictedClass: 'A' })).toEqual([]);
    expect(await list({ disagreement: true })).toEqual(['A1', 'A2']);
    expect(await list({ disagreement: false })).toEqual(['A3']);
    expect(await list({ predicted: false })).toEqual(['A5']);
    expect(await list({ predicted: true, disagreement: true, predictedClass: 'B', text: 'P2' })).toEqual(['A2']);
    // A named run: study 1 as run 1 saw it (A, agrees with the exam label A).
    expect(await list({ runId: run1, predictedClass: 'A' })).toEqual(['A1']);
    expect(await list({ runId: run1, disagreement: false })).toEqual(['A1', 'A3']);
    expect(await list({ runId: run2, predicted: true })).toEqual(['A1']);
    // Without a task: the newest exam prediction of any task (study 5 has the other task's).
    const anyTask = (await callApi(b, 'library.studies', { filter: { predicted: true }, sort })).rows;
    expect(anyTask.map((r) => r.accession)).toEqual(['A1', 'A2', 'A3', 'A4', 'A5']);
    expect(anyTask[4]!.prediction).toMatchObject({ taskId: other.id, runId: run3, className: otherClasses[0] });
    // The total counts the whole filter result, not the page.
    const paged = await callApi(b, 'library.studies', { filter: { taskId: density.id, predicted: true }, sort, limit: 1, offset: 1 });
    expect([paged.total, paged.rows.map((r) => r.accession)]).toEqual([4, ['A2']]);

    // The selection to classify: every matching id in list order.
    expect((await callApi(b, 'library.studyIds', { filter: { taskId: density.id, disagreement: true }, sort })).ids).toEqual([s1, s2]);
    expect((await callApi(b, 'library.studyIds', { sort: { key: 'accession', dir: 'desc' } })).ids).toEqual([s5, s4, s3, s2, s1]);
    expect((await callApi(b, 'library.studyIds', { sort: { key: 'images', dir: 'desc' } })).ids).toHaveLength(5);

    // Where a study stands in the filtered, sorted list (next/previous beyond a page).
    const at = async (id: number, filter: Record<string, unknown>, dir: 'asc' | 'desc' = 'asc') =>
      (await callApi(b, 'library.studies', { filter, sort: { key: 'accession', dir }, limit: 1, locate: id })).position;
    expect(await at(s4, {})).toBe(3);
    expect(await at(s4, {}, 'desc')).toBe(1);
    expect(await at(s2, { taskId: density.id, disagreement: true })).toBe(1);
    expect(await at(s3, { taskId: density.id, disagreement: true })).toBeNull();
    expect((await callApi(b, 'library.studies', { sort, limit: 1 })).position).toBeUndefined();
    const byImages = await callApi(b, 'library.studies', { sort: { key: 'images', dir: 'asc' }, limit: 5, locate: s3 });
    expect(byImages.rows[byImages.position!]!.id).toBe(s3);

    // One study's predictions for the viewer: the newest matching run that covered it.
    const cached = await callApi(b, 'runs.studyPredictions', { studyId: s1, taskId: density.id });
    expect(cached?.run.id).toBe(run2);
    expect(cached?.predictions.map((p) => [p.scope, p.laterality, p.predictedClass, p.label])).toEqual([
      ['exam', null, 'B', 'A'],
      ['breast', 'R', 'B', null],
      ['breast', 'L', 'B', null],
    ]);
    expect((await callApi(b, 'runs.studyPredictions', { studyId: s1, taskId: density.id, runId: run1 }))?.run.id).toBe(run1);
    expect((await callApi(b, 'runs.studyPredictions', { studyId: s1, taskId: density.id, promptSet: null }))?.run.id).toBe(run2);
    expect(await callApi(b, 'runs.studyPredictions', { studyId: s1, taskId: density.id, promptSet: 'learned' })).toBeNull();
    expect(await callApi(b, 'runs.studyPredictions', { studyId: s1, taskId: density.id, modelId: 99 })).toBeNull();
    expect(await callApi(b, 'runs.studyPredictions', { studyId: s5, taskId: density.id })).toBeNull();
    expect((await callApi(b, 'runs.studyPredictions', { studyId: s4, taskId: density.id }))?.run.id).toBe(run1);

    // library.study carries the status too (newest exam prediction of any task).
    expect((await callApi(b, 'library.study', { id: s1 })).study.prediction).toMatchObject({ className: 'B', runId: run2 });
  });

  it('validates the new filter fields', () => {
    const input = methods['library.studies'].input;
    expect(input.safeParse({ filter: { predictedClass: 'B', disagreement: true, taskId: 1 } }).success).toBe(true);
    expect(input.safeParse({ filter: { predictedClass: '' } }).success).toBe(false);
    expect(input.safeParse({ filter: { disagreement: 'yes' } }).success).toBe(false);
    expect(input.safeParse({ filter: { runId: 0 } }).success).toBe(false);
    expect(input.safeParse({ filter: { predictedClas: 'B' } }).success).toBe(false);
    expect(input.safeParse({ locate: -1 }).success).toBe(false);
    expect(methods['jobs.list'].input.safeParse({ kind: 'classify' }).success).toBe(true);
  });
});

describe('runs name their prompt set; jobs list by kind', () => {
  it('fills Run.promptSet from prompt_sets or the record, and filters jobs.list by kind', async () => {
    b = testBackend();
    const density = (await callApi(b, 'tasks.list', {})).find((t) => t.name === 'Breast density')!;
    const modelId = Number(
      b.db.prepare(`INSERT INTO models (name, kind, path, manifest_json, sha256) VALUES ('m', 'bundle', '/nowhere', '{}', 'x')`).run()
        .lastInsertRowid,
    );
    const setId = Number(
      b.db
        .prepare(`INSERT INTO prompt_sets (model_ref, task_ref, name, kind, sha256) VALUES (?, ?, 'site-ctx', 'learned', 'y')`)
        .run(modelId, density.id).lastInsertRowid,
    );
    const repo = new RunsRepo(b.db);
    const base = { kind: 'zero-shot' as const, jobId: null, modelId, taskId: density.id };
    const linked = repo.createRun({ ...base, name: 'linked', promptSetId: setId, record: RECORD });
    const named = repo.createRun({ ...base, name: 'named', promptSetId: null, record: { ...RECORD, params: { promptSet: 'elsewhere' } } });
    const templates = repo.createRun({ ...base, name: 'templates', promptSetId: null, record: { ...RECORD, params: { promptSet: null } } });
    expect((await callApi(b, 'runs.get', { id: linked })).promptSet).toBe('site-ctx');
    expect((await callApi(b, 'runs.get', { id: named })).promptSet).toBe('elsewhere');
    expect((await callApi(b, 'runs.list', { taskId: density.id })).map((r) => [r.id, r.promptSet])).toEqual([
      [templates, null],
      [named, 'elsewhere'],
      [linked, 'site-ctx'],
    ]);

    const hash = await callApi(b, 'jobs.start', { kind: 'hash-folder', params: { folder: tmpDir() } });
    await b.jobs.waitFor(hash.id);
    const imp = await callApi(b, 'library.import', { paths: [tmpDir()] });
    await b.jobs.waitFor(imp.id);
    expect((await callApi(b, 'jobs.list', { kind: 'import' })).map((j) => j.id)).toEqual([imp.id]);
    expect((await callApi(b, 'jobs.list', { kind: 'hash-folder', status: 'done' })).map((j) => j.id)).toEqual([hash.id]);
    expect(await callApi(b, 'jobs.list', { kind: 'classify' })).toEqual([]);
    expect(await callApi(b, 'jobs.list', {})).toHaveLength(2);
  });
});
