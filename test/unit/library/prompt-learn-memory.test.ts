// Prompt learning holds a large frozen text encoder's weights once (issue 15, section 1): every ORT
// session over them holds its own float32 copy (bf16 cast at creation, or prepacked MatMul weights),
// so at no moment of the job may two such sessions be alive: not the engine's warm text encoder
// next to the train step, not the evaluating forward next to the train step. Counted by the
// engine's per-weights session counters (session-cache.ts weightSessions), not by memory or timing;
// the job runs its real path in this thread (inProcessWorker), where those counters live. The
// threshold (ONE_FROZEN_SESSION) is lowered to run the 2.7B path on the tiny bundle; at the default
// the tiny encoder keeps its sessions (no re-creation per validation).
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { PromptLearnResult } from '../../../src/common/jobs';
import { EventBus } from '../../../src/main/events/event-bus';
import { DB_FILE_NAME, openDatabase, type Db } from '../../../src/main/db/database';
import { JobQueue } from '../../../src/main/jobs/job-queue';
import { checkedParams } from '../../../src/main/jobs/job-params';
import { jobRunners } from '../../../src/main/jobs/kinds/index';
import { openBundle } from '../../../src/native/bundle/index';
import { frozenWeightsId } from '../../../src/native/models/weights';
import { resetWeightSessionPeaks, weightSessions } from '../../../src/native/runtime/session-cache';
import { ONE_FROZEN_SESSION } from '../../../src/native/training/one-session';
import { inProcessWorker } from '../../helpers/job-worker';
import { labelledLibrary } from '../../helpers/library';
import { removeTmpDirs } from '../../helpers/tmp';

let db: Db | undefined;
let queue: JobQueue | undefined;
const defaultAbove = ONE_FROZEN_SESSION.aboveBytes;
afterEach(() => {
  ONE_FROZEN_SESSION.aboveBytes = defaultAbove;
  queue?.close();
  db?.close();
  queue = db = undefined;
});
afterAll(removeTmpDirs);

/** A classification (which leaves the text encoder warm), then a prompt-learning job validating after every update. */
async function classifyThenLearn(): Promise<{ text: string; result: PromptLearnResult }> {
  const lib = await labelledLibrary();
  db = openDatabase(path.join(lib.dataDir, DB_FILE_NAME));
  queue = new JobQueue({ db, dataDir: lib.dataDir, launch: inProcessWorker(jobRunners), events: new EventBus() });
  queue.start();
  const bundle = await openBundle(lib.bundleDir, { verify: 'sizes' });
  const text = frozenWeightsId(bundle.text.dir, bundle.text.adapter?.dir);
  const studyIds = (db.prepare('SELECT id FROM studies ORDER BY id').all() as { id: number }[]).map((r) => r.id);

  // A classification first: the engine keeps its text encoder session warm for the next job.
  const classify = await queue.waitFor(
    queue.enqueue({ kind: 'classify', params: checkedParams('classify', { modelId: lib.modelId, taskId: lib.taskId, studyIds }) }).id,
  );
  expect(classify.error).toBeNull();
  expect(weightSessions(text).live).toBe(1);

  resetWeightSessionPeaks();
  const job = await queue.waitFor(
    queue.enqueue({
      kind: 'prompt-learn',
      params: checkedParams('prompt-learn', {
        modelId: lib.modelId,
        taskId: lib.taskId,
        name: 'once',
        nCtx: 2,
        steps: 6,
        batchSize: 4,
        valFraction: 0.4,
        seed: 3,
      }),
    }).id,
  );
  expect(job.error).toBeNull();
  const result = job.result as PromptLearnResult;
  // validations ran between updates (every update: steps / 10 rounded up), so the forward and
  // the train step took turns
  expect(result.val).toBeGreaterThan(0);
  expect(result.steps).toBeGreaterThan(1);
  return { text, result };
}

describe('prompt-learning memory', () => {
  it(
    'a large encoder: never two sessions over the frozen text weights alive, with a warm text encoder before and validations during training',
    { timeout: 600_000 },
    async () => {
      ONE_FROZEN_SESSION.aboveBytes = 0; // every encoder counts as large
      const { text } = await classifyThenLearn();
      expect(weightSessions(text)).toEqual({ live: 0, peak: 1 });
    },
  );

  it(
    'a small encoder keeps its sessions: the warm text encoder, the train step and the forward side by side',
    { timeout: 600_000 },
    async () => {
      const { text } = await classifyThenLearn();
      // the warm session of the classification is still there after the job; the job's train step
      // and forward lived next to it
      expect(weightSessions(text)).toEqual({ live: 1, peak: 3 });
    },
  );
});
