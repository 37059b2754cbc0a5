// How the demo, classification and prompt-learning jobs read in the UI.
import { describe, expect, it } from 'vitest';
import type { Job } from '../../../src/common/jobs';
import { describeJob } from '../../../src/renderer/src/lib/jobs';
import { demoOutcome } from '../../../src/renderer/src/lib/demo';

// Results are partial here: describeJob reads whatever fields a record has.
const job = (kind: string, params: unknown, result: unknown): Job =>
  ({
    id: 7,
    kind,
    status: 'done',
    params,
    progress: { fraction: 1, message: 'Done', etaSeconds: null },
    result,
    error: null,
    checkpointPath: null,
    revision: 1,
    createdAt: '2025-01-01T00:00:00.000Z',
    startedAt: null,
    finishedAt: null,
  }) as Job;

describe('workflow jobs', () => {
  it('names classification with its run and device', () => {
    const d = describeJob(job('classify', { taskId: 1 }, { runId: 4, studies: 24, images: 96, executionProvider: 'cpu' }));
    expect(d.title).toBe('Classify studies');
    expect(d.facts).toEqual([
      { label: 'Classified', value: '24 studies · 96 images' },
      { label: 'Device', value: 'cpu' },
      { label: 'Run', value: '#4' },
    ]);
  });

  it('names prompt learning by its prompt set', () => {
    const d = describeJob(job('prompt-learn', { name: 'site-a' }, { promptSet: 'site-a', steps: 10, stoppedEarly: true, bestStep: 4 }));
    expect(d.title).toBe('Prompt learning');
    expect(d.subject).toBe('site-a');
    expect(d.facts[1]).toEqual({ label: 'Steps', value: 'stopped early at update 10: validation stalled (best at update 4, kept)' });
  });

  it('reads what the demo brought, and nothing from a malformed result', () => {
    const r = {
      modelId: 2,
      studies: 24,
      labels: 48,
      promptSet: 'density-demo',
      zeroShot: { exam: { accuracy: 0.25 }, image: { accuracy: 0.4 } },
      promptLearned: { exam: { accuracy: 0.5 }, image: { accuracy: null } },
    };
    expect(describeJob(job('demo', { quick: true }, r)).subject).toBe('Tiny');
    expect(describeJob(job('demo', { quick: false }, r)).subject).toBe('Full');
    expect(demoOutcome(r)).toMatchObject({
      studies: 24,
      labels: 48,
      zeroShotAccuracy: 0.25,
      learnedAccuracy: 0.5,
      zeroShotImageAccuracy: 0.4,
      learnedImageAccuracy: null, // null (no held-out exams) stays null, never 0
    });
    expect(demoOutcome('nope')).toBeNull();
  });
});
