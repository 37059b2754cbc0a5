// Deleting a named split (issue #12): `splits.delete` and `cleft splits delete NAME [--force] [--json]`
// on a real library of dcmtk-written studies. A split no run or job names goes at once; one a
// training job and its run name is refused, naming them, until forced; the run keeps the studies it
// recorded and its evaluation still works (falling back to "outside training and validation").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/main/api/backend';
import type { TrainAdaptorResult } from '../../../src/common/jobs';
import { callApi } from '../../helpers/api';
import { runCli } from '../../helpers/cli';
import { requireDump2dcm, writeFourViewExam } from '../../helpers/dcmtk';
import { addTinyBundle, importExams, taskNamed, testBackend } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

let b: Backend;
let dataDir: string;
let taskId: number;
let modelId: number;

beforeAll(async () => {
  requireDump2dcm();
  const source = tmpDir('cleft-split-delete-dicom-');
  for (let n = 1; n <= 8; n++) writeFourViewExam(source, n, `P${n}`);
  dataDir = tmpDir();
  b = testBackend(dataDir);
  taskId = (await taskNamed(b)).id;
  for (const s of await importExams(b, source))
    await callApi(b, 'labels.set', { target: { taskId, studyId: s.id, scope: 'exam' }, className: s.id % 2 ? 'A' : 'B' });
  modelId = (await addTinyBundle(b, 3)).modelId;
}, 300_000);
afterAll(() => {
  b?.close();
  removeTmpDirs();
});

describe('splits delete', () => {
  it('deletes a split nothing names; an unknown name is not found', async () => {
    await callApi(b, 'splits.create', { name: 'spare', taskId, fractions: [0.5, 0.25, 0.25], seed: 1 });
    const r = await callApi(b, 'splits.delete', { name: 'spare' });
    expect(r).toMatchObject({ deleted: { name: 'spare', counts: { train: expect.any(Number) } }, references: { runs: [], jobs: [] } });
    expect(await callApi(b, 'splits.list', {})).toEqual([]);
    await expect(callApi(b, 'splits.delete', { name: 'spare' })).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses a split a job and its run name, saying which, until forced; the run keeps its studies', async () => {
    await callApi(b, 'splits.create', { name: 'used', taskId, fractions: [0.5, 0.25, 0.25], seed: 2 });
    const job = await b.jobs.waitFor(
      (await callApi(b, 'train.adaptor', { modelId, taskId, name: 'head', split: 'used', steps: 2, mode: 'linear-probe' })).id,
    );
    expect(job.error).toBeNull();
    const runId = (job.result as TrainAdaptorResult).runId;

    const refused = new RegExp(
      `split "used" is used by run #${runId} \\(adaptor: [^)]+"head"\\), job #${job.id} \\(train-adaptor, done\\); delete it anyway with --force`,
    );
    const err = await callApi(b, 'splits.delete', { name: 'used' }).then(
      () => null,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err?.code).toBe('conflict');
    expect(err?.message).toMatch(refused);
    b.close(); // the CLI is another process on the same library

    // CLI: refused with exit code 1 and the same message; nothing deleted
    expect(() => runCli(['splits', 'delete', 'used', '--data-dir', dataDir])).toThrow(refused);
    expect(JSON.parse(runCli(['splits', 'list', '--json', '--data-dir', dataDir])).map((s: { name: string }) => s.name)).toEqual(['used']);
    // forced: deleted, and the JSON says what named it
    const forced = JSON.parse(runCli(['splits', 'delete', 'used', '--force', '--json', '--data-dir', dataDir])) as {
      deleted: { name: string };
      references: { runs: { id: number }[]; jobs: { id: number; kind: string; status: string }[] };
    };
    expect(forced.deleted.name).toBe('used');
    expect(forced.references.runs.map((r) => r.id)).toEqual([runId]);
    expect(forced.references.jobs).toEqual([{ id: job.id, kind: 'train-adaptor', status: 'done' }]);
    expect(runCli(['splits', 'list', '--data-dir', dataDir])).toMatch(/No splits yet/);

    b = testBackend(dataDir);
    const run = await callApi(b, 'runs.get', { id: runId });
    expect(run.record.split).toMatchObject({ name: 'used', by: 'named' });
    expect(run.record.split!.trainStudies.length).toBeGreaterThan(0);
    const report = await callApi(b, 'runs.evaluate', { runId, scope: 'exam', bootstrapSamples: 10, includeTraining: true });
    expect(report.evaluationSet!.lineage).toEqual([expect.stringMatching(/^adaptor run #\d+ \(split "used"\)$/)]);
    const held = await callApi(b, 'runs.evaluate', { runId, scope: 'exam', bootstrapSamples: 10 });
    expect(held.evaluationSet!.description).toMatch(/split "used" is not in this library/);
  }, 300_000);
});
