// kill -9 of the whole process mid-training (a training job run by `cleft jobs start`), restart,
// resume: what it learns is bit-identical to an uninterrupted run's (prompt learning and the Adaptor).
// Synchronisation is on files only (the checkpoint and the job's metrics.jsonl), never on sleeps.
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import { JobSpec } from '../../../src/common/jobs';
import { openBundle, readAdaptor, readPromptSet } from '../../../src/native/bundle/index';
import { killJobPastCheckpoint, metricSteps, stopClis } from '../../helpers/cli';
import { labelledLibrary, testBackend } from '../../helpers/library';
import { removeTmpDirs } from '../../helpers/tmp';

const open: Backend[] = [];
function backendAt(dataDir: string): Backend {
  const b = testBackend(dataDir);
  open.push(b);
  return b;
}
afterEach(() => {
  for (const b of open.splice(0)) b.close();
  stopClis();
});
afterAll(removeTmpDirs);

/**
 * Runs `spec` (name "killed") in a `cleft jobs start` child, SIGKILLs it two updates past its first
 * checkpoint, reopens the library (the job reads 'interrupted'), resumes it to the end, then runs
 * the same spec uninterrupted as "straight". Returns the open backend.
 */
async function killResumeAndRunStraight(
  lib: Awaited<ReturnType<typeof labelledLibrary>>,
  kind: JobSpec['kind'],
  params: Record<string, unknown>,
) {
  const steps = params.steps as number;
  const jobId = lib.nextJobId;
  const jobDir = path.join(lib.dataDir, 'jobs', String(jobId));
  const checkpointStep = await killJobPastCheckpoint({
    dataDir: lib.dataDir,
    jobId,
    kind,
    params: { ...params, name: 'killed' },
    timeoutMs: 600_000,
  });

  const backend = backendAt(lib.dataDir);
  const cut = backend.jobs.get(jobId);
  expect(cut.status).toBe('interrupted'); // not 'done': the kill came mid-run
  expect(cut.kind).toBe(kind);
  expect(checkpointStep).toBeGreaterThan(0);
  expect(checkpointStep).toBeLessThan(steps);
  const replayed: number[] = [];
  backend.events.subscribe((event, payload) => {
    const m = payload as { jobId: number; point: { step: number } };
    if (event === 'job.metric' && m.jobId === jobId) replayed.push(m.point.step);
  });
  backend.jobs.resume(jobId);
  const final = await backend.jobs.waitFor(jobId);
  expect(final.error).toBeNull();
  expect(final.status).toBe('done');
  // Resumed from the checkpoint, not restarted: the resumed run's first update is the one after the
  // checkpoint's step; and the curve keeps one point per step, 1 to the last (and the validation
  // of the starting point at step 0, when there is one).
  expect(replayed[0]).toBe(checkpointStep + 1);
  const points = metricSteps(jobDir);
  expect(points.filter((s) => s > 0)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
  expect(points.filter((s) => s === 0).length).toBeLessThanOrEqual(1);

  const straight = await backend.jobs.waitFor(backend.jobs.enqueue(JobSpec.parse({ kind, params: { ...params, name: 'straight' } })).id);
  expect(straight.error).toBeNull();
  return backend;
}

const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('training jobs survive kill -9', () => {
  it('prompt learning killed mid-run in a CLI process resumes to the context of an uninterrupted run', { timeout: 900_000 }, async () => {
    const lib = await labelledLibrary();
    // Checkpoints every 25 updates (the job's setting); 120 updates leave a wide window past the first.
    await killResumeAndRunStraight(lib, 'prompt-learn', {
      modelId: lib.modelId,
      taskId: lib.taskId,
      nCtx: 4,
      steps: 120,
      batchSize: 4,
      valFraction: 0.25,
      seed: 5,
    });
    const bundle = await openBundle(lib.bundleDir, { verify: 'full' });
    const a = readPromptSet(bundle, 'killed');
    const b = readPromptSet(bundle, 'straight');
    expect(a.shape).toEqual(b.shape);
    // Bit-identical: same data order, optimizer state and best-so-far restored from the checkpoint.
    expect(sameBits(a.ctx, b.ctx)).toBe(true);
    expect(a.entry.metrics).toEqual(b.entry.metrics);
  });

  it('the Adaptor killed mid-run resumes to the head of an uninterrupted run', { timeout: 900_000 }, async () => {
    const lib = await labelledLibrary();
    // Checkpoints every 50 updates; Adaptor updates take milliseconds, so many of them (950 after
    // the first checkpoint) keep the kill before the end even when the test's poll runs late on a
    // busy machine. (Were it late anyway, the job would read 'done' and the test say so.)
    await killResumeAndRunStraight(lib, 'train-adaptor', {
      modelId: lib.modelId,
      taskId: lib.taskId,
      mode: 'adaptor',
      steps: 1000,
      valFraction: 0.25,
      seed: 5,
    });
    const bundle = await openBundle(lib.bundleDir, { verify: 'full' });
    const a = readAdaptor(bundle, 'killed');
    const b = readAdaptor(bundle, 'straight');
    expect([...a.tensors.keys()].sort()).toEqual([...b.tensors.keys()].sort());
    expect(a.tensors.has('adaptor.image.layer1.mlp.fc.weight')).toBe(true);
    for (const [name, t] of a.tensors) expect(sameBits(t, b.tensors.get(name)!), name).toBe(true);
    expect(a.entry.metrics).toEqual(b.entry.metrics);
  });
});
