// Contrastive LoRA training through the workflow code: PyTorch's gradients (reference-a clip.grad.*)
// from the training graphs the workflow emits and feeds, and exact resumption after an interruption.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readHeads } from '../../../../src/native/models/heads';
import { openContrastive, trainContrastive, type ContrastiveOptions } from '../../../../src/native/cleft/contrastive';
import { REF, cases, f32, i64, relErr } from './reference';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-clip-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function options(work: string, extra: Partial<ContrastiveOptions> = {}): ContrastiveOptions {
  return {
    text: { modelDir: path.join(REF, 'gpt2'), training: { mode: 'lora', adapterDir: path.join(REF, 'gpt2/adapter') } },
    image: { modelDir: path.join(REF, 'vit'), pool: 'cls', training: { mode: 'lora', adapterDir: path.join(REF, 'vit/adapter') } },
    heads: readHeads(path.join(REF, 'heads.safetensors')),
    data: {
      pixelValues: f32('vit.pixel_values'),
      pixelShape: [3, 3, 32, 32],
      inputIds: i64('text.input_ids'),
      lengths: i64('text.lengths'),
    },
    optimizer: { kind: 'adamw', lr: 1e-3 },
    steps: 2,
    batchSize: 3,
    shuffle: false,
    workDir: path.join(tmp, work),
    ...extra,
  };
}

describe('contrastive LoRA training', () => {
  it('every gradient matches PyTorch through the training path', async () => {
    const { wt } = await openContrastive(options('grad'));
    try {
      const g = await wt.gradients([0, 1, 2]);
      expect(relErr([g.loss], f32('clip.loss'))).toBeLessThan(1e-4);
      const names = [...wt.trainer.layout.map((e) => e.name)];
      expect(names.length).toBe([...cases.keys()].filter((k) => k.startsWith('clip.grad.')).length);
      for (const n of names) expect(relErr(g.grads.get(n)!, f32(`clip.grad.${n}`)), n).toBeLessThan(1e-3);
    } finally {
      await wt.close();
    }
  });

  it('a run interrupted and resumed from its checkpoint equals the uninterrupted run', async () => {
    const base = { steps: 4, batchSize: 2, shuffle: true, seed: 3, optimizer: { kind: 'adamw' as const, lr: 1e-2 } };
    const full = await trainContrastive(options('full', base));
    const ck = { dir: path.join(tmp, 'ck'), every: 1 };
    const ac = new AbortController();
    const first = await trainContrastive(
      options('part', {
        ...base,
        checkpoint: ck,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.step === 2) ac.abort();
        },
      }),
    );
    expect(first.loop.stopped).toBe('aborted');
    expect(first.loop.steps).toBe(2);
    const resumed = await trainContrastive(options('part', { ...base, checkpoint: ck }));
    expect(resumed.loop.steps).toBe(4);
    for (const [k, v] of full.params) expect(Array.from(resumed.params.get(k)!), k).toEqual(Array.from(v));
  });
});
