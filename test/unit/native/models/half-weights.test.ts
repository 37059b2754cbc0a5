// BF16/F16 weights bound in place (their own dtype + a Cast to float32 in the graph) give the same
// embeddings, bit for bit, as the old float32 copy on disk; the BioMedLM-shape script is
// deterministic and streams shards (a small variant of scripts/make-biomedlm-shape.ts).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBiomedlmShape } from '../../../../scripts/make-biomedlm-shape';
import { embedText, clearBuildMemo } from '../../../../src/native/models/embed';
import { loadHfFolder } from '../../../../src/native/models/hf-model';
import { Gpt2Tokenizer } from '../../../../src/native/formats/tokenizer';

const SMALL = { layers: 2, width: 64, heads: 4, vocab: 512, positions: 64 };
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'half-weights-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const bytesOf = (dir: string) =>
  fs
    .readdirSync(dir)
    .sort()
    .map((f) => [f, fs.readFileSync(path.join(dir, f))] as const);

describe('scripts/make-biomedlm-shape.ts', () => {
  it('writes a sharded bf16 GPT-2 folder of the asked shape, the same bytes for the same seed', () => {
    const a = path.join(tmp, 'a');
    const r = makeBiomedlmShape(a, { ...SMALL, seed: 7, shardBytes: 100_000 });
    expect(r.shards).toBeGreaterThan(1);
    makeBiomedlmShape(path.join(tmp, 'b'), { ...SMALL, seed: 7, shardBytes: 100_000 });
    makeBiomedlmShape(path.join(tmp, 'c'), { ...SMALL, seed: 8, shardBytes: 100_000 });
    const [fa, fb, fc] = [bytesOf(a), bytesOf(path.join(tmp, 'b')), bytesOf(path.join(tmp, 'c'))];
    expect(fa.map(([f]) => f)).toEqual(fb.map(([f]) => f));
    for (let i = 0; i < fa.length; i++) expect(fa[i]![1].equals(fb[i]![1])).toBe(true);
    expect(fa.some(([f, b], i) => f.startsWith('model-') && !b.equals(fc[i]![1]))).toBe(true);

    const m = loadHfFolder(a);
    expect(m.sharded).toBe(true);
    expect(m.dtypes).toEqual(['BF16']);
    expect(m.config).toMatchObject({ nEmbd: 64, nLayer: 2, nHead: 4, vocabSize: 512, nPositions: 64 });
    expect(m.numParameters).toBe(r.parameters);
    const tok = Gpt2Tokenizer.fromFolder(a);
    expect(tok.eosTokenId).toBe(511);
    const enc = tok.encodeBatch(['a chest x-ray', 'pneumonia'], { maxLength: 64 });
    for (const id of enc.inputIds) expect(id >= 0n && id < 512n).toBe(true);
  });
});

describe('half-precision weights in place', () => {
  it('embeddings of a bf16 model equal those of the float32-converted path bit for bit, with no copy on disk', async () => {
    const dir = path.join(tmp, 'a');
    if (!fs.existsSync(dir)) makeBiomedlmShape(dir, { ...SMALL, seed: 7, shardBytes: 100_000 });
    const tok = Gpt2Tokenizer.fromFolder(dir);
    const enc = tok.encodeBatch(['a chest radiograph with pneumonia', 'no acute findings', 'small left pleural effusion'], {
      maxLength: 64,
    });
    clearBuildMemo();
    const cast = await embedText({
      modelDir: dir,
      cacheDir: path.join(tmp, 'cache-cast'),
      inputIds: enc.inputIds,
      lengths: enc.lengths,
      device: 'cpu',
    });
    const conv = await embedText({
      modelDir: dir,
      cacheDir: path.join(tmp, 'cache-convert'),
      inputIds: enc.inputIds,
      lengths: enc.lengths,
      device: 'cpu',
      halfWeights: 'convert',
    });
    expect(cast.artifact.convertedWeights).toBeNull();
    expect(conv.artifact.convertedWeights).not.toBeNull();
    expect(fs.readdirSync(path.join(tmp, 'cache-cast', 'weights')).every((f) => f.endsWith('.safetensors'))).toBe(true);
    expect(cast.artifact.sha256).not.toBe(conv.artifact.sha256); // different graphs ...
    expect(Buffer.from(cast.embedding.buffer).equals(Buffer.from(conv.embedding.buffer))).toBe(true); // ... same bits
    expect(Buffer.from(cast.lastHidden!.buffer).equals(Buffer.from(conv.lastHidden!.buffer))).toBe(true);
    expect(cast.embedding.every(Number.isFinite)).toBe(true);
  });
});
