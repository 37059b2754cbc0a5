// Progress that tells the truth on a real prompt-learning job (issue 17, item 4): the percentage is
// that of the work (updates once the features are cached, not a fixed 20 % for encoding), and early
// stopping stops a run whose validation loss stalls and records where it stopped and which update
// it kept.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import type { Job, PromptLearnResult } from '../../../src/common/jobs';
import { EARLY_STOPPING } from '../../../src/common/progress';
import { callApi } from '../../helpers/api';
import { testBackend, addTinyBundle, importExams, taskNamed } from '../../helpers/library';
import { requireDump2dcm, writeFourViewExam } from '../../helpers/dcmtk';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

let b: Backend;
let source: string;
beforeAll(() => {
  requireDump2dcm();
  source = tmpDir('cleft-dicom-');
  for (let n = 1; n <= 8; n++) writeFourViewExam(source, n);
});
afterEach(() => b?.close());
afterAll(removeTmpDirs);

describe('prompt-learning progress and early stopping', () => {
  it('counts updates as the work once features are cached, and stops when validation stalls', { timeout: 600_000 }, async () => {
    b = testBackend();
    const density = await taskNamed(b);
    const { modelId } = await addTinyBundle(b, 7);
    const studies = await importExams(b, source);
    // Two patients per class, so every class has one validation patient.
    for (const [i, s] of studies.entries())
      for (const side of ['L', 'R'] as const)
        await callApi(b, 'labels.set', {
          target: { taskId: density.id, studyId: s.id, scope: 'breast', laterality: side },
          className: 'ABCD'[i % 4]!,
        });
    const learn = async (name: string, steps: number, lr: number): Promise<{ job: Job; seen: Job[] }> => {
      const seen: Job[] = [];
      const off = b.events.subscribe((event, payload) => {
        if (event === 'job.updated') seen.push(payload as Job);
      });
      const started = await callApi(b, 'train.promptLearn', {
        modelId,
        taskId: density.id,
        name,
        nCtx: 2,
        steps,
        batchSize: 8,
        valFraction: 0.5,
        lr,
      });
      const job = await b.jobs.waitFor(started.id);
      off();
      expect(job.error).toBeNull();
      return { job, seen: seen.filter((j) => j.id === started.id) };
    };

    // The first run encodes the images; the second finds them cached, so its work is its updates.
    await learn('warm', 2, 0.002);
    const { job, seen } = await learn('stall', 400, 1e-7);
    const updates = seen
      .map((j) => ({ m: /update (\d+)\/(\d+)/.exec(j.progress.message), fraction: j.progress.fraction }))
      .filter((u) => u.m !== null);
    expect(updates.length).toBeGreaterThan(0);
    for (const u of updates) expect(u.fraction).toBeCloseTo((0.95 * Number(u.m![1])) / Number(u.m![2]), 9);

    // A learning rate of 1e-7 moves the validation loss by far less than 1 %: after the starting
    // validation (update 0) and `patience` stalled ones (every 40 updates) the run stops.
    const r = job.result as PromptLearnResult;
    expect(r.stoppedEarly).toBe(true);
    expect(r.steps).toBe(EARLY_STOPPING.patience * 40);
    expect(r.bestStep).not.toBeNull();
    expect(r.plannedSteps).toBe(400);
    const full = await callApi(b, 'runs.get', { id: r.runId });
    expect((full.metrics as { earlyStopping: unknown }).earlyStopping).toMatchObject({
      stoppedEarly: true,
      stoppedAt: EARLY_STOPPING.patience * 40,
      bestStep: r.bestStep,
      patience: EARLY_STOPPING.patience,
    });
  });
});
