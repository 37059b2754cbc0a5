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
import { seededRandom } from '../../../../src/native/cleft/random';

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

  it('lowers the loss and improves accuracy on a separable synthetic case (validation split, early stopping)', async () => {
    const heads = readHeads(path.join(REF, 'heads.safetensors'));
    const rand = seededRandom(7);
    const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    const d = heads.imageDim;
    const K = 3;
    const mu = Array.from({ length: K }, () => Array.from({ length: d }, normal));
    const n = 90;
    const labels = Array.from({ length: n }, (_, i) => i % K);
    const feats = new Float32Array(n * d);
    labels.forEach((y, i) => {
      for (let k = 0; k < d; k++) feats[i * d + k] = mu[y]![k]! + 0.5 * normal();
    });
    const progress: number[] = [];
    const r = await learnPromptContext({
      text: { modelDir: path.join(REF, 'gpt2') },
      heads,
      imageFeatures: feats,
      labels,
      classIds: promptClassIds(),
      nCtx: 4,
      init: { kind: 'random' },
      optimizer: { kind: 'adamw', lr: 0.05 },
      steps: 60,
      batchSize: 16,
      seed: 1,
      valFraction: 0.3,
      evalEvery: 10,
      patience: 3,
      bootstrapSamples: 50,
      workDir: path.join(tmp, 'work-sep'),
      onProgress: (p) => void progress.push(p.step),
    });
    expect(r.split.val.length).toBe(27);
    expect(r.metrics.after!.loss!).toBeLessThan(r.metrics.before!.loss!);
    expect(r.after!.accuracy.estimate).toBeGreaterThan(r.before!.accuracy.estimate);
    expect(r.after!.accuracy.estimate).toBeGreaterThan(0.8);
    expect(r.shape).toEqual([4, 64]);
    expect(progress.length).toBeGreaterThan(0);
  });

  it('killed mid-run and resumed from its checkpoint: same context, history and best step as uninterrupted', async () => {
    const heads = readHeads(path.join(REF, 'heads.safetensors'));
    const rand = seededRandom(11);
    const d = heads.imageDim;
    const n = 60;
    const labels = Array.from({ length: n }, (_, i) => i % 3);
    const feats = Float32Array.from({ length: n * d }, (_, i) => rand() - 0.5 + (labels[Math.floor(i / d)] === i % 3 ? 1 : 0));
    const base = {
      text: { modelDir: path.join(REF, 'gpt2') },
      heads,
      imageFeatures: feats,
      labels,
      classIds: promptClassIds(),
      nCtx: 4,
      init: { kind: 'random' as const },
      optimizer: { kind: 'adamw' as const, lr: 0.02 },
      steps: 20,
      batchSize: 8,
      seed: 2,
      valFraction: 0.25,
      evalEvery: 4,
      bootstrapSamples: 0,
    };
    const full = await learnPromptContext({ ...base, workDir: path.join(tmp, 'w-full') });
    const ck = { dir: path.join(tmp, 'ck-pl'), every: 5 };
    const ac = new AbortController();
    const first = await learnPromptContext({
      ...base,
      workDir: path.join(tmp, 'w-part'),
      checkpoint: ck,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.step === 13 && !p.valMetrics) ac.abort();
      },
    });
    expect(first.loop.stopped).toBe('aborted');
    const resumed = await learnPromptContext({ ...base, workDir: path.join(tmp, 'w-part'), checkpoint: ck });
    expect(resumed.loop.steps).toBe(20);
    expect(Array.from(resumed.ctx)).toEqual(Array.from(full.ctx));
    expect(resumed.loop.bestStep).toBe(full.loop.bestStep);
    expect(resumed.loop.history.map((h) => h.loss)).toEqual(full.loop.history.map((h) => h.loss));
    expect(fs.readdirSync(ck.dir).filter((f) => f.startsWith('workflow-state-'))).toEqual(['workflow-state-20.json']);
  });
});
