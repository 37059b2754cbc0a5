// The int8 weight path on the reference-a models: embeddings close to float32 (error stated in
// docs/engine.md#int8-weights), the quantized weights written once into the cache and reused, the
// LoRA merge applied before quantization, and the provider rule.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildTextEncoder, clearBuildMemo, embedImages, embedText } from '../../../../src/native/models/embed';
import { rng } from '../graph/harness';

const REF = path.resolve('test/fixtures/reference-a');
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'int8-weights-'));
  clearBuildMemo();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function compare(a: Float32Array, b: Float32Array, dim: number) {
  let maxAbs = 0;
  let maxRef = 0;
  let minCos = 1;
  for (let r = 0; r < a.length / dim; r++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
      maxRef = Math.max(maxRef, Math.abs(a[i]!));
      dot += a[i]! * b[i]!;
      na += a[i]! * a[i]!;
      nb += b[i]! * b[i]!;
    }
    minCos = Math.min(minCos, dot / Math.sqrt(na * nb));
  }
  return { maxAbs, rel: maxAbs / maxRef, minCos };
}

/** Three right-padded rows of token ids below reference-a's vocabulary (1000). */
function tokens() {
  const r = rng(11);
  const seq = 12;
  const lengths = BigInt64Array.from([12n, 7n, 9n]);
  const inputIds = BigInt64Array.from({ length: 3 * seq }, (_, i) =>
    i % seq < Number(lengths[Math.floor(i / seq)]) ? BigInt(r.int(0, 999)) : 0n,
  );
  return { inputIds, lengths };
}

describe('int8 weights (reference-a)', () => {
  it('text embeddings within 2% of float32 (cosine > 0.999), from MatMulNBits over a quantized file written once', async () => {
    const enc = tokens();
    const cacheDir = path.join(tmp, 'text');
    const common = { modelDir: path.join(REF, 'gpt2'), cacheDir, inputIds: enc.inputIds, lengths: enc.lengths, device: 'cpu' as const };
    const f32 = await embedText(common);
    const q8 = await embedText({ ...common, weights: 'int8' });
    expect(q8.artifact.sha256).not.toBe(f32.artifact.sha256);
    expect(fs.readFileSync(q8.artifact.path).includes(Buffer.from('MatMulNBits'))).toBe(true);
    expect(fs.readFileSync(f32.artifact.path).includes(Buffer.from('MatMulNBits'))).toBe(false);
    const e = compare(f32.embedding, q8.embedding, f32.dim);
    expect(e.rel).toBeGreaterThan(0); // it is another computation ...
    expect(e.rel).toBeLessThan(0.02); // ... close to float32
    expect(e.minCos).toBeGreaterThan(0.999);

    const q8files = fs.readdirSync(path.join(cacheDir, 'weights')).filter((f) => f.endsWith('.q8.bin'));
    expect(q8files).toHaveLength(1);
    const stat = fs.statSync(path.join(cacheDir, 'weights', q8files[0]!));
    clearBuildMemo();
    const again = buildTextEncoder({ modelDir: common.modelDir, cacheDir, weights: 'int8' });
    expect(again.artifact.cacheHit).toBe(true);
    expect(fs.statSync(path.join(cacheDir, 'weights', q8files[0]!)).mtimeMs).toBe(stat.mtimeMs); // not rewritten
    // float32 results do not change with the int8 path present
    const f32b = await embedText(common);
    expect(Buffer.from(f32b.embedding.buffer).equals(Buffer.from(f32.embedding.buffer))).toBe(true);
  });

  it('the LoRA adapter is merged before quantization', async () => {
    const enc = tokens();
    const common = { modelDir: path.join(REF, 'gpt2'), cacheDir: path.join(tmp, 'lora'), inputIds: enc.inputIds, lengths: enc.lengths };
    const base = await embedText({ ...common, weights: 'int8' });
    const merged = await embedText({ ...common, weights: 'int8', adapterDir: path.join(REF, 'gpt2', 'adapter') });
    const f32 = await embedText({ ...common, adapterDir: path.join(REF, 'gpt2', 'adapter') });
    const toMerged = compare(f32.embedding, merged.embedding, f32.dim);
    const toBase = compare(f32.embedding, base.embedding, f32.dim);
    expect(toMerged.rel).toBeLessThan(0.02);
    expect(toMerged.maxAbs).toBeLessThan(toBase.maxAbs);
    expect(fs.readdirSync(path.join(common.cacheDir, 'weights')).filter((f) => f.endsWith('.q8.bin'))).toHaveLength(2);
  });

  it('image embeddings (ViT) within 2% of float32', async () => {
    const r = rng(3);
    const px = Float32Array.from({ length: 2 * 3 * 32 * 32 }, () => r.normal());
    const common = { modelDir: path.join(REF, 'vit'), cacheDir: path.join(tmp, 'vit'), pixelValues: px, shape: [2, 3, 32, 32] as const };
    const f32 = await embedImages(common);
    const q8 = await embedImages({ ...common, weights: 'int8' });
    const e = compare(f32.embedding, q8.embedding, f32.dim);
    expect(e.rel).toBeLessThan(0.02);
    expect(e.minCos).toBeGreaterThan(0.999);
  });

  it('runs on the CPU provider: auto resolves to it with the reason, a GPU choice is refused saying why', async () => {
    const enc = tokens();
    const common = { modelDir: path.join(REF, 'gpt2'), cacheDir: path.join(tmp, 'dev'), inputIds: enc.inputIds, lengths: enc.lengths };
    const auto = await embedText({ ...common, weights: 'int8', device: 'auto' });
    expect(auto.provider).toEqual({ name: 'cpu', choice: 'auto', fallbackReason: 'int8 weights run on the CPU provider' });
    await expect(embedText({ ...common, weights: 'int8', device: 'webgpu' })).rejects.toThrow(
      /int8 weights run on the CPU provider only .*device webgpu was asked for/,
    );
  });
});
