/**
 * The trainer end to end on a 2-layer, d=64 transformer built with the IR: it learns a synthetic task,
 * gradient accumulation equals one larger batch, an interrupted and resumed run repeats the
 * uninterrupted one bit for bit (with dropout and accumulation), and bad checkpoints are refused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineWorker } from '../../../../src/native/runtime/engine-worker';
import { startThread } from '../../../../src/main/workers/thread-launcher';
import {
  CHECKPOINT_FILE,
  CheckpointError,
  DROPOUT_MASK,
  emitTrainingArtifacts,
  engineWorkerRunner,
  NO_DECAY_BIAS_AND_NORM,
  Trainer,
  type CheckpointMeta,
  type StepInfo,
  type TrainerOptions,
} from '../../../../src/native/training/index';
import { affineData, tinyInit, tinySetup, TINY } from './tiny';

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-train-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function artifacts(
  name: string,
  cfg = TINY,
  optimizer: TrainerOptions extends never ? never : Parameters<typeof emitTrainingArtifacts>[1]['optimizer'] = {
    kind: 'adamw',
    weightDecay: 0.01,
  },
) {
  const dir = path.join(root, name);
  const manifest = emitTrainingArtifacts(tinySetup(cfg, name.split('-')[0]), { dir, optimizer, noDecay: NO_DECAY_BIAS_AND_NORM });
  return { dir, manifest };
}

const base = (dir: string, extra: Partial<TrainerOptions> = {}): TrainerOptions & { resumeFrom?: string } => ({
  artifactsDir: dir,
  data: affineData(64),
  batchSize: 8,
  seed: 42,
  schedule: { kind: 'cosine', lr: 3e-3, warmupSteps: 5, totalSteps: 60, minLr: 3e-4 },
  initialParams: tinyInit(),
  session: { intraOpNumThreads: 1 },
  ...extra,
});

describe('training artifacts', () => {
  it('writes forward/train_step/optimizer and a manifest with hashes, layout and batch inputs', () => {
    const { dir, manifest } = artifacts('tiny-artifacts');
    for (const f of ['forward.onnx', 'train_step.onnx', 'optimizer.onnx', 'manifest.json'])
      expect(fs.existsSync(path.join(dir, f))).toBe(true);
    expect(manifest.batchInputs.map((i) => i.name).sort()).toEqual(['ids', 'labels']);
    expect(manifest.forwardInputs.map((i) => i.name)).toEqual(['ids']);
    expect(manifest.dropoutSeed).toBe(false);
    expect(manifest.layout.entries.length).toBe(4 + 12 * TINY.layers + 1);
    expect(manifest.layout.entries.find((e) => e.name === 'h.0.ln_1.weight')!.decay).toBe(false);
    expect(manifest.layout.entries.find((e) => e.name === 'h.0.attn.c_attn.weight')!.decay).toBe(true);
    expect(manifest.files.train_step.outputs.map((o) => o.name)).toContain('grad.lm_head');
    expect(manifest.files.optimizer.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('Trainer', () => {
  it('trains the 2-layer d=64 transformer with AdamW to < 30% of the initial loss in a few seconds', async () => {
    const { dir } = artifacts('tiny-learn');
    const infos: StepInfo[] = [];
    const t0 = performance.now();
    const trainer = await Trainer.create(base(dir, { onStep: (i) => void infos.push(i) }));
    const res = await trainer.train(60);
    const seconds = (performance.now() - t0) / 1e3;
    await trainer.close();
    expect(res.stopped).toBe('done');
    const first = infos[0]!.loss;
    const last = infos.slice(-5).reduce((a, b) => a + b.loss, 0) / 5;
    expect(first).toBeGreaterThan(2); // ≈ ln 16
    expect(last, `loss ${first.toFixed(3)} -> ${last.toFixed(3)} in ${seconds.toFixed(1)} s`).toBeLessThan(0.3 * first);
    expect(infos[0]!.lr).toBeCloseTo(3e-3 / 5, 8);
    expect(infos.every((i) => Number.isFinite(i.gradNorm) && i.gradNorm > 0)).toBe(true);
    expect(seconds).toBeLessThan(30);
  });

  it('4 accumulated micro-batches equal one batch 4x as large (loss, grad norm, parameters)', async () => {
    const { dir } = artifacts('tiny-accum', TINY, { kind: 'sgd', momentum: 0.9 });
    const a = await Trainer.create(base(dir, { batchSize: 4, accumulation: 4, schedule: { kind: 'constant', lr: 0.05 } }));
    const b = await Trainer.create(base(dir, { batchSize: 16, accumulation: 1, schedule: { kind: 'constant', lr: 0.05 } }));
    for (let s = 0; s < 3; s++) {
      const [ia, ib] = [await a.trainStep(), await b.trainStep()];
      expect(Math.abs(ia.loss - ib.loss)).toBeLessThan(1e-5 * ib.loss);
      expect(Math.abs(ia.gradNorm - ib.gradNorm)).toBeLessThan(1e-4 * ib.gradNorm);
    }
    const pa = a.paramsByName();
    let worst = 0;
    for (const [n, v] of b.paramsByName()) {
      const w = pa.get(n)!;
      for (let i = 0; i < v.length; i++) worst = Math.max(worst, Math.abs(v[i]! - w[i]!));
    }
    expect(worst).toBeLessThan(2e-6);
    await a.close();
    await b.close();
  });

  it('an interrupted and resumed run gives bit-identical losses and parameters (dropout 0.1, accumulation 2)', async () => {
    const cfg = { ...TINY, dropout: 0.1 };
    const { dir, manifest } = artifacts('tinydrop-resume', cfg);
    expect(manifest.dropoutSeed).toBe(true);
    const opts = (extra: Partial<TrainerOptions>) => base(dir, { accumulation: 2, maxGradNorm: 1, initialParams: tinyInit(cfg), ...extra });

    const full = await Trainer.create(opts({}));
    const fullRes = await full.train(12);

    const ckpt = path.join(root, 'ckpt-resume');
    const stop = new AbortController();
    const first = await Trainer.create(opts({ checkpointDir: ckpt, onStep: (i) => void (i.step === 5 && stop.abort()) }));
    const part1 = await first.train(12, stop.signal);
    await first.close();
    expect(part1.stopped).toBe('aborted');
    expect(part1.steps).toBe(5);

    const resumed = await Trainer.create({ ...opts({ initialParams: undefined }), resumeFrom: ckpt });
    expect(resumed.step).toBe(5);
    expect(resumed.microBatches).toBe(10);
    const part2 = await resumed.train(12);
    expect([...part1.losses, ...part2.losses]).toEqual(fullRes.losses);
    for (const [n, v] of full.paramsByName()) expect(Buffer.from(resumed.param(n).buffer).equals(Buffer.from(v.buffer)), n).toBe(true);
    // dropout is active: the same step with another seed gives another loss
    const other = await Trainer.create(opts({ seed: 43 }));
    expect((await other.trainStep()).loss).not.toBe(fullRes.losses[0]);
    await Promise.all([full.close(), resumed.close(), other.close()]);
  });

  it('refuses a dropout checkpoint whose masks came from another hash (the int64 one before dropoutMask was recorded), naming the file', async () => {
    const cfg = { ...TINY, dropout: 0.1 };
    const { dir } = artifacts('tinydrop-oldmask', cfg);
    const ckpt = path.join(root, 'ckpt-oldmask');
    const opts = base(dir, { initialParams: tinyInit(cfg), checkpointDir: ckpt });
    const t = await Trainer.create(opts);
    await t.train(2);
    const meta = t.saveCheckpoint();
    await t.close();
    expect(meta.hyperparameters.dropoutMask).toBe(DROPOUT_MASK);
    const file = path.join(ckpt, CHECKPOINT_FILE);
    const rewrite = (edit: (m: CheckpointMeta) => void) => {
      const m = JSON.parse(fs.readFileSync(file, 'utf8')) as CheckpointMeta;
      edit(m);
      fs.writeFileSync(file, JSON.stringify(m));
    };
    // as the earlier version wrote it: no dropoutMask, and its train_step.onnx (int64 hash) had another sha256
    rewrite((m) => {
      delete m.hyperparameters.dropoutMask;
      m.artifacts.train_step = 'e'.repeat(64);
    });
    const resume = () => Trainer.create({ ...opts, initialParams: undefined, resumeFrom: ckpt });
    const err = await resume().then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err!.message.startsWith(`${file}: cannot resume exactly`)).toBe(true);
    expect(err!.message).toContain(
      `dropout masks: the checkpoint was trained with the int64 mask hash of earlier versions (or without dropout), this version computes '${DROPOUT_MASK}' masks`,
    );
    expect(err!.message).toContain('start the run again instead of resuming');
    expect(err!.message).toContain('train_step.onnx changed since the checkpoint');
    // a recorded, different hash is named
    rewrite((m) => (m.hyperparameters.dropoutMask = 'some-other-hash'));
    await expect(resume()).rejects.toThrow(/trained with the 'some-other-hash' mask hash/);
    // the checkpoint as this version wrote it resumes
    rewrite((m) => {
      m.hyperparameters.dropoutMask = DROPOUT_MASK;
      m.artifacts.train_step = meta.artifacts.train_step!;
    });
    const ok = await resume();
    expect(ok.step).toBe(2);
    await ok.close();
  });

  it('refuses corrupted checkpoints and checkpoints of another shape with clear messages', async () => {
    const { dir } = artifacts('tiny-refuse');
    const ckpt = path.join(root, 'ckpt-refuse');
    const t = await Trainer.create(base(dir, { checkpointDir: ckpt }));
    await t.train(2);
    t.saveCheckpoint();
    await t.close();

    // another shape: d=32 instead of 64
    const other = artifacts('tiny-small', { ...TINY, dim: 32 });
    await expect(Trainer.create({ ...base(other.dir, { initialParams: undefined }), resumeFrom: ckpt })).rejects.toThrow(
      /does not match the setup: 'wte.weight' has shape \[16,64\] in the checkpoint, the setup expects \[16,32\]/,
    );
    // other hyperparameters (data order would differ)
    await expect(Trainer.create({ ...base(dir, { batchSize: 4 }), resumeFrom: ckpt })).rejects.toThrow(
      /cannot resume exactly.*batchSize 8 vs 4/,
    );

    // flipped byte in the tensor file
    const meta = JSON.parse(fs.readFileSync(path.join(ckpt, CHECKPOINT_FILE), 'utf8')) as { tensors: { file: string } };
    const file = path.join(ckpt, meta.tensors.file);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 100] ^= 0x40;
    fs.writeFileSync(file, bytes);
    await expect(Trainer.create({ ...base(dir), resumeFrom: ckpt })).rejects.toThrow(/checkpoint is corrupted: sha256 .* differs/);
    // truncated JSON
    fs.writeFileSync(path.join(ckpt, CHECKPOINT_FILE), '{"format": "cleft-training-checkpoint", "vers');
    await expect(Trainer.create({ ...base(dir), resumeFrom: ckpt })).rejects.toThrow(/checkpoint metadata is corrupted/);
    await expect(Trainer.create({ ...base(dir), resumeFrom: path.join(root, 'nowhere') })).rejects.toThrow(/no checkpoint here/);
  });

  it('runs through an EngineWorker with the same losses as in-thread', async () => {
    const { dir } = artifacts('tiny-worker');
    const local = await Trainer.create(base(dir));
    const engine = EngineWorker.start({ name: 'train-test' });
    try {
      const remote = await Trainer.create(base(dir, { runner: engineWorkerRunner(engine) }));
      const [a, b] = [await local.train(4), await remote.train(4)];
      expect(b.losses).toEqual(a.losses);
      await remote.close();
    } finally {
      await engine.close();
      await local.close();
    }
  });

  it('runs entirely inside a worker thread (in-thread sessions there) with the same losses', async () => {
    const dir = path.join(root, 'tiny-in-worker');
    const ckpt = path.join(root, 'ckpt-in-worker');
    const worker = startThread(path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker-entry.ts'), { dir, ckpt, steps: 4 });
    const msg = await new Promise<{ ok: boolean; losses?: number[]; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(msg.error).toBeUndefined();
    const here = await Trainer.create({ ...base(dir, { schedule: { kind: 'constant', lr: 1e-3 } }), resumeFrom: undefined });
    expect((await here.train(4)).losses).toEqual(msg.losses);
    await here.close();
    expect(fs.existsSync(path.join(ckpt, CHECKPOINT_FILE))).toBe(true);
  });
});
