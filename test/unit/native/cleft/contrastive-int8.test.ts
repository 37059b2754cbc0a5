// Contrastive LoRA training with int8 frozen base weights (reference-a): both encoders' frozen matmul
// weights go through MatMulNBits, the input gradients through their transposed quantization; LoRA
// A/B, projections and logit scale stay float32 and their gradients stay close to PyTorch's float32
// ones (clip.grad.*). A GPU device is refused before anything is quantized.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readHeads } from '../../../../src/native/models/heads';
import { lastBlocksTraining, openContrastive, type ContrastiveOptions } from '../../../../src/native/cleft/contrastive';
import { loadHfFolder } from '../../../../src/native/models/hf-model';
import { REF, cases, f32, i64, relErr } from './reference';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-clip-int8-'));
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
    optimizer: { kind: 'sgd', lr: 0.1 },
    steps: 1,
    batchSize: 3,
    shuffle: false,
    workDir: path.join(tmp, work),
    ...extra,
  };
}

async function gradients(o: ContrastiveOptions) {
  const { wt } = await openContrastive(o);
  try {
    return await wt.gradients([0, 1, 2]);
  } finally {
    await wt.close();
  }
}

describe('contrastive LoRA with int8 frozen weights', () => {
  it('loss and every LoRA/head gradient within a few percent of PyTorch float32, through MatMulNBits', async () => {
    const o = options('int8', { weights: 'int8' });
    const g = await gradients(o);
    const lossErr = relErr([g.loss], f32('clip.loss'));
    const errs = new Map<string, number>();
    for (const [n, v] of g.grads) errs.set(n, relErr(v, f32(`clip.grad.${n}`)));
    expect(errs.size).toBe([...cases.keys()].filter((k) => k.startsWith('clip.grad.')).length);
    expect(lossErr).toBeGreaterThan(0); // not the float path ...
    expect(lossErr).toBeLessThan(0.02); // ... close to it
    // measured: loss 0.23 %, gradients 0.7-5.1 % (max |Δ| / max |ref| per tensor)
    for (const [n, e] of errs) expect(e, n).toBeLessThan(0.08);
    const step = fs.readFileSync(path.join(o.workDir, 'train_step.onnx'));
    expect(step.includes(Buffer.from('MatMulNBits'))).toBe(true);
    // per encoder one quantized file, with the transposed quantization for the input gradients
    expect(fs.readdirSync(path.join(o.workDir, 'weights')).filter((f) => f.endsWith('.q8.bin'))).toHaveLength(2);
  });

  it('a frozen image encoder (forward quantization only) and last blocks trained in full (float32 inputs) work with int8', async () => {
    const vit = path.join(REF, 'vit');
    const frozen = await gradients(
      options('frozen-image', { weights: 'int8', image: { modelDir: vit, pool: 'cls', training: { mode: 'frozen' } } }),
    );
    expect(Number.isFinite(frozen.loss)).toBe(true);
    expect([...frozen.grads.keys()].some((k) => k.startsWith('image.'))).toBe(false);

    const blocks = (weights?: 'int8') =>
      gradients(
        options(`blocks-${weights ?? 'f32'}`, {
          ...(weights ? { weights } : {}),
          image: { modelDir: vit, pool: 'cls', training: lastBlocksTraining(loadHfFolder(vit), 1) },
        }),
      );
    const q = await blocks('int8');
    const f = await blocks();
    const trained = [...f.grads.keys()].filter((k) => k.startsWith('image.encoder.layer.1.') && k.endsWith('.weight'));
    expect(trained.length).toBeGreaterThan(0);
    // the last block's weights are trainable float32 inputs: their gradients exist and are close to float32's
    for (const k of trained) expect(relErr(q.grads.get(k)!, f.grads.get(k)!), k).toBeLessThan(0.08);
  });

  it('float32 (the default) stays exact: no MatMulNBits, no quantized file', async () => {
    const o = options('f32');
    const g = await gradients(o);
    expect(relErr([g.loss], f32('clip.loss'))).toBeLessThan(1e-4);
    expect(fs.readFileSync(path.join(o.workDir, 'train_step.onnx')).includes(Buffer.from('MatMulNBits'))).toBe(false);
    expect(fs.readdirSync(path.join(o.workDir, 'weights')).filter((f) => f.endsWith('.q8.bin'))).toHaveLength(0);
  });

  it('refuses a GPU device with int8, saying it runs on the CPU, before quantizing anything', async () => {
    const o = options('gpu', { weights: 'int8', device: 'webgpu' });
    await expect(openContrastive(o)).rejects.toThrow(/int8 weights run on the CPU provider only/);
    expect(fs.existsSync(path.join(o.workDir, 'weights'))).toBe(false);
  });
});
