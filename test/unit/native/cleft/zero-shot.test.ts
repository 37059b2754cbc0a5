// Zero-shot classification through a CLEFT bundle of the reference-a models (LoRA adapters merged):
// with the three reference texts as "classes", the probabilities are softmax(PyTorch's
// clip.logits_per_image) row by row, sum to 1, and combine per breast and exam by the mean.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createBundle, type CleftBundle } from '../../../../src/native/bundle/index';
import { textFeatures } from '../../../../src/native/cleft/features';
import {
  classEmbeddingsFromFeatures,
  imageFeatureKey,
  classEmbeddingKey,
  zeroShot,
  zeroShotProbabilities,
} from '../../../../src/native/cleft/zero-shot';
import { l2NormalizeRows, projectRows, softmaxRows } from '../../../../src/native/cleft/math';
import type { TaskSpec } from '../../../../src/native/cleft/tasks';
import { REF, f32, i64 } from './reference';

let tmp: string;
let bundle: CleftBundle;
const task: TaskSpec = { name: 'three texts', scope: 'image', classes: ['a', 'b', 'c'].map((n) => ({ name: n, prompts: [n] })) };

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-zs-'));
  bundle = await createBundle(path.join(tmp, 'bundle'), {
    textModel: path.join(REF, 'gpt2'),
    imageModel: path.join(REF, 'vit'),
    textAdapter: path.join(REF, 'gpt2/adapter'),
    imageAdapter: path.join(REF, 'vit/adapter'),
    heads: path.join(REF, 'heads.safetensors'),
    tokenizer: null,
    imagePooling: 'cls',
  });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('zero-shot', () => {
  it('equals softmax of PyTorch logits, sums to 1, and combines views by the mean', async () => {
    const e = { cacheDir: path.join(tmp, 'cache') };
    const t = await textFeatures(
      { modelDir: bundle.text.dir, adapterDir: bundle.text.adapter!.dir },
      i64('text.input_ids'),
      i64('text.lengths'),
      e,
    );
    const classEmb = classEmbeddingsFromFeatures(bundle.heads.heads, t.features, [0, 1, 2], 3);
    const r = await zeroShot(
      { bundle, task, pixelValues: f32('vit.pixel_values'), shape: [3, 3, 32, 32], classEmbeddings: classEmb, laterality: ['L', 'L', 'R'] },
      e,
    );
    const want = softmaxRows(f32('clip.logits_per_image'), 3);
    r.probabilities.forEach((row, i) => {
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      row.forEach((p, k) => expect(Math.abs(p - want[i]![k]!)).toBeLessThan(1e-5));
    });
    r.breast.L!.forEach((p, k) => expect(p).toBeCloseTo((r.probabilities[0]![k]! + r.probabilities[1]![k]!) / 2, 10));
    expect(r.breast.R).toEqual(r.probabilities[2]);
    r.exam.forEach((p, k) => expect(p).toBeCloseTo((r.probabilities[0]![k]! + r.probabilities[1]![k]! + r.probabilities[2]![k]!) / 3, 10));
    expect(r.provider?.name).toBe('cpu');
    // cached features give the same result without running the image encoder
    const again = await zeroShot({ bundle, task, imageFeatures: r.imageFeatures, classEmbeddings: classEmb }, e);
    expect(again.probabilities).toEqual(r.probabilities);
    expect(again.provider).toBeNull();
  });

  it('templates of a class are averaged after normalisation and renormalised', () => {
    const h = bundle.heads.heads;
    const d = h.textDim;
    const feats = Float32Array.from({ length: 4 * d }, (_, i) => Math.sin(i * 0.37) + (i % 7) * 0.1);
    const got = classEmbeddingsFromFeatures(h, feats, [0, 0, 1, 1], 2);
    const proj = l2NormalizeRows(projectRows(feats, 4, d, h.textProjection, h.projDim), h.projDim);
    const P = h.projDim;
    for (let c = 0; c < 2; c++) {
      const m = Array.from({ length: P }, (_, k) => proj[2 * c * P + k]! + proj[(2 * c + 1) * P + k]!);
      const norm = Math.hypot(...m);
      for (let k = 0; k < P; k++) expect(got[c * P + k]!).toBeCloseTo(m[k]! / norm, 6);
    }
    const probs = zeroShotProbabilities(got, got, P, h.logitScale);
    expect(probs[0]![0]!).toBeGreaterThan(probs[0]![1]!);
  });

  it('cache keys: image features do not depend on heads or prompts; class embeddings do', () => {
    expect(imageFeatureKey(bundle, 'sop-1', 'x')).not.toBe(imageFeatureKey(bundle, 'sop-2', 'x'));
    expect(imageFeatureKey(bundle, 'sop-1', 'x')).not.toBe(imageFeatureKey(bundle, 'sop-1', 'y'));
    const other = { ...task, classes: [...task.classes.slice(0, 2), { name: 'c', prompts: ['other'] }] };
    expect(classEmbeddingKey(bundle, task)).not.toBe(classEmbeddingKey(bundle, other));
    // a learned prompt set's key covers its context bytes: test/unit/main/class-embeddings-cache.test.ts
    expect(() => classEmbeddingKey(bundle, task, 'learned')).toThrow(/no prompt set "learned"/);
  });
});
