/**
 * Host<->ORT traffic of a training step, counted by the runner on real sessions, and training state
 * kept on the WebGPU device between train_step and the optimizer: the same losses and parameters as
 * the host round trip, checkpoints read back from the device, a resumed run continuing exactly.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeWebgpu } from '../../../../src/native/runtime/providers';
import {
  emitTrainingArtifacts,
  NO_DECAY_BIAS_AND_NORM,
  Trainer,
  type OptimizerConfig,
  type SessionTraffic,
  type TrainerOptions,
} from '../../../../src/native/training/index';
import { SessionCache } from '../../../../src/native/runtime/session-cache';
import { affineData, SEQ, tinyInit, tinySetup } from './tiny';
import { webgpuRepeatable } from '../../../helpers/webgpu';

const noWebgpu = await probeWebgpu();
const WEBGPU = { name: 'webgpu', choice: 'webgpu' } as const;
let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-device-state-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const BATCH = 8;
// ids + labels, int64 [batch, seq]
const BATCH_BYTES = 2 * 8 * BATCH * SEQ;

/** The largest |a - b| over every element of every named tensor. */
function maxParamDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let m = 0;
  for (const [name, v] of a) {
    const w = b.get(name)!;
    for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]! - w[i]!));
  }
  return m;
}

function emit(name: string, target: 'cpu' | 'webgpu', optimizer: OptimizerConfig = { kind: 'adamw', weightDecay: 0.01 }) {
  const dir = path.join(root, name);
  const manifest = emitTrainingArtifacts(tinySetup(), {
    dir,
    optimizer,
    noDecay: NO_DECAY_BIAS_AND_NORM,
    target,
  });
  return { dir, manifest };
}

const opts = (dir: string, extra: Partial<TrainerOptions> = {}): TrainerOptions => ({
  artifactsDir: dir,
  data: affineData(32),
  batchSize: BATCH,
  seed: 5,
  schedule: { kind: 'constant', lr: 3e-3 },
  initialParams: tinyInit(),
  session: { intraOpNumThreads: 1 },
  ...extra,
});

const io = (runs: number, hostIn: number, hostOut: number, deviceIn = 0, deviceOut = 0): SessionTraffic => ({
  runs,
  hostIn,
  hostOut,
  deviceIn,
  deviceOut,
});

describe('bytes between the host and ORT per training step', () => {
  it('CPU (host round trip): every trainable tensor, gradient and AdamW state crosses twice per update', async () => {
    const { dir, manifest } = emit('cpu', 'cpu');
    const P = 4 * manifest.layout.total; // one float32 copy of the trainable vector
    const t = await Trainer.create(opts(dir));
    expect(t.deviceResident).toBe(false);
    for (let s = 0; s < 2; s++) {
      const info = await t.trainStep();
      // train_step: batch + params in; loss + grads out
      expect(info.io.train_step).toEqual(io(1, BATCH_BYTES + P, 4 + P));
      // optimizer: params, grads, m, v + step (int64), lr, max_norm in; params, m, v, grad_norm out
      expect(info.io.optimizer).toEqual(io(1, 4 * P + 8 + 4 + 4, 3 * P + 4));
    }
    await t.close();
  });

  it.skipIf(noWebgpu !== undefined)(
    `WebGPU: state stays on the device; per update only the batch and scalars go up, loss and norm come down${noWebgpu ? ` (skipped: ${noWebgpu})` : ''}`,
    async () => {
      const { dir, manifest } = emit('gpu-io', 'webgpu');
      const P = 4 * manifest.layout.total;
      const t = await Trainer.create(opts(dir, { session: { intraOpNumThreads: 1, provider: WEBGPU } }));
      expect(t.deviceResident).toBe(true);
      expect(t.placements.optimizer).toEqual({ provider: 'webgpu', allNodesOnProvider: true });
      const first = await t.trainStep();
      // the first update uploads the initial parameters and the zero AdamW state once
      expect(first.io.train_step).toEqual(io(1, BATCH_BYTES + P, 4, 0, P));
      expect(first.io.optimizer).toEqual(io(1, P + 2 * P + 12, 4, P, 3 * P));
      for (let s = 0; s < 2; s++) {
        const info = await t.trainStep();
        expect(info.io.train_step).toEqual(io(1, BATCH_BYTES, 4, P, P));
        expect(info.io.optimizer).toEqual(io(1, 12, 4, 4 * P, 3 * P));
      }
      expect(() => t.paramsByName()).toThrow(/on the device .* syncToHost/);
      await t.syncToHost();
      expect(t.traffic.readback).toEqual(io(1, 0, 3 * P, 3 * P, 0));
      await t.syncToHost(); // current: no second read
      expect(t.traffic.readback.runs).toBe(1);
      expect(t.paramsByName().size).toBe(manifest.layout.entries.length);
      await t.close();
    },
  );

  it.skipIf(noWebgpu !== undefined)(
    `WebGPU: device-resident training matches the host round trip, and resumes from its checkpoint exactly (where the adapter repeats its bits)${noWebgpu ? ` (skipped: ${noWebgpu})` : ''}`,
    async () => {
      const { dir } = emit('gpu-same', 'webgpu');
      const session = { intraOpNumThreads: 1, provider: WEBGPU };
      const host = await Trainer.create(opts(dir, { session, deviceState: false }));
      expect(host.deviceResident).toBe(false);
      expect(host.hostStateReason).toMatch(/turned off/);
      const whole = await Trainer.create(opts(dir, { session }));
      const ck = path.join(root, 'gpu-ck');
      const dev = await Trainer.create(opts(dir, { session, checkpointDir: ck, checkpointEvery: 2 }));
      const lh = (await host.train(4)).losses;
      const lw = (await whole.train(4)).losses;
      const whole2 = await Trainer.create(opts(dir, { session }));
      await whole2.train(4);
      const ld = (await dev.train(2)).losses;
      // a second trainer resumes from the checkpoint read back from the device at update 2
      const resumed = await Trainer.create({ ...opts(dir, { session }), resumeFrom: ck });
      expect(resumed.step).toBe(2);
      ld.push(...(await resumed.train(4)).losses);
      const pw = whole.paramsByName();
      // Exact where the adapter repeats its bits (lavapipe on one thread, test/helpers/webgpu.ts);
      // elsewhere as close as two uninterrupted runs are to each other.
      const noise = maxParamDiff(whole2.paramsByName(), pw);
      if (webgpuRepeatable()) {
        expect(noise).toBe(0);
        expect(ld).toEqual(lw);
        for (const [name, v] of resumed.paramsByName()) expect(v, name).toEqual(pw.get(name));
      } else expect(maxParamDiff(resumed.paramsByName(), pw)).toBeLessThanOrEqual(Math.max(1e-6, 10 * noise));
      // Against the host round trip (optimizer.onnx, flat): the same update in another graph; WebGPU's
      // kernels round differently there (1 ulp on some elements), CPU artifacts are unchanged.
      const lossTol = webgpuRepeatable() ? 1e-6 : 1e-4;
      for (let i = 0; i < lh.length; i++) expect(Math.abs(lw[i]! - lh[i]!)).toBeLessThan(lossTol * Math.abs(lh[i]!));
      expect(maxParamDiff(host.paramsByName(), pw)).toBeLessThanOrEqual(Math.max(1e-6, 10 * noise));
      // a forward with the device-resident parameters equals one with their host copy
      const batch = affineData(32).batch([0, 1, 2, 3, 4, 5, 6, 7]);
      const again = await Trainer.create({ ...opts(dir, { session }), resumeFrom: ck });
      await again.train(3);
      const fDev = await again.forward(batch);
      await again.syncToHost();
      const hostFwd = await Trainer.create(opts(dir, { session, deviceState: false, initialParams: again.paramsByName() }));
      const fHost = (await hostFwd.forward(batch)).logits!.data as Float32Array;
      if (webgpuRepeatable()) expect(fDev.logits!.data).toEqual(fHost);
      else (fDev.logits!.data as Float32Array).forEach((v, i) => expect(Math.abs(v - fHost[i]!)).toBeLessThanOrEqual(1e-5));
      for (const t of [host, whole, whole2, dev, resumed, again, hostFwd]) await t.close();
    },
  );

  it.skipIf(noWebgpu !== undefined)(
    `WebGPU, SGD with momentum: one state vector on the device, the same training as the host round trip; every device graph entirely on WebGPU${noWebgpu ? ` (skipped: ${noWebgpu})` : ''}`,
    async () => {
      const { dir, manifest } = emit('gpu-sgd', 'webgpu', { kind: 'sgd', momentum: 0.9, dampening: 0.5, weightDecay: 0.01 });
      const P = 4 * manifest.layout.total;
      const session = { intraOpNumThreads: 1, provider: WEBGPU };
      const dev = await Trainer.create(opts(dir, { session }));
      const host = await Trainer.create(opts(dir, { session, deviceState: false }));
      for (let s = 0; s < 3; s++) {
        const a = await dev.trainStep();
        const b = await host.trainStep();
        expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-6 * Math.abs(b.loss));
        if (s > 0) expect(a.io.optimizer).toEqual(io(1, 12, 4, 3 * P, 2 * P));
      }
      await dev.syncToHost();
      const ph = host.paramsByName();
      for (const [name, v] of dev.paramsByName()) {
        const w = ph.get(name)!;
        for (let i = 0; i < v.length; i++) expect(Math.abs(v[i]! - w[i]!), name).toBeLessThan(1e-6);
      }
      // placement of the two graphs only the device-resident trainer runs
      const cache = new SessionCache();
      for (const f of [manifest.files.optimizer_device!.file, manifest.files.readback!.file]) {
        const { entry } = await cache.acquire({ path: path.join(dir, f) }, session);
        expect(entry.placement, f).toEqual({ provider: 'webgpu', allNodesOnProvider: true });
      }
      await cache.clear();
      await dev.close();
      await host.close();
    },
  );

  it('gradient accumulation keeps the host round trip on WebGPU and says why', async () => {
    const { dir } = emit('gpu-acc', 'webgpu');
    // CPU provider here: the reason names the provider first; with accumulation on WebGPU it names that.
    const t = await Trainer.create(opts(dir, { accumulation: 2 }));
    expect(t.hostStateReason).toMatch(/WebGPU/);
    await t.close();
    if (noWebgpu === undefined) {
      const g = await Trainer.create(opts(dir, { accumulation: 2, session: { intraOpNumThreads: 1, provider: WEBGPU } }));
      expect(g.hostStateReason).toMatch(/accumulation/);
      await g.close();
    }
  });
});
