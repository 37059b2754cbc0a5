// Prompt learning through an int8 text encoder (reference-a): the training graph multiplies by the
// quantized weights (MatMulNBits) and differentiates through them with their transposed
// quantization; loss and dctx stay close to PyTorch's float32 values, and a GPU device is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readHeads } from '../../../../src/native/models/heads';
import { imageFeatures } from '../../../../src/native/cleft/features';
import { openPromptLearning } from '../../../../src/native/cleft/prompt-learning';
import { REF, cases, f32, i64, relErr, shapeOf, promptClassIds } from './reference';
import { writeSafetensors } from '../../../../src/native/formats/safetensors';
import { runCli } from '../../../helpers/cli';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-pl-int8-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const options = async (workDir: string) => {
  const feats = await imageFeatures({ modelDir: path.join(REF, 'vit'), pool: 'cls' }, f32('vit.pixel_values'), [3, 3, 32, 32], {
    cacheDir: path.join(tmp, 'cache'),
  });
  return {
    text: { modelDir: path.join(REF, 'gpt2') },
    heads: readHeads(path.join(REF, 'heads.safetensors')),
    imageFeatures: feats.features,
    labels: Array.from(i64('prompt.labels'), Number),
    classIds: promptClassIds(),
    init: { kind: 'values' as const, ctx: f32('prompt.ctx'), shape: shapeOf('prompt.ctx') },
    optimizer: { kind: 'sgd' as const, lr: 0.1 },
    steps: 1,
    batchSize: 3,
    shuffle: false,
    workDir,
    weights: 'int8' as const,
  };
};

describe('prompt learning with int8 weights', () => {
  it('loss and gradient w.r.t. ctx within a few percent of float32 (PyTorch), through MatMulNBits', async () => {
    const workDir = path.join(tmp, 'work');
    const { wt } = await openPromptLearning(await options(workDir));
    try {
      const g = await wt.gradients([0, 1, 2]);
      const lossErr = relErr([g.loss], f32('prompt.loss'));
      const gradErr = relErr(g.grads.get('ctx')!, f32('prompt.grad.ctx'));
      expect(lossErr).toBeGreaterThan(0); // not the float path ...
      expect(lossErr).toBeLessThan(0.02); // ... close to it
      expect(gradErr).toBeLessThan(0.05);
    } finally {
      await wt.close();
    }
    const step = fs.readFileSync(path.join(workDir, 'train_step.onnx'));
    expect(step.includes(Buffer.from('MatMulNBits'))).toBe(true);
    // the forward and its transposed quantization, written once beside the graphs
    expect(fs.readdirSync(path.join(workDir, 'weights')).filter((f) => f.endsWith('.q8.bin'))).toHaveLength(1);
  });

  it('refuses a GPU device, saying int8 runs on the CPU', async () => {
    await expect(openPromptLearning({ ...(await options(path.join(tmp, 'work-gpu'))), device: 'webgpu' })).rejects.toThrow(
      /int8 weights run on the CPU provider only/,
    );
  });

  it('cleft prompt-learn --weights int8 trains and says so in metrics.json (float32 by default)', { timeout: 300_000 }, () => {
    const t = (k: string) => cases.get(k)!;
    const data = path.join(tmp, 'prompt.safetensors');
    writeSafetensors(data, {
      pixel_values: t('vit.pixel_values'),
      labels: t('prompt.labels'),
      'class_ids.0': t('prompt.class_ids.0'),
      'class_ids.1': t('prompt.class_ids.1'),
      'class_ids.2': t('prompt.class_ids.2'),
    });
    const run = (extra: string[]) => {
      const out = path.join(tmp, `cli-${extra.join('-') || 'default'}`);
      const args = ['prompt-learn', '--text-model', path.join(REF, 'gpt2'), '--image-model', path.join(REF, 'vit')];
      args.push('--heads', path.join(REF, 'heads.safetensors'), '--data', data, '--optimizer', 'sgd', '--lr', '0.1');
      args.push('--steps', '1', '--batch-size', '3', '--no-shuffle', '--output', out, '--json', ...extra);
      runCli(args);
      return JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8')) as { weights: string; steps: number };
    };
    expect(run(['--weights', 'int8'])).toMatchObject({ weights: 'int8', steps: 1 });
    expect(run([]).weights).toBe('float32');
  });
});
