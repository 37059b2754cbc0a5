// "Last blocks trainable" for the image encoder: only the last N blocks (and the final layer norm)
// change, earlier blocks and the embeddings stay exactly as they were, and a trained weight's first
// SGD step equals the one full training takes (same gradient), so freezing changes nothing else.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  lastBlocksTraining,
  trainContrastive,
  exportContrastive,
  type ContrastiveOptions,
  type EncoderTraining,
} from '../../../../src/native/cleft/contrastive';
import { loadHfFolder } from '../../../../src/native/models/hf-model';
import { readWeightF32 } from '../../../../src/native/formats/hf-folder';
import { readHeads } from '../../../../src/native/models/heads';
import { embedImages } from '../../../../src/native/models/embed';
import { REF, f32, i64 } from './reference';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-lastblocks-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const vitDir = path.join(REF, 'vit');

function options(work: string, image: EncoderTraining): ContrastiveOptions {
  return {
    text: { modelDir: path.join(REF, 'gpt2'), training: { mode: 'frozen' } },
    image: { modelDir: vitDir, pool: 'cls', training: image },
    heads: readHeads(path.join(REF, 'heads.safetensors')),
    trainHeads: false,
    data: {
      pixelValues: f32('vit.pixel_values'),
      pixelShape: [3, 3, 32, 32],
      inputIds: i64('text.input_ids'),
      lengths: i64('text.lengths'),
    },
    optimizer: { kind: 'sgd', lr: 0.5 },
    steps: 1,
    batchSize: 3,
    shuffle: false,
    workDir: path.join(tmp, work),
  };
}

describe('last blocks trainable', () => {
  const model = loadHfFolder(vitDir);
  const layers = model.config.family === 'gpt2' ? 0 : model.config.numHiddenLayers;

  it('refuses a block count the model does not have', () => {
    expect(() => lastBlocksTraining(model, 0)).toThrow(/1-\d+/);
    expect(() => lastBlocksTraining(model, layers + 1)).toThrow(/the model has/);
  });

  it('trains only the last block (and the final norm), with the gradient full training has', async () => {
    const last = await trainContrastive(options('last', lastBlocksTraining(model, 1)));
    const full = await trainContrastive(options('full', { mode: 'full' }));
    const trained = [...last.params.keys()].filter((k) => k.startsWith('image.'));
    expect(trained.length).toBeGreaterThan(0);
    for (const k of trained) expect(k, k).toMatch(new RegExp(`^image\\.(encoder\\.layer\\.${layers - 1}\\.|layernorm\\.)`));
    expect(trained.some((k) => k.startsWith('image.layernorm.'))).toBe(true);
    // The same first SGD step on every weight both runs train.
    for (const k of trained) {
      const a = last.params.get(k)!;
      const b = full.params.get(k)!;
      let maxDiff = 0;
      let moved = 0;
      const before = readWeightF32(model.weights.get(k.slice('image.'.length))!);
      for (let i = 0; i < a.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
        moved = Math.max(moved, Math.abs(a[i]! - before[i]!));
      }
      expect(maxDiff, k).toBeLessThan(1e-5);
      if (k.endsWith('.weight') && k.includes('attention.attention.query')) expect(moved).toBeGreaterThan(0);
    }

    // Exported as a whole image encoder whose earlier blocks are bit-identical to the base.
    const out = path.join(tmp, 'export');
    exportContrastive(out, last, { text: loadHfFolder(path.join(REF, 'gpt2')), image: model, fullImage: true });
    const exported = loadHfFolder(path.join(out, 'image'));
    for (const [name, ref] of model.weights) {
      const same = Buffer.from(readWeightF32(ref).buffer).equals(Buffer.from(readWeightF32(exported.weights.get(name)!).buffer));
      const trainedHere = last.params.has(`image.${name}`);
      expect(same, name).toBe(!trainedHere || last.params.get(`image.${name}`)!.every((v, i) => v === readWeightF32(ref)[i]));
    }
    const e = await embedImages({
      modelDir: path.join(out, 'image'),
      cacheDir: path.join(tmp, 'cache'),
      pixelValues: f32('vit.pixel_values'),
      shape: [3, 3, 32, 32],
      onWarning: () => undefined,
    });
    expect(e.embedding.every(Number.isFinite)).toBe(true);
  });
});
