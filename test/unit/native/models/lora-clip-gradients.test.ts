// The training graphs are trainable: CLIP's symmetric InfoNCE with unmerged LoRA on both encoders
// and trainable heads, and prompt-context learning, give PyTorch's loss, logits and gradients
// (reference-a `clip.*`, `prompt.*`) through our own autodiff.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Graph, grad, emitOnnx, type Tensor } from '../../../../src/native/graph/index';
import { ort, type OrtTensor } from '../../../../src/native/runtime/ort';
import { loadHfFolder } from '../../../../src/native/models/hf-model';
import { type Gpt2Config } from '../../../../src/native/models/gpt2';
import { readPeftAdapter } from '../../../../src/native/formats/peft';
import { readHeads } from '../../../../src/native/models/heads';
import { readTensors, toFloat32 } from '../../../../src/native/formats/safetensors';
import { ParamStore } from '../../../../src/native/models/encoders';
import { bindModelWeights } from '../../../../src/native/models/weights';
import { gpt2Forward, gpt2TextEmbedding } from '../../../../src/native/models/gpt2';
import { visionForward, poolImage, type VisionConfig } from '../../../../src/native/models/vit';
import { loraModulesOf, trainableLora } from '../../../../src/native/models/lora';
import { clipHead, clipLoss, headParams, promptLoss } from '../../../../src/native/models/clip';

const REF = path.resolve(__dirname, '../../../fixtures/reference-a');
const cases = readTensors(path.join(REF, 'cases.safetensors'));
const f32 = (k: string) => toFloat32(cases.get(k)!);
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clip-grad-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** max |a - b| / max |b| */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  let e = 0;
  for (let i = 0; i < b.length; i++) {
    m = Math.max(m, Math.abs(b[i]!));
    e = Math.max(e, Math.abs(a[i]! - b[i]!));
  }
  return e / Math.max(m, 1e-30);
}

async function run(g: Graph, outputs: Record<string, Tensor>, feeds: Record<string, OrtTensor>, name: string) {
  const file = path.join(tmp, `${name}.onnx`);
  fs.writeFileSync(file, emitOnnx(g, { outputs }).bytes);
  const s = await ort.InferenceSession.create(file);
  try {
    const out = await s.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await s.release();
  }
}

describe('training graphs match PyTorch', () => {
  it('CLIP InfoNCE with LoRA on both encoders: loss, logits and every gradient', async () => {
    const text = loadHfFolder(path.join(REF, 'gpt2'));
    const image = loadHfFolder(path.join(REF, 'vit'));
    const tAd = readPeftAdapter(path.join(REF, 'gpt2/adapter'), { family: 'gpt2' });
    const iAd = readPeftAdapter(path.join(REF, 'vit/adapter'), { family: 'vit' });
    const heads = readHeads(path.join(REF, 'heads.safetensors'));

    const g = new Graph();
    const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
    const lengths = g.input('lengths', 'int64', ['batch']);
    const px = g.input('pixel_values', 'float32', ['batch', 3, 32, 32]);
    // frozen base weights as external data into the fixture files (W frozen), LoRA A/B trainable
    const tw = new ParamStore(g, bindModelWeights(text, { cacheDir: tmp }).source, 'text.');
    const iw = new ParamStore(g, bindModelWeights(image, { cacheDir: tmp }).source, 'image.');
    const tLora = trainableLora(g, loraModulesOf(tAd), { prefix: 'text.' });
    const iLora = trainableLora(g, loraModulesOf(iAd), { prefix: 'image.' });
    const hp = headParams(g, heads, { trainable: true });

    const txt = gpt2TextEmbedding(gpt2Forward(text.config as Gpt2Config, tw, { inputIds: ids }, tLora), lengths);
    const img = poolImage(visionForward(image.config as VisionConfig, iw, px, { lora: iLora }), 'cls');
    const { logitsPerImage } = clipHead(img, txt, hp);
    const loss = clipLoss(logitsPerImage);

    const wrt: [string, Tensor][] = [
      ...[...tLora.params].map(([k, t]) => [`text.${k}`, t] as [string, Tensor]),
      ...[...iLora.params].map(([k, t]) => [`image.${k}`, t] as [string, Tensor]),
      ['text_projection.weight', hp.textProjection],
      ['visual_projection.weight', hp.visualProjection],
      ['logit_scale', hp.logitScale],
    ];
    const grads = grad(
      loss,
      wrt.map(([, t]) => t),
    );
    const outputs: Record<string, Tensor> = { loss, logits_per_image: logitsPerImage };
    wrt.forEach(([k], i) => (outputs[`grad.${k}`] = grads[i]!));

    const feeds: Record<string, OrtTensor> = {
      input_ids: new ort.Tensor('int64', cases.get('text.input_ids')!.data as BigInt64Array, [3, 7]),
      lengths: new ort.Tensor('int64', cases.get('text.lengths')!.data as BigInt64Array, [3]),
      pixel_values: new ort.Tensor('float32', f32('vit.pixel_values'), [3, 3, 32, 32]),
      'text_projection.weight': new ort.Tensor('float32', heads.textProjection, [heads.projDim, heads.textDim]),
      'visual_projection.weight': new ort.Tensor('float32', heads.visualProjection, [heads.projDim, heads.imageDim]),
      logit_scale: new ort.Tensor('float32', Float32Array.of(heads.logitScale), []),
    };
    for (const [prefix, ad] of [
      ['text.', tAd],
      ['image.', iAd],
    ] as const)
      for (const m of ad.modules.values()) {
        feeds[`${prefix}${m.module}.lora_A`] = new ort.Tensor('float32', toFloat32(m.A), [...m.A.shape]);
        feeds[`${prefix}${m.module}.lora_B`] = new ort.Tensor('float32', toFloat32(m.B), [...m.B.shape]);
      }
    const out = await run(g, outputs, feeds, 'clip');

    expect(relErr(out.loss!, f32('clip.loss'))).toBeLessThan(1e-4);
    expect(relErr(out.logits_per_image!, f32('clip.logits_per_image'))).toBeLessThan(1e-4);
    const names = [...cases.keys()].filter((k) => k.startsWith('clip.grad.'));
    expect(names.length).toBe(wrt.length);
    for (const n of names) {
      const key = `grad.${n.slice('clip.grad.'.length)}`;
      expect(out[key], key).toBeDefined();
      expect(relErr(out[key]!, f32(n)), n).toBeLessThan(1e-3);
    }
  });

  it('prompt-context learning: context vectors before the class tokens, CE loss, d loss / d ctx', async () => {
    const text = loadHfFolder(path.join(REF, 'gpt2'));
    const image = loadHfFolder(path.join(REF, 'vit'));
    const heads = readHeads(path.join(REF, 'heads.safetensors'));
    const ctxRef = cases.get('prompt.ctx')!;
    const [nCtx, d] = ctxRef.shape as [number, number];

    const g = new Graph();
    const ids = g.input('class_ids', 'int64', ['classes', 'seq']);
    const lengths = g.input('class_lengths', 'int64', ['classes']);
    const px = g.input('pixel_values', 'float32', ['batch', 3, 32, 32]);
    const labels = g.input('labels', 'int64', ['batch']);
    const ctx = g.param('ctx', [nCtx, d], { trainable: true });
    const tw = new ParamStore(g, bindModelWeights(text, { cacheDir: tmp }).source, 'text.');
    const iw = new ParamStore(g, bindModelWeights(image, { cacheDir: tmp }).source, 'image.');
    const hp = headParams(g, heads); // frozen

    const cls = gpt2TextEmbedding(gpt2Forward(text.config as Gpt2Config, tw, { inputIds: ids, prefix: ctx }), lengths);
    const img = poolImage(visionForward(image.config as VisionConfig, iw, px), 'cls');
    const { loss, logits, probs } = promptLoss(img, cls, labels, hp);
    const [gCtx] = grad(loss, [ctx]);

    // class token ids, right padded (pad id irrelevant: causal attention)
    const rows = [0, 1, 2].map((c) => [...(cases.get(`prompt.class_ids.${c}`)!.data as BigInt64Array)]);
    const T = Math.max(...rows.map((r) => r.length));
    const padded = new BigInt64Array(rows.length * T);
    rows.forEach((r, i) => padded.set(r, i * T));
    const out = await run(
      g,
      { loss, logits, probs, grad_ctx: gCtx! },
      {
        class_ids: new ort.Tensor('int64', padded, [rows.length, T]),
        class_lengths: new ort.Tensor('int64', BigInt64Array.from(rows.map((r) => BigInt(r.length))), [rows.length]),
        pixel_values: new ort.Tensor('float32', f32('vit.pixel_values'), [3, 3, 32, 32]),
        labels: new ort.Tensor('int64', cases.get('prompt.labels')!.data as BigInt64Array, [3]),
        ctx: new ort.Tensor('float32', toFloat32(ctxRef), [nCtx, d]),
      },
      'prompt',
    );
    expect(relErr(out.loss!, f32('prompt.loss'))).toBeLessThan(1e-4);
    expect(relErr(out.logits!, f32('prompt.logits'))).toBeLessThan(1e-4);
    expect(relErr(out.probs!, f32('prompt.probs'))).toBeLessThan(1e-4);
    expect(relErr(out.grad_ctx!, f32('prompt.grad.ctx'))).toBeLessThan(1e-3);
  });
});
