// Training artifacts emitted for the WebGPU EP: no LogSoftmax, the optimizer's `step` fed as float32,
// and the same training as the CPU artifacts (run here on the CPU provider, and on WebGPU where an
// adapter exists).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitTrainingArtifacts, NO_DECAY_BIAS_AND_NORM, Trainer, type TrainerOptions } from '../../../../src/native/training/index';
import { probeWebgpu } from '../../../../src/native/runtime/providers';
import { affineData, tinyInit, tinySetup } from './tiny';

const noWebgpu = await probeWebgpu();
let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-train-webgpu-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function emit(target: 'cpu' | 'webgpu', kind: 'adamw' | 'sgd') {
  const dir = path.join(root, `${target}-${kind}`);
  const optimizer = kind === 'adamw' ? { kind, weightDecay: 0.01 } : { kind, momentum: 0.9, dampening: 0.5 };
  const manifest = emitTrainingArtifacts(tinySetup(), { dir, optimizer, noDecay: NO_DECAY_BIAS_AND_NORM, target });
  return { dir, manifest };
}

const opts = (dir: string, extra: Partial<TrainerOptions> = {}): TrainerOptions => ({
  artifactsDir: dir,
  data: affineData(32),
  batchSize: 8,
  seed: 5,
  schedule: { kind: 'constant', lr: 3e-3 },
  initialParams: tinyInit(),
  session: { intraOpNumThreads: 1 },
  ...extra,
});

/** Whether a node of this op type is in the model (NodeProto.op_type is field 4: tag 0x22, then the length). */
const hasOp = (dir: string, f: string, op: string) =>
  fs
    .readFileSync(path.join(dir, f))
    .toString('latin1')
    .includes(`\x22${String.fromCharCode(op.length)}${op}`);

describe('artifacts emitted for WebGPU', () => {
  for (const kind of ['adamw', 'sgd'] as const)
    it(`${kind}: no LogSoftmax, float32 step, and 4 updates on the CPU match the CPU artifacts`, async () => {
      const cpu = emit('cpu', kind);
      const gpu = emit('webgpu', kind);
      expect(cpu.manifest.files.optimizer.inputs.find((i) => i.name === 'step')?.dtype).toBe('int64');
      expect(gpu.manifest.files.optimizer.inputs.find((i) => i.name === 'step')?.dtype).toBe('float32');
      expect(hasOp(cpu.dir, 'train_step.onnx', 'LogSoftmax')).toBe(true);
      expect(hasOp(gpu.dir, 'train_step.onnx', 'LogSoftmax')).toBe(false);
      expect(hasOp(gpu.dir, 'train_step.onnx', 'ReduceMax')).toBe(true);
      const a = await Trainer.create(opts(cpu.dir));
      const b = await Trainer.create(opts(gpu.dir));
      const la = (await a.train(4)).losses;
      const lb = (await b.train(4)).losses;
      for (let i = 0; i < la.length; i++) expect(Math.abs(la[i]! - lb[i]!)).toBeLessThan(1e-5 * Math.abs(la[i]!));
      const pa = a.paramsByName();
      const pb = b.paramsByName();
      for (const [name, v] of pa) {
        const w = pb.get(name)!;
        let worst = 0;
        for (let i = 0; i < v.length; i++) worst = Math.max(worst, Math.abs(v[i]! - w[i]!));
        // AdamW divides by sqrt(v): where gradients are ~0, rounding-level loss differences move a
        // parameter by a visible fraction of lr; SGD stays at rounding level.
        expect(worst, name).toBeLessThan(kind === 'adamw' ? 0.05 * 3e-3 : 1e-5);
      }
      await a.close();
      await b.close();
    });

  it.skipIf(noWebgpu !== undefined)(
    `on the WebGPU provider the optimizer runs entirely on WebGPU${noWebgpu ? ` (skipped: ${noWebgpu})` : ''}`,
    async () => {
      const gpu = emit('webgpu', 'adamw');
      const t = await Trainer.create(opts(gpu.dir, { session: { provider: { name: 'webgpu', choice: 'webgpu' } } }));
      expect(t.placements.optimizer).toEqual({ provider: 'webgpu', allNodesOnProvider: true });
      expect(t.placements.train_step.provider).toBe('webgpu');
      const losses = (await t.train(2)).losses;
      expect(losses.every((l) => Number.isFinite(l))).toBe(true);
      await t.close();
    },
    600_000,
  );
});
