import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import { callApi } from '../../helpers/api';
import type { MethodName, MethodInput, MethodOutput } from '../../../src/common/contract';
import { requireDump2dcm, writeFourViewExam } from '../../helpers/dcmtk';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { testBackend } from '../../helpers/library';

let b: Backend;
let source: string;

const call = <M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>> => callApi(b, method, input);

beforeAll(() => {
  requireDump2dcm();
  source = tmpDir('cleft-dicom-');
  writeFourViewExam(source, 1);
  writeFourViewExam(source, 2);
});
afterEach(() => b?.close());
afterAll(removeTmpDirs);

async function freshLibrary(dataDir = tmpDir()): Promise<void> {
  b = testBackend(dataDir);
  const job = await call('library.import', { paths: [source] });
  await b.jobs.waitFor(job.id);
}

describe('tasks and labels', () => {
  it('ships the EMBED density and BI-RADS tasks with their prompts', async () => {
    await freshLibrary();
    const tasks = await call('tasks.list', {});
    const density = tasks.find((t) => t.name === 'Breast density')!;
    expect(density).toMatchObject({ builtin: true, scope: 'breast' });
    expect(density.classes.map((c) => c.name)).toEqual(['A', 'B', 'C', 'D']);
    expect(density.classes[0]!.prompts[0]).toBe(
      'This is a breast 2D full-field digital mammogram of a patient with breast tissue density 1: almost entirely fat.',
    );
    const birads = tasks.find((t) => t.name === 'BI-RADS assessment')!;
    expect(birads.classes.map((c) => c.name)).toEqual(['0', '1', '2', '3', '4', '5', '6']);
    await expect(call('tasks.delete', { id: density.id })).rejects.toThrow(/built in/);
  });

  it('creates custom tasks with validation', async () => {
    await freshLibrary();
    const classes = [
      { name: 'neg', label: 'Negative', prompts: ['a normal mammogram'] },
      { name: 'pos', label: 'Mass', prompts: ['a mammogram with a mass', 'a mammogram showing a lesion'] },
    ];
    const task = await call('tasks.create', { name: 'Mass', scope: 'image', classes });
    expect(task).toMatchObject({ name: 'Mass', builtin: false, scope: 'image', description: '' });
    await expect(call('tasks.create', { name: 'Mass', scope: 'image', classes })).rejects.toThrow(/already exists/);
    await expect(call('tasks.create', { name: 'X', scope: 'image', classes: [classes[0]!, classes[0]!] })).rejects.toThrow(/invalid input/);
    expect(await call('tasks.delete', { id: task.id })).toEqual({ deleted: task.id });
  });

  it('sets, replaces, clears and counts labels at every scope; they persist', async () => {
    const dataDir = tmpDir();
    await freshLibrary(dataDir);
    const [study] = (await call('library.studies', {})).rows;
    const { instances } = await call('library.study', { id: study!.id });
    const density = (await call('tasks.list', {})).find((t) => t.name === 'Breast density')!;
    const breastR = { taskId: density.id, studyId: study!.id, scope: 'breast' as const, laterality: 'R' as const };

    const first = await call('labels.set', { target: breastR, className: 'B' });
    expect(first.replaced).toBeNull();
    expect(first.label).toMatchObject({ className: 'B', laterality: 'R', annotator: 'researcher', instanceId: null });
    const second = await call('labels.set', { target: breastR, className: 'C' });
    expect(second.replaced).toMatchObject({ id: first.label.id, className: 'B' });
    await call('labels.set', { target: { ...breastR, laterality: 'L' }, className: 'C' });
    await call('labels.set', {
      target: { taskId: density.id, studyId: study!.id, scope: 'image', instanceId: instances[0]!.id },
      className: 'D',
    });
    await call('labels.set', { target: { taskId: density.id, studyId: study!.id, scope: 'exam' }, className: 'C' });
    expect(await call('labels.progress', { taskId: density.id })).toEqual({
      studies: 2,
      labelledStudies: 1,
      labels: 4,
      byClass: { C: 3, D: 1 },
    });

    await expect(call('labels.set', { target: breastR, className: 'E' })).rejects.toThrow(/not a class of Breast density/);
    await expect(call('labels.set', { target: { ...breastR, laterality: undefined }, className: 'A' })).rejects.toThrow(/invalid input/);
    const other = (await call('library.studies', {})).rows[1]!;
    await expect(
      call('labels.set', {
        target: { taskId: density.id, studyId: other.id, scope: 'image', instanceId: instances[0]!.id },
        className: 'A',
      }),
    ).rejects.toThrow(/is not part of study/);

    const removed = await call('labels.clear', { target: { ...breastR, laterality: 'L' } });
    expect(removed.removed).toMatchObject({ className: 'C', laterality: 'L' });
    b.close();

    b = testBackend(dataDir);
    const kept = await call('labels.forStudy', { studyId: study!.id, taskId: density.id });
    expect(kept.map((l) => `${l.scope}:${l.className}`).sort()).toEqual(['breast:C', 'exam:C', 'image:D']);
    expect((await call('library.studies', { filter: { labelled: true } })).total).toBe(1);
    expect((await call('library.studies', { filter: { labelled: false } })).rows[0]!.id).toBe(other.id);
  });
});
