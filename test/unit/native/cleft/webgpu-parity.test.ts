// The CLI on the WebGPU execution provider against PyTorch (reference-a): `cleft embed --device
// webgpu` within 1e-4, one SGD step of train-lora and prompt-learn with --device webgpu within 1e-3
// on the gradient, and `cleft demo --device webgpu --quick`. Skips with the reason where no WebGPU
// adapter exists. Slow on a software adapter (lavapipe compiles every shader on the CPU): generous
// timeouts, no timing assertions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readHeads } from '../../../../src/native/models/heads';
import { readPeftAdapter } from '../../../../src/native/formats/peft';
import { readTensorF32, readTensors, toFloat32, writeSafetensors } from '../../../../src/native/formats/safetensors';
import { probeWebgpu } from '../../../../src/native/runtime/providers';
import type { DeviceRecord } from '../../../../src/native/runtime/device-record';
import { cliOutcome } from '../../../helpers/cli';
import { REF, cases, f32, relErr } from './reference';

const noWebgpu = await probeWebgpu();
const SLOW = 900_000;
const R = (p: string) => path.join(REF, p);
let tmp: string;

function cli(...args: string[]): string {
  const r = cliOutcome(args, { dataDir: path.join(tmp, 'data') });
  expect(r.status, r.stderr.slice(-3000)).toBe(0);
  return r.stdout;
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-webgpu-'));
  const t = (k: string) => cases.get(k)!;
  writeSafetensors(path.join(tmp, 'text-in.safetensors'), { input_ids: t('text.input_ids'), lengths: t('text.lengths') });
  writeSafetensors(path.join(tmp, 'vit-in.safetensors'), { pixel_values: t('vit.pixel_values') });
  writeSafetensors(path.join(tmp, 'dinov2-in.safetensors'), { pixel_values: t('dinov2.pixel_values') });
  writeSafetensors(path.join(tmp, 'pairs.safetensors'), {
    pixel_values: t('vit.pixel_values'),
    input_ids: t('text.input_ids'),
    lengths: t('text.lengths'),
  });
  writeSafetensors(path.join(tmp, 'prompt.safetensors'), {
    pixel_values: t('vit.pixel_values'),
    labels: t('prompt.labels'),
    'class_ids.0': t('prompt.class_ids.0'),
    'class_ids.1': t('prompt.class_ids.1'),
    'class_ids.2': t('prompt.class_ids.2'),
  });
  writeSafetensors(path.join(tmp, 'ctx.safetensors'), { ctx: t('prompt.ctx') });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The gradient one SGD step (lr, no momentum, no weight decay) applied: (before - after) / lr. */
const stepGrad = (before: Float32Array, after: Float32Array, lr: number) => Float64Array.from(before, (b, i) => (b - after[i]!) / lr);

const expectWebgpuRecord = (d: DeviceRecord) => {
  expect(d).toMatchObject({ requested: 'webgpu', provider: 'webgpu', reason: 'requested explicitly (--device webgpu)' });
  // every graph node for node on WebGPU (static shapes, int32 index arithmetic: docs/engine.md#webgpu-coverage)
  // and said to be not deterministic (WebGPU does not fix the order of parallel reductions)
  for (const g of ['forward', 'train_step', 'optimizer'])
    expect(d.graphs[g]).toMatchObject({ provider: 'webgpu', allNodesOnProvider: true, deterministic: false });
};

describe.skipIf(noWebgpu !== undefined)(`WebGPU parity with PyTorch${noWebgpu ? ` (skipped: ${noWebgpu})` : ''}`, () => {
  const EMBED = [
    {
      name: 'GPT-2 text + LoRA',
      args: ['text', '--model', R('gpt2'), '--adapter', R('gpt2/adapter')],
      input: 'text-in',
      key: 'text.embedding_lora',
    },
    { name: 'ViT cls', args: ['image', '--model', R('vit')], input: 'vit-in', key: 'vit.embedding' },
    {
      name: 'DINOv2-reg prenorm-mean',
      args: ['image', '--model', R('dinov2'), '--pool', 'prenorm-mean'],
      input: 'dinov2-in',
      key: 'dinov2.embedding_prenorm_mean',
    },
  ];
  for (const c of EMBED)
    it(
      `cleft embed --device webgpu: ${c.name} within 1e-4 of PyTorch`,
      () => {
        const out = path.join(tmp, `embed-${c.key}.safetensors`);
        const line = cli('embed', ...c.args, '--input', path.join(tmp, `${c.input}.safetensors`), '--output', out, '--device', 'webgpu');
        expect(line).toMatch(/\(webgpu, onnx [0-9a-f]{12}/);
        const got = toFloat32(readTensors(out).get('embedding')!);
        expect(relErr(got, f32(c.key))).toBeLessThan(1e-4);
      },
      SLOW,
    );

  it(
    'one SGD step of train-lora --device webgpu: every gradient within 1e-3 of PyTorch, and the run record says WebGPU',
    () => {
      const out = path.join(tmp, 'lora');
      const lr = 1;
      const summary = JSON.parse(
        cli(
          'train-lora',
          '--text-model',
          R('gpt2'),
          '--text-adapter',
          R('gpt2/adapter'),
          '--image-model',
          R('vit'),
          '--image-adapter',
          R('vit/adapter'),
          '--heads',
          R('heads.safetensors'),
          '--data',
          path.join(tmp, 'pairs.safetensors'),
          '--lora-dropout',
          '0',
          '--optimizer',
          'sgd',
          '--lr',
          String(lr),
          '--steps',
          '1',
          '--batch-size',
          '3',
          '--no-shuffle',
          '--device',
          'webgpu',
          '--output',
          out,
          '--json',
        ),
      ) as { device: DeviceRecord; losses: number[] };
      expectWebgpuRecord(summary.device);
      expect(Math.abs(summary.losses[0]! - f32('clip.loss')[0]!)).toBeLessThan(1e-4);
      const before = new Map<string, Float32Array>();
      const after = new Map<string, Float32Array>();
      for (const [side, fam, dir] of [
        ['text', 'gpt2', 'gpt2/adapter'],
        ['image', 'vit', 'vit/adapter'],
      ] as const) {
        const a0 = readPeftAdapter(R(dir), { family: fam });
        const a1 = readPeftAdapter(path.join(out, `${side}-adapter`), { family: fam });
        for (const m of a0.modules.values()) {
          const m1 = a1.modules.get(m.module)!;
          before.set(`${side}.${m.module}.lora_A`, toFloat32(m.A));
          before.set(`${side}.${m.module}.lora_B`, toFloat32(m.B));
          after.set(`${side}.${m.module}.lora_A`, toFloat32(m1.A));
          after.set(`${side}.${m.module}.lora_B`, toFloat32(m1.B));
        }
      }
      const h0 = readHeads(R('heads.safetensors'));
      const h1 = readHeads(path.join(out, 'heads.safetensors'));
      before.set('text_projection.weight', h0.textProjection).set('visual_projection.weight', h0.visualProjection);
      after.set('text_projection.weight', h1.textProjection).set('visual_projection.weight', h1.visualProjection);
      before.set('logit_scale', Float32Array.of(h0.logitScale));
      after.set('logit_scale', Float32Array.of(h1.logitScale));
      expect(before.size).toBe(19);
      for (const [name, p0] of before) {
        const err = relErr(stepGrad(p0, after.get(name)!, lr), f32(`clip.grad.${name}`));
        expect(err, name).toBeLessThan(1e-3);
      }
    },
    SLOW,
  );

  it(
    'one SGD step of prompt-learn --device webgpu: the ctx gradient within 1e-3 of PyTorch',
    () => {
      const out = path.join(tmp, 'pl');
      const lr = 1;
      const summary = JSON.parse(
        cli(
          'prompt-learn',
          '--text-model',
          R('gpt2'),
          '--image-model',
          R('vit'),
          '--heads',
          R('heads.safetensors'),
          '--data',
          path.join(tmp, 'prompt.safetensors'),
          '--init-ctx',
          path.join(tmp, 'ctx.safetensors'),
          '--optimizer',
          'sgd',
          '--lr',
          String(lr),
          '--weight-decay',
          '0',
          '--steps',
          '1',
          '--batch-size',
          '3',
          '--no-shuffle',
          '--device',
          'webgpu',
          '--output',
          out,
          '--json',
        ),
      ) as { device: DeviceRecord };
      expectWebgpuRecord(summary.device);
      expect(summary.device.graphs.image_features).toMatchObject({ provider: 'webgpu', allNodesOnProvider: null, deterministic: false });
      const ctx1 = readTensorF32(path.join(out, 'prompt.safetensors'), 'ctx');
      expect(relErr(stepGrad(f32('prompt.ctx'), ctx1, lr), f32('prompt.grad.ctx'))).toBeLessThan(1e-3);
    },
    SLOW,
  );

  it(
    'cleft demo --device webgpu --quick runs and records WebGPU for both trainings',
    () => {
      const out = path.join(tmp, 'demo');
      const r = JSON.parse(cli('demo', '--quick', '--device', 'webgpu', '--output', out, '--json')) as {
        device: { contrastive: DeviceRecord; prompt: DeviceRecord };
        contrastive: { steps: number; firstLoss: number; lastLoss: number };
      };
      expectWebgpuRecord(r.device.contrastive);
      expectWebgpuRecord(r.device.prompt);
      expect(r.contrastive.steps).toBeGreaterThan(0);
      expect(Number.isFinite(r.contrastive.lastLoss)).toBe(true);
      expect(fs.existsSync(path.join(out, 'bundle'))).toBe(true);
    },
    SLOW,
  );
});
