// Prompt context learning through the workflow code (graphs, trainer, data feeding): PyTorch's
// gradient (reference-a prompt.grad.ctx), and learning on a synthetic separable case.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readHeads } from '../../../../src/native/models/heads';
import { imageFeatures } from '../../../../src/native/cleft/features';
import { learnPromptContext, openPromptLearning } from '../../../../src/native/cleft/prompt-learning';
import { REF, f32, i64, relErr, shapeOf, promptClassIds } from './reference';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-pl-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function refFeatures(): Promise<Float32Array> {
  const r = await imageFeatures({ modelDir: path.join(REF, 'vit'), pool: 'cls' }, f32('vit.pixel_values'), [3, 3, 32, 32], {
    cacheDir: path.join(tmp, 'cache'),
  });
  return r.features;
}

describe('prompt learning', () => {
  it('gradient of the loss w.r.t. ctx matches PyTorch through the training path', async () => {
    const heads = readHeads(path.join(REF, 'heads.safetensors'));
    const feats = await refFeatures();
    const { wt } = await openPromptLearning({
      text: { modelDir: path.join(REF, 'gpt2') },
      heads,
      imageFeatures: feats,
      labels: Array.from(i64('prompt.labels'), Number),
      classIds: promptClassIds(),
      init: { kind: 'values', ctx: f32('prompt.ctx'), shape: shapeOf('prompt.ctx') },
      optimizer: { kind: 'sgd', lr: 0.1 },
      steps: 1,
      batchSize: 3,
      shuffle: false,
      workDir: path.join(tmp, 'work-grad'),
    });
    try {
      const g = await wt.gradients([0, 1, 2]);
      expect(relErr([g.loss], f32('prompt.loss'))).toBeLessThan(1e-4);
      expect(relErr(g.grads.get('ctx')!, f32('prompt.grad.ctx'))).toBeLessThan(1e-3);
    } finally {
      await wt.close();
    }
  });
});
