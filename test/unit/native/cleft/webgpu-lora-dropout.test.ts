// train-lora with LoRA dropout on the WebGPU provider: the train step (dropout masks hashed in the
// graph from the fed seed) is created strictly on WebGPU, and with the same seed it computes the loss
// and every gradient of the CPU provider within 1e-3: the same masks on both. Skips with the reason
// where no WebGPU adapter exists. A run stopped after its checkpoint and resumed on WebGPU ends where
// the uninterrupted one ends: the masks are a function of (seed, step, position).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readHeads } from '../../../../src/native/models/heads';
import { openContrastive, trainContrastive, type ContrastiveOptions } from '../../../../src/native/cleft/contrastive';
import { probeWebgpu } from '../../../../src/native/runtime/providers';
import type { DeviceRecord } from '../../../../src/native/runtime/device-record';
import { REF, f32, i64, relErr } from './reference';

const noWebgpu = await probeWebgpu();
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-webgpu-dropout-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function options(device: 'cpu' | 'webgpu', onDevice: (d: DeviceRecord) => void = () => {}, work: string = device): ContrastiveOptions {
  return {
    text: { modelDir: path.join(REF, 'gpt2'), training: { mode: 'lora', adapterDir: path.join(REF, 'gpt2/adapter'), dropout: 0.1 } },
    image: {
      modelDir: path.join(REF, 'vit'),
      pool: 'cls',
      training: { mode: 'lora', adapterDir: path.join(REF, 'vit/adapter'), dropout: 0.1 },
    },
    heads: readHeads(path.join(REF, 'heads.safetensors')),
    data: {
      pixelValues: f32('vit.pixel_values'),
      pixelShape: [3, 3, 32, 32],
      inputIds: i64('text.input_ids'),
      lengths: i64('text.lengths'),
    },
    optimizer: { kind: 'sgd', lr: 1 },
    steps: 1,
    batchSize: 3,
    shuffle: false,
    seed: 5,
    workDir: path.join(tmp, work),
    device,
    onDevice,
  };
}

describe.skipIf(noWebgpu !== undefined)(`LoRA dropout on WebGPU${noWebgpu ? ` (skipped: ${noWebgpu})` : ''}`, () => {
  it('the LoRA+dropout train step runs strictly on WebGPU with the loss and gradients of the CPU (same masks) within 1e-3', async () => {
    let gpuRecord: DeviceRecord | null = null;
    const cpu = (await openContrastive(options('cpu', () => {}))).wt;
    const gpu = (await openContrastive(options('webgpu', (d) => (gpuRecord = d)))).wt;
    try {
      expect(gpu.trainer.placements.train_step).toEqual({ provider: 'webgpu', allNodesOnProvider: true });
      expect(gpuRecord!.graphs.train_step).toMatchObject({ provider: 'webgpu', allNodesOnProvider: true });
      const manifest = JSON.parse(fs.readFileSync(path.join(tmp, 'webgpu', 'manifest.json'), 'utf8')) as {
        dropoutSeed: boolean;
        files: { train_step: { inputs: { name: string; dtype: string; shape: number[] }[] } };
      };
      expect(manifest.dropoutSeed).toBe(true);
      expect(manifest.files.train_step.inputs.find((i) => i.name === 'dropout_seed')).toEqual({
        name: 'dropout_seed',
        dtype: 'int32',
        shape: [4],
      });

      // the WebGPU train step has the static shapes of one micro-batch: another size is refused up front
      await expect(gpu.gradients([0, 1])).rejects.toThrow('gradients: 2 examples, but the webgpu train step has the static shapes of 3');
      const a = await cpu.gradients([0, 1, 2]);
      const b = await gpu.gradients([0, 1, 2]);
      expect(Math.abs(b.loss - a.loss)).toBeLessThan(1e-3 * Math.abs(a.loss));
      expect(a.grads.size).toBe(19);
      for (const [name, g] of a.grads) {
        expect(relErr(b.grads.get(name)!, g), name).toBeLessThan(1e-3);
        // dropout is on: every gradient differs from PyTorch's dropout-free one (by 30-150 % here)
        expect(relErr(g, f32(`clip.grad.${name}`)), name).toBeGreaterThan(0.1);
      }

      // one training step with the trainer's own per-step seed: the same loss on both providers
      const [sa, sb] = [await cpu.trainer.trainStep(), await gpu.trainer.trainStep()];
      expect(Math.abs(sb.loss - sa.loss)).toBeLessThan(1e-3 * Math.abs(sa.loss));
      expect(sa.loss).not.toBe(a.loss); // step 1's masks, not those of seed 0
    } finally {
      await cpu.close();
      await gpu.close();
    }
  }, 600_000);

  it('a WebGPU run with dropout stopped after its checkpoint and resumed ends where the uninterrupted run ends (same masks per step)', async () => {
    const run = (work: string, extra: Partial<ContrastiveOptions> = {}) =>
      trainContrastive({ ...options('webgpu', () => {}, work), optimizer: { kind: 'adamw', lr: 1e-2 }, steps: 4, batchSize: 2, ...extra });
    const full = await run('full');
    const ck = { dir: path.join(tmp, 'ck'), every: 1 };
    const ac = new AbortController();
    const first = await run('part', { checkpoint: ck, signal: ac.signal, onProgress: (p) => void (p.step === 2 && ac.abort()) });
    expect(first.loop.steps).toBe(2);
    const resumed = await run('part', { checkpoint: ck });
    expect(resumed.loop.steps).toBe(4);
    const other = await run('other', { seed: 6 }); // other masks only: no shuffling, adapters and heads from files
    // WebGPU does not promise bit-equal reductions: the resumed run must be as close to the
    // uninterrupted one as rounding allows, and far closer than a run with other masks
    let same = 0;
    let diff = 0;
    for (const [k, v] of full.params) {
      same = Math.max(same, relErr(resumed.params.get(k)!, v));
      diff = Math.max(diff, relErr(other.params.get(k)!, v));
    }
    expect(same).toBeLessThan(1e-5);
    expect(diff).toBeGreaterThan(1e-3);
  }, 600_000);
});
