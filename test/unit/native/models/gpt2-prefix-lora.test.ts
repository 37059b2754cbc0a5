// GPT-2 graph properties beyond the reference cases: input embeddings in place of token ids for a
// prefix (prompt learning), right padding, symbolic batch/seq; LoRA unmerged (training form) equals
// merged (inference form); F16/BF16 checkpoints go through the converted-weights file.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Graph, emitOnnx, ops, type Tensor } from '../../../../src/native/graph/index';
import { ort, type OrtTensor } from '../../../../src/native/runtime/ort';
import { loadHfFolder } from '../../../../src/native/models/hf-model';
import { readWeightF32 } from '../../../../src/native/formats/hf-folder';
import { type Gpt2Config } from '../../../../src/native/models/gpt2';
import { readPeftAdapter } from '../../../../src/native/formats/peft';
import { readTensors, toFloat32, writeSafetensors, f32ToBf16, f32ToF16 } from '../../../../src/native/formats/safetensors';
import { LinearGemm, ParamStore } from '../../../../src/native/models/encoders';
import { checkGradients } from '../graph/harness';
import { bindModelWeights } from '../../../../src/native/models/weights';
import { embedImages, embedText } from '../../../../src/native/models/embed';
import { gpt2Forward, gpt2TextEmbedding } from '../../../../src/native/models/gpt2';
import { visionForward, poolImage, type VisionConfig } from '../../../../src/native/models/vit';
import { loraModulesOf, trainableLora } from '../../../../src/native/models/lora';

const REF = path.resolve(__dirname, '../../../fixtures/reference-a');
const cases = readTensors(path.join(REF, 'cases.safetensors'));
const f32 = (k: string) => toFloat32(cases.get(k)!);
const ids = cases.get('text.input_ids')!.data as BigInt64Array;
const lengths = cases.get('text.lengths')!.data as BigInt64Array;
const [B, T] = cases.get('text.input_ids')!.shape as [number, number];
const D = 64;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2-prefix-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  let e = 0;
  for (let i = 0; i < b.length; i++) {
    m = Math.max(m, Math.abs(b[i]!));
    e = Math.max(e, Math.abs(a[i]! - b[i]!));
  }
  return e / m;
}

let seq = 0;
async function run(g: Graph, outputs: Record<string, Tensor>, feeds: Record<string, OrtTensor>) {
  const file = path.join(tmp, `g${seq++}.onnx`); // tmp is the cache dir: weights/ links resolve from here
  fs.writeFileSync(file, emitOnnx(g, { outputs }).bytes);
  const s = await ort.InferenceSession.create(file);
  try {
    const out = await s.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await s.release();
  }
}

describe('GPT-2 text encoder', () => {
  const model = loadHfFolder(path.join(REF, 'gpt2'));
  const cfg = model.config as Gpt2Config;

  it('takes input embeddings for a prefix: wte rows as prefix == the same tokens as ids', async () => {
    const n = 2;
    const wte = readWeightF32(model.weights.get('wte.weight')!);
    const prefix = new Float32Array(B * n * D);
    const rest = new BigInt64Array(B * (T - n));
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < n; t++) prefix.set(wte.subarray(Number(ids[b * T + t]) * D, (Number(ids[b * T + t]) + 1) * D), (b * n + t) * D);
      for (let t = n; t < T; t++) rest[b * (T - n) + t - n] = ids[b * T + t]!;
    }
    const g = new Graph();
    const inputIds = g.input('input_ids', 'int64', ['batch', 'seq']);
    const len = g.input('lengths', 'int64', ['batch']);
    const pre = g.input('prefix', 'float32', ['batch', n, D]);
    const w = new ParamStore(g, bindModelWeights(model, { cacheDir: tmp }).source);
    const out = gpt2Forward(cfg, w, { inputIds, prefix: pre });
    const emb = gpt2TextEmbedding(out, len); // index shifts by the prefix length inside
    const r = await run(
      g,
      { embedding: emb },
      {
        input_ids: new ort.Tensor('int64', rest, [B, T - n]),
        lengths: new ort.Tensor(
          'int64',
          lengths.map((l) => l - BigInt(n)),
          [B],
        ),
        prefix: new ort.Tensor('float32', prefix, [B, n, D]),
      },
    );
    expect(relErr(r.embedding!, f32('text.embedding'))).toBeLessThan(1e-4);
  });

  it('a shared [n, d] prefix (prompt context) is broadcast over the batch', async () => {
    const g = new Graph();
    const inputIds = g.input('input_ids', 'int64', ['batch', 'seq']);
    const len = g.input('lengths', 'int64', ['batch']);
    const ctx = g.param('ctx', [3, D], { trainable: true });
    const w = new ParamStore(g, bindModelWeights(model, { cacheDir: tmp }).source);
    const out = gpt2Forward(cfg, w, { inputIds, prefix: ctx });
    expect(out.lastHidden.shape).toEqual(['batch', 'seq+3', D]);
    const ctxData = Float32Array.from({ length: 3 * D }, (_, i) => Math.sin(i));
    const r = await run(
      g,
      { embedding: gpt2TextEmbedding(out, len) },
      {
        input_ids: new ort.Tensor('int64', ids, [B, T]),
        lengths: new ort.Tensor('int64', lengths, [B]),
        ctx: new ort.Tensor('float32', ctxData, [3, D]),
      },
    );
    // row 0 alone gives the same embedding as in the batch (no cross-row leakage)
    const r0 = await run(
      g,
      { embedding: gpt2TextEmbedding(out, len) },
      {
        input_ids: new ort.Tensor('int64', ids.slice(0, T), [1, T]),
        lengths: new ort.Tensor('int64', lengths.slice(0, 1), [1]),
        ctx: new ort.Tensor('float32', ctxData, [3, D]),
      },
    );
    expect(relErr(r0.embedding!, r.embedding!.subarray(0, D))).toBeLessThan(1e-5);
  });

  it('right padding: pad tokens and extra padding columns do not change the embedding', async () => {
    const cacheDir = path.join(tmp, 'cache');
    const base = await embedText({ modelDir: model.dir, cacheDir, inputIds: ids, lengths });
    const T2 = T + 4;
    const padded = new BigInt64Array(B * T2).fill(999n);
    for (let b = 0; b < B; b++) for (let t = 0; t < Number(lengths[b]); t++) padded[b * T2 + t] = ids[b * T + t]!;
    const r = await embedText({ modelDir: model.dir, cacheDir, inputIds: padded, lengths });
    expect(relErr(r.embedding, base.embedding)).toBeLessThan(1e-5);
    expect(r.artifact.sha256).toBe(base.artifact.sha256); // symbolic batch/seq: one graph for every shape
  });

  it('LoRA unmerged (training graph, A/B fed) == merged (inference) == PyTorch', async () => {
    const adapter = readPeftAdapter(path.join(REF, 'gpt2/adapter'), { family: 'gpt2' });
    const g = new Graph();
    const inputIds = g.input('input_ids', 'int64', ['batch', 'seq']);
    const len = g.input('lengths', 'int64', ['batch']);
    const seed = g.input('seed', 'int32', [4]);
    const w = new ParamStore(g, bindModelWeights(model, { cacheDir: tmp }).source);
    const lora = trainableLora(g, loraModulesOf(adapter));
    const emb = gpt2TextEmbedding(gpt2Forward(cfg, w, { inputIds }, lora), len);
    const withDropout = trainableLora(g, loraModulesOf(adapter), { prefix: 'd.', dropout: 0.5, seed });
    const embD = gpt2TextEmbedding(gpt2Forward(cfg, w, { inputIds }, withDropout), len);
    const feeds: Record<string, OrtTensor> = {
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      lengths: new ort.Tensor('int64', lengths, [B]),
      seed: new ort.Tensor('int32', ops.dropoutSeedWords(7n), [4]),
    };
    for (const m of adapter.modules.values())
      for (const p of ['', 'd.']) {
        feeds[`${p}${m.module}.lora_A`] = new ort.Tensor('float32', toFloat32(m.A), [...m.A.shape]);
        feeds[`${p}${m.module}.lora_B`] = new ort.Tensor('float32', toFloat32(m.B), [...m.B.shape]);
      }
    const r = await run(g, { embedding: emb, embedding_dropout: embD }, feeds);
    const merged = await embedText({
      modelDir: model.dir,
      adapterDir: path.join(REF, 'gpt2/adapter'),
      cacheDir: path.join(tmp, 'cache'),
      inputIds: ids,
      lengths,
      onWarning: () => {},
    });
    expect(relErr(r.embedding!, f32('text.embedding_lora'))).toBeLessThan(1e-4);
    expect(relErr(merged.embedding, r.embedding!)).toBeLessThan(1e-4);
    // dropout on the LoRA input changes the result (and only through the LoRA branch)
    expect(relErr(r.embedding_dropout!, r.embedding!)).toBeGreaterThan(1e-4);
    expect(relErr(r.embedding_dropout!, f32('text.embedding'))).toBeGreaterThan(1e-4);
  });

  for (const dtype of ['F16', 'BF16'] as const)
    it(`${dtype} checkpoints are converted once into the weights file and give PyTorch's result within ${dtype} rounding`, async () => {
      const dir = path.join(tmp, `gpt2-${dtype}`);
      fs.mkdirSync(dir);
      fs.copyFileSync(path.join(REF, 'gpt2/config.json'), path.join(dir, 'config.json'));
      const t = readTensors(path.join(REF, 'gpt2/model.safetensors'));
      const out: Record<string, { dtype: 'F16' | 'BF16'; shape: number[]; data: Uint16Array }> = {};
      for (const [k, v] of t) {
        const x = toFloat32(v);
        out[k] = { dtype, shape: v.shape, data: dtype === 'F16' ? f32ToF16(x) : f32ToBf16(x) };
      }
      writeSafetensors(path.join(dir, 'model.safetensors'), out);
      const r = await embedText({ modelDir: dir, cacheDir: path.join(tmp, 'cache'), inputIds: ids, lengths });
      expect(r.artifact.convertedWeights).toBeNull(); // bound in place, Cast to float32 in the graph
      expect(relErr(r.embedding, f32('text.embedding'))).toBeLessThan(dtype === 'F16' ? 5e-3 : 5e-2);
    });
});

describe('ViT LoRA', () => {
  it('unmerged == merged == PyTorch on the reference adapter (query, value)', async () => {
    const model = loadHfFolder(path.join(REF, 'vit'));
    const adapter = readPeftAdapter(path.join(REF, 'vit/adapter'), { family: 'vit' });
    const g = new Graph();
    const px = g.input('pixel_values', 'float32', ['batch', 3, 32, 32]);
    const w = new ParamStore(g, bindModelWeights(model, { cacheDir: tmp }).source);
    const lora = trainableLora(g, loraModulesOf(adapter));
    const emb = poolImage(visionForward(model.config as VisionConfig, w, px, { lora }), 'cls');
    const feeds: Record<string, OrtTensor> = { pixel_values: new ort.Tensor('float32', f32('vit.pixel_values'), [3, 3, 32, 32]) };
    for (const m of adapter.modules.values()) {
      feeds[`${m.module}.lora_A`] = new ort.Tensor('float32', toFloat32(m.A), [...m.A.shape]);
      feeds[`${m.module}.lora_B`] = new ort.Tensor('float32', toFloat32(m.B), [...m.B.shape]);
    }
    const r = await run(g, { embedding: ops.reshape(emb, ['batch', 48]) }, feeds);
    expect(relErr(r.embedding!, f32('vit.embedding_lora'))).toBeLessThan(1e-4);
    const merged = await embedImages({
      modelDir: model.dir,
      adapterDir: path.join(REF, 'vit/adapter'),
      cacheDir: path.join(tmp, 'cache'),
      pixelValues: f32('vit.pixel_values'),
      shape: [3, 3, 32, 32],
    });
    expect(relErr(merged.embedding, r.embedding!)).toBeLessThan(1e-4);
  });
});

describe('LinearGemm (nn.Linear as one Gemm with the bias as C)', () => {
  it('gradients of input, weight and bias match finite differences (float64)', async () => {
    const rep = await checkGradients({
      dtype: 'float64',
      symbols: { rows: 5 },
      build: (g) => {
        const a = g.input('a', 'float64', ['rows', 4]);
        const w = g.input('w', 'float64', [3, 4]);
        const b = g.input('b', 'float64', [3]);
        return { wrt: [a, w, b], out: g.apply(LinearGemm, [a, w, b], {})[0]! };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
});
