// Contrastive LoRA holds large frozen encoders once (issue 15, section 1): every ORT session over
// them holds its own float32 copy, so at no moment of the job may two sessions over the text (or
// the image) encoder's weights be alive: not the engine's warm encoders of an earlier
// classification next to the train step, not the validating forward next to the train step.
// Counted by the engine's per-weights session counters (session-cache.ts weightSessions; the
// training graphs hold both encoders and count for each), in this thread (inProcessWorker). The
// threshold (ONE_FROZEN_SESSION) is lowered to run the 2.7B path on the tiny bundle; at the default
// the tiny encoders keep their sessions. Both paths learn the same adapters and heads, bit for bit.
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TrainLoraResult } from '../../../src/common/jobs';
import { generatePhantoms } from '../../../src/main/dicom/phantom';
import { EventBus } from '../../../src/main/events/event-bus';
import { DB_FILE_NAME, openDatabase, type Db } from '../../../src/main/db/database';
import { JobQueue } from '../../../src/main/jobs/job-queue';
import { checkedParams } from '../../../src/main/jobs/job-params';
import { jobRunners } from '../../../src/main/jobs/kinds/index';
import { openBundle } from '../../../src/native/bundle/index';
import { toFloat32 } from '../../../src/native/formats/safetensors';
import { frozenWeightsId } from '../../../src/native/models/weights';
import { resetWeightSessionPeaks, weightSessions } from '../../../src/native/runtime/session-cache';
import { ONE_FROZEN_SESSION } from '../../../src/native/training/one-session';
import { callApi } from '../../helpers/api';
import { inProcessWorker } from '../../helpers/job-worker';
import { addTinyBundle, importExams, taskNamed, testBackend } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

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

let phantoms: string;
beforeAll(async () => {
  phantoms = tmpDir('cleft-lora-memory-');
  await generatePhantoms({ outDir: phantoms, exams: 4, seed: 7, size: 'small', syntaxes: ['explicit-le'] });
});

/** Every trained tensor of a LoRA bundle (text and image adapters, heads) as bytes. */
async function trainedBytes(dir: string): Promise<Record<string, Buffer>> {
  const bundle = await openBundle(dir, { verify: 'full' });
  const out: Record<string, Buffer> = {};
  const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  for (const side of ['text', 'image'] as const)
    for (const [name, m] of bundle[side].adapter!.adapter.modules) {
      out[`${side}.${name}.A`] = bytes(toFloat32(m.A));
      out[`${side}.${name}.B`] = bytes(toFloat32(m.B));
    }
  const h = bundle.heads.heads;
  out.heads = bytes(Float32Array.of(...h.textProjection, ...h.visualProjection, h.logitScale));
  return out;
}

/**
 * A classification (which leaves the text and image encoders warm), then a LoRA job on both
 * encoders validating after every update; the frozen weights' ids and what it learned.
 */
async function classifyThenTrain(extra: { weights?: 'int8' } = {}) {
  const dataDir = tmpDir();
  const setup = testBackend(dataDir);
  let modelId: number, taskId: number;
  try {
    ({ modelId } = await addTinyBundle(setup, 4));
    taskId = (await taskNamed(setup)).id;
    await importExams(setup, phantoms);
    expect(await callApi(setup, 'reports.import', { path: phantoms })).toMatchObject({ matched: 4 });
  } finally {
    setup.close();
  }
  db = openDatabase(path.join(dataDir, DB_FILE_NAME));
  queue = new JobQueue({ db, dataDir, launch: inProcessWorker(jobRunners), events: new EventBus() });
  queue.start();
  const bundleDir = (db.prepare('SELECT path FROM models WHERE id = ?').get(modelId) as { path: string }).path;
  const bundle = await openBundle(bundleDir, { verify: 'sizes' });
  const text = frozenWeightsId(bundle.text.dir, bundle.text.adapter?.dir);
  const image = frozenWeightsId(bundle.image.dir, bundle.image.adapter?.dir);
  const studyIds = (db.prepare('SELECT id FROM studies ORDER BY id').all() as { id: number }[]).map((r) => r.id);

  // A classification first: the engine keeps its encoder sessions warm for the next job.
  const classify = await queue.waitFor(
    queue.enqueue({ kind: 'classify', params: checkedParams('classify', { modelId, taskId, studyIds }) }).id,
  );
  expect(classify.error).toBeNull();
  expect(weightSessions(text).live).toBe(1);
  expect(weightSessions(image).live).toBe(1);

  resetWeightSessionPeaks();
  const job = await queue.waitFor(
    queue.enqueue({
      kind: 'train-lora',
      params: checkedParams('train-lora', {
        modelId,
        name: 'lora',
        image: 'lora',
        steps: 2,
        batchSize: 4,
        valFraction: 0.5,
        evalEvery: 1,
        checkpointEvery: 2,
        seed: 3,
        lr: 5e-3,
        warmupSteps: 1,
        ...extra,
      }),
    }).id,
  );
  expect(job.error).toBeNull();
  const result = job.result as TrainLoraResult;
  // validations ran between updates, so the forward and the train step took turns
  expect(result.val).toBeGreaterThan(0);
  expect(result.steps).toBe(2);
  expect(result.validation.after).not.toBeNull();
  return { text, image, result, learned: await trainedBytes(result.bundleDir) };
}

describe('contrastive LoRA memory', () => {
  it(
    'large encoders: never two sessions over the text or the image weights, with warm encoders before and validations during training; small ones keep their sessions; the same numbers either way',
    { timeout: 600_000 },
    async () => {
      ONE_FROZEN_SESSION.aboveBytes = 0; // every encoder counts as large
      const large = await classifyThenTrain();
      expect(weightSessions(large.text)).toEqual({ live: 0, peak: 1 });
      expect(weightSessions(large.image)).toEqual({ live: 0, peak: 1 });
      queue?.close();
      db?.close();
      queue = db = undefined;

      ONE_FROZEN_SESSION.aboveBytes = defaultAbove;
      const small = await classifyThenTrain();
      // the warm sessions of the classification are still there after the job; the job's train
      // step and forward lived next to them
      expect(weightSessions(small.text)).toEqual({ live: 1, peak: 3 });
      expect(weightSessions(small.image)).toEqual({ live: 1, peak: 3 });

      // holding the weights once (sessions created again at each switch, no prepacking) changes no bit
      expect(Object.keys(small.learned).length).toBeGreaterThan(4);
      expect(large.learned).toEqual(small.learned);
      expect(large.result.validation).toEqual(small.result.validation);
      expect(large.result.loss).toEqual(small.result.loss);
    },
  );

  it(
    'int8 weights: the warm float32 encoders go, but the small int8 training sessions stay side by side',
    { timeout: 600_000 },
    async () => {
      ONE_FROZEN_SESSION.aboveBytes = 0; // the float32 encoders count as large
      const r = await classifyThenTrain({ weights: 'int8' });
      expect(r.result.weights).toBe('int8');
      // the classification's warm sessions were released; the train step and the forward lived together
      expect(weightSessions(r.text)).toEqual({ live: 0, peak: 2 });
      expect(weightSessions(r.image)).toEqual({ live: 0, peak: 2 });
    },
  );
});
