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
import { REF, f32, i64, relErr, shapeOf, promptClassIds } from './reference';

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
});
