// Every reference-a embedding case through the API and through `cleft embed` (a child process
// reading and writing safetensors), the on-disk ONNX cache, --text tokenization and bad inputs.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { embedImages, embedText, buildTextEncoder, clearBuildMemo } from '../../../../src/native/models/embed';
import { readTensors, toFloat32, writeSafetensors } from '../../../../src/native/formats/safetensors';
import { Gpt2Tokenizer } from '../../../../src/native/formats/tokenizer';
import type { ImagePooling } from '../../../../src/native/models/vit';
import { generatePhantoms } from '../../../../src/main/dicom/phantom/index';
import { prepareFiles } from '../../../../src/main/dicom/pipeline/prepare';
import { presetSpec } from '../../../../src/main/dicom/pipeline/spec';
import { readSafetensorsHeader } from '../../../../src/native/formats/safetensors';
import { ROOT, cliOutcome } from '../../../helpers/cli';

const REF = path.join(ROOT, 'test/fixtures/reference-a');
const cases = readTensors(path.join(REF, 'cases.safetensors'));
const f32 = (k: string) => toFloat32(cases.get(k)!);
const i64 = (k: string) => cases.get(k)!.data as BigInt64Array;
const lengths = i64('text.lengths');
const [B, T] = cases.get('text.input_ids')!.shape as [number, number];

let tmp: string;
let cacheDir: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'embed-ref-'));
  cacheDir = path.join(tmp, 'cache', 'onnx');
  writeSafetensors(path.join(tmp, 'text-in.safetensors'), {
    input_ids: { dtype: 'I64', shape: [B, T], data: i64('text.input_ids') },
    lengths: { dtype: 'I64', shape: [B], data: lengths },
  });
  for (const fam of ['vit', 'dinov2']) {
    const px = cases.get(`${fam}.pixel_values`)!;
    writeSafetensors(path.join(tmp, `${fam}-in.safetensors`), { pixel_values: { dtype: 'F32', shape: px.shape, data: px.data } });
  }
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
  return e / m;
}

/** last_hidden compared on real tokens only (PyTorch's padded rows are unspecified). */
function realRows(x: Float32Array, d: number): Float32Array {
  const out: number[] = [];
  for (let b = 0; b < B; b++) for (let t = 0; t < Number(lengths[b]); t++) out.push(...x.subarray((b * T + t) * d, (b * T + t + 1) * d));
  return Float32Array.from(out);
}

const TOL = 1e-4;

function cli(args: string[]) {
  const r = cliOutcome(['embed', ...args, '--cache-dir', cacheDir], { dataDir: path.join(tmp, 'data'), timeoutMs: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function readOut(file: string) {
  const t = readTensors(file);
  return Object.fromEntries([...t].map(([k, v]) => [k, { shape: v.shape, data: v.data as Float32Array }]));
}

const TEXT_CASES = [
  { name: 'text (base)', adapter: undefined, key: 'text.embedding' },
  { name: 'text + LoRA adapter', adapter: 'gpt2/adapter', key: 'text.embedding_lora' },
] as const;
const IMAGE_CASES: { name: string; fam: string; adapter?: string; pool: ImagePooling; key: string; hidden?: string }[] = [
  { name: 'ViT cls', fam: 'vit', pool: 'cls', key: 'vit.embedding', hidden: 'vit.last_hidden' },
  { name: 'ViT cls + LoRA', fam: 'vit', adapter: 'vit/adapter', pool: 'cls', key: 'vit.embedding_lora' },
  { name: 'DINOv2-reg cls', fam: 'dinov2', pool: 'cls', key: 'dinov2.embedding', hidden: 'dinov2.last_hidden' },
  { name: 'DINOv2-reg prenorm-mean', fam: 'dinov2', pool: 'prenorm-mean', key: 'dinov2.embedding_prenorm_mean' },
];

describe('embedding API matches PyTorch (reference-a)', () => {
  for (const c of TEXT_CASES) {
    it(c.name, async () => {
      const r = await embedText({
        modelDir: path.join(REF, 'gpt2'),
        ...(c.adapter ? { adapterDir: path.join(REF, c.adapter) } : {}),
        cacheDir,
        inputIds: i64('text.input_ids'),
        lengths,
        threads: 1,
        onWarning: () => {},
      });
      expect(r.dim).toBe(64);
      expect(relErr(r.embedding, f32(c.key))).toBeLessThan(TOL);
      // the reference's last_hidden is the base model's
      if (!c.adapter) expect(relErr(realRows(r.lastHidden!, 64), realRows(f32('text.last_hidden'), 64))).toBeLessThan(TOL);
    });
  }
  for (const c of IMAGE_CASES) {
    it(c.name, async () => {
      const px = cases.get(`${c.fam}.pixel_values`)!;
      const r = await embedImages({
        modelDir: path.join(REF, c.fam),
        ...(c.adapter ? { adapterDir: path.join(REF, c.adapter) } : {}),
        cacheDir,
        pixelValues: px.data as Float32Array,
        shape: px.shape as [number, number, number, number],
        pool: c.pool,
        lastHidden: !!c.hidden,
        batchSize: 2, // 3 images: two runs, the second partial
      });
      expect(relErr(r.embedding, f32(c.key))).toBeLessThan(TOL);
      if (c.hidden) expect(relErr(r.lastHidden!, f32(c.hidden))).toBeLessThan(TOL);
    });
  }

  it('builds the same model twice: the second build hits the on-disk ONNX cache', () => {
    const dir = path.join(tmp, 'cache-test');
    const opts = { modelDir: path.join(REF, 'gpt2'), adapterDir: path.join(REF, 'gpt2/adapter'), cacheDir: dir, onWarning: () => {} };
    const a = buildTextEncoder(opts).artifact;
    const mtime = fs.statSync(a.path).mtimeMs;
    const conv = fs.statSync(a.convertedWeights!).mtimeMs;
    clearBuildMemo(); // as a new process would: graph emitted again, found on disk by its hash
    const b = buildTextEncoder(opts).artifact;
    expect(buildTextEncoder(opts).artifact.cacheHit).toBe(true); // and remembered in-process
    expect(a.cacheHit).toBe(false);
    expect(b.cacheHit).toBe(true);
    expect(b.sha256).toBe(a.sha256);
    expect(b.path).toBe(a.path);
    expect(fs.statSync(b.path).mtimeMs).toBe(mtime); // not rewritten
    expect(fs.statSync(b.convertedWeights!).mtimeMs).toBe(conv); // merged weights not recomputed
    // F32 base weights are used in place through a hard link, not copied
    const link = fs.readdirSync(path.join(dir, 'weights')).find((f) => f.endsWith('.safetensors'))!;
    expect(fs.statSync(path.join(dir, 'weights', link)).ino).toBe(fs.statSync(path.join(REF, 'gpt2/model.safetensors')).ino);
    // without the adapter: a different graph (no converted file at all)
    const c = buildTextEncoder({ ...opts, adapterDir: undefined }).artifact;
    expect(c.sha256).not.toBe(a.sha256);
    expect(c.convertedWeights).toBeNull();
  });

  it('refuses bad inputs with clear messages', async () => {
    const base = { modelDir: path.join(REF, 'gpt2'), cacheDir };
    await expect(embedText({ ...base, inputIds: new BigInt64Array([1n, 2n, 5000n]), lengths: new BigInt64Array([3n]) })).rejects.toThrow(
      /token id 5000 at row 0, column 2 is outside the vocabulary \(1000\)/,
    );
    await expect(embedText({ ...base, inputIds: new BigInt64Array([1n, 2n]), lengths: new BigInt64Array([3n]) })).rejects.toThrow(
      /lengths\[0\] = 3/,
    );
    await expect(
      embedImages({ modelDir: path.join(REF, 'gpt2'), cacheDir, pixelValues: new Float32Array(3 * 32 * 32), shape: [1, 3, 32, 32] }),
    ).rejects.toThrow(/must be a ViT, DINOv2/);
  });
});

describe('cleft embed (CLI) matches PyTorch (reference-a)', () => {
  for (const c of TEXT_CASES) {
    it(c.name, () => {
      const out = path.join(tmp, `cli-${c.key}.safetensors`);
      const args = ['text', '--model', path.join(REF, 'gpt2'), '--input', path.join(tmp, 'text-in.safetensors'), '--output', out];
      if (c.adapter) args.push('--adapter', path.join(REF, c.adapter));
      const r = cli([...args, '--threads', '1', '--device', 'cpu']);
      expect(r.code, r.stderr).toBe(0);
      const o = readOut(out);
      expect(o.embedding!.shape).toEqual([B, 64]);
      expect(o.last_hidden!.shape).toEqual([B, T, 64]);
      expect(relErr(o.embedding!.data, f32(c.key))).toBeLessThan(TOL);
      if (!c.adapter) expect(relErr(realRows(o.last_hidden!.data, 64), realRows(f32('text.last_hidden'), 64))).toBeLessThan(TOL);
    });
  }
  for (const c of IMAGE_CASES) {
    it(c.name, () => {
      const out = path.join(tmp, `cli-${c.key}.safetensors`);
      const args = ['image', '--model', path.join(REF, c.fam), '--input', path.join(tmp, `${c.fam}-in.safetensors`), '--output', out];
      if (c.adapter) args.push('--adapter', path.join(REF, c.adapter));
      if (c.pool !== 'cls') args.push('--pool', c.pool); // cls is the default
      const r = cli(args);
      expect(r.code, r.stderr).toBe(0);
      const o = readOut(out);
      expect(o.embedding!.shape).toEqual([3, 48]);
      expect(relErr(o.embedding!.data, f32(c.key))).toBeLessThan(TOL);
    });
  }

  it('--text tokenizes with the folder tokenizer, appends EOS and embeds at the EOS', async () => {
    // a byte-level BPE vocabulary that fits the tiny model: 256 bytes, a few merges, EOS
    const model = path.join(tmp, 'gpt2-tok');
    fs.mkdirSync(model);
    for (const f of ['config.json', 'model.safetensors']) fs.linkSync(path.join(REF, 'gpt2', f), path.join(model, f));
    const vocab: Record<string, number> = {};
    bytesToUnicode().forEach((ch, i) => (vocab[ch] = i));
    const merges = ['h e', 'l l', 'he ll', 'Ġ w'];
    merges.forEach((m, i) => (vocab[m.replace(' ', '')] = 256 + i));
    vocab['<|endoftext|>'] = 300;
    fs.writeFileSync(path.join(model, 'vocab.json'), JSON.stringify(vocab));
    fs.writeFileSync(path.join(model, 'merges.txt'), '#version: 0.2\n' + merges.join('\n') + '\n');
    const texts = ['hello world', 'density 4: extremely dense'];
    const out = path.join(tmp, 'cli-text.safetensors');
    const r = cli(['text', '--model', model, '--text', texts[0]!, '--text', texts[1]!, '--output', out]);
    expect(r.code, r.stderr).toBe(0);
    const enc = Gpt2Tokenizer.fromFolder(model).encodeBatch(texts);
    expect(enc.ids[0]!.at(-1)).toBe(300);
    const api = await embedText({ modelDir: model, cacheDir, inputIds: enc.inputIds, lengths: enc.lengths });
    const o = readOut(out);
    expect(o.embedding!.shape).toEqual([2, 64]);
    expect(o.last_hidden!.shape).toEqual([2, enc.seqLen, 64]);
    expect(relErr(o.embedding!.data, api.embedding)).toBeLessThan(1e-6);
  });

  it('--dicom prepares files with the DICOM pipeline at the model image size (preset cleft)', async () => {
    const exams = await generatePhantoms({ outDir: path.join(tmp, 'phantoms'), exams: 1, size: 'small', syntaxes: ['explicit-le'] });
    const files = exams[0]!.images.slice(0, 2).map((i) => i.file);
    const out = path.join(tmp, 'cli-dicom.safetensors');
    const r = cli(['image', '--model', path.join(REF, 'vit'), '--dicom', ...files, '--output', out]);
    expect(r.code, r.stderr).toBe(0);
    const o = readOut(out);
    expect(o.embedding!.shape).toEqual([2, 48]);
    const meta = readSafetensorsHeader(out).metadata!;
    expect(JSON.parse(meta.preprocessing!).size).toBe(32); // the ViT fixture's image_size
    const prepared = await prepareFiles(files, { ...presetSpec('cleft'), size: 32 });
    expect(prepared.specHash).toBe(meta.preprocessing_sha256);
    const api = await embedImages({ modelDir: path.join(REF, 'vit'), cacheDir, pixelValues: prepared.pixelValues, shape: prepared.shape });
    expect(relErr(o.embedding!.data, api.embedding)).toBeLessThan(1e-6);
  });

  it('names the file, tensor and problem for bad folders and inputs', () => {
    const broken = path.join(tmp, 'broken-vit');
    fs.mkdirSync(broken);
    fs.copyFileSync(path.join(REF, 'vit/config.json'), path.join(broken, 'config.json'));
    const t = readTensors(path.join(REF, 'vit/model.safetensors'));
    t.delete('encoder.layer.1.output.dense.weight');
    writeSafetensors(path.join(broken, 'model.safetensors'), t);
    const r1 = cli([
      'image',
      '--model',
      broken,
      '--input',
      path.join(tmp, 'vit-in.safetensors'),
      '--output',
      path.join(tmp, 'x.safetensors'),
    ]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/model\.safetensors.*encoder\.layer\.1\.output\.dense\.weight.*missing tensor/);

    const r2 = cli([
      'image',
      '--model',
      path.join(REF, 'vit'),
      '--input',
      path.join(tmp, 'text-in.safetensors'),
      '--output',
      path.join(tmp, 'x.safetensors'),
    ]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/text-in\.safetensors: tensor "pixel_values": missing tensor/);

    const r3 = cli(['text', '--model', path.join(REF, 'gpt2'), '--output', path.join(tmp, 'x.safetensors')]);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/either --input FILE or one or more --text/);
  });
});

/** GPT-2's byte -> printable unicode table (bytes_to_unicode in the original encoder). */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++)
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  const out: string[] = new Array<string>(256);
  bs.forEach((b, i) => (out[b] = String.fromCharCode(cs[i]!)));
  return out;
}
