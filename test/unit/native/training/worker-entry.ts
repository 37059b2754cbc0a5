/**
 * Worker-thread entry for trainer.test.ts: emits artifacts, trains a few steps with the default
 * in-thread runner (sessions in this worker, as the job system runs engine work) and a checkpoint,
 * then posts the losses back. Proves nothing in the training path assumes the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { emitTrainingArtifacts, Trainer } from '../../../../src/native/training/index';
import { affineData, tinyInit, tinySetup } from './tiny';

const { dir, ckpt, steps } = workerData as { dir: string; ckpt: string; steps: number };
try {
  emitTrainingArtifacts(tinySetup(), { dir, optimizer: { kind: 'adamw' } });
  const t = await Trainer.create({
    artifactsDir: dir,
    data: affineData(64),
    batchSize: 8,
    seed: 42,
    schedule: { kind: 'constant', lr: 1e-3 },
    initialParams: tinyInit(),
    session: { intraOpNumThreads: 1 },
    checkpointDir: ckpt,
    checkpointEvery: steps,
  });
  const res = await t.train(steps);
  await t.close();
  parentPort!.postMessage({ ok: true, losses: res.losses });
} catch (e) {
  parentPort!.postMessage({ ok: false, error: String((e as Error).stack ?? e) });
}
