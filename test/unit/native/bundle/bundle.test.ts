import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonicalJson, sha256Hex, sha256File } from '../../../../src/native/io/hash';
import {
  createBundle,
  openBundle,
  exportBundle,
  bundleSha256,
  embeddingIdentity,
  addPromptSet,
  readPromptSet,
  parseBundleManifest,
  BundleError,
  BUNDLE_MANIFEST,
  type BundleParts,
  type BundleManifest,
} from '../../../../src/native/bundle/index';
import { createHeads, writeHeads } from '../../../../src/native/models/heads';
import { ModelFormatError, writeHfFolder } from '../../../../src/native/formats/hf-folder';
import { expectedTensors, parseModelConfig } from '../../../../src/native/models/hf-model';
import type { TensorInput } from '../../../../src/native/formats/safetensors';
import { tmpDir, removeTmpDirs } from '../../../helpers/tmp';

const REF = path.resolve(__dirname, '../../../fixtures/reference-a');
const GPT2_TOKENIZER = path.resolve(__dirname, '../../../fixtures/gpt2-tokenizer');

const PARTS: BundleParts = {
  name: 'tiny-cleft',
  textModel: path.join(REF, 'gpt2'),
  imageModel: path.join(REF, 'vit'),
  textAdapter: path.join(REF, 'gpt2/adapter'),
  imageAdapter: path.join(REF, 'vit/adapter'),
  heads: path.join(REF, 'heads.safetensors'),
  preprocessing: { version: 1, intensity: 'scale_max', size: 32 },
};

function readManifest(dir: string): BundleManifest {
  return JSON.parse(fs.readFileSync(path.join(dir, BUNDLE_MANIFEST), 'utf8')) as BundleManifest;
}

/** Rewrites a file and its hash in the manifest (a consistent but different bundle). */
async function replaceListed(dir: string, rel: string, write: (file: string) => void): Promise<void> {
  const file = path.join(dir, rel);
  write(file);
  const m = readManifest(dir);
  m.files[rel] = { size: fs.statSync(file).size, sha256: await sha256File(file) };
  fs.writeFileSync(path.join(dir, BUNDLE_MANIFEST), JSON.stringify(m, null, 2));
}

function flipByte(file: string, at: number): void {
  const b = fs.readFileSync(file);
  b[at] = b[at]! ^ 0xff;
  fs.writeFileSync(file, b);
}

async function errorOf(p: Promise<unknown>): Promise<BundleError | ModelFormatError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ModelFormatError) return e;
    throw e;
  }
  throw new Error('expected a ModelFormatError');
}

/** A GPT-2 with the real vocabulary size (so the real GPT-2 tokenizer fits), zero weights. */
function tinyGpt2WithRealVocab(dir: string): void {
  const raw = { model_type: 'gpt2', architectures: ['GPT2Model'], vocab_size: 50257, n_positions: 16, n_embd: 8, n_layer: 1, n_head: 2 };
  const tensors: Record<string, TensorInput> = {};
  for (const t of expectedTensors(parseModelConfig(raw)))
    tensors[t.name] = { dtype: 'F32', shape: t.shape, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) };
  writeHfFolder(dir, raw, tensors);
}

let base: string;
let ref: Awaited<ReturnType<typeof openBundle>>;
beforeAll(async () => {
  base = tmpDir('bundle-test-');
  ref = await createBundle(path.join(base, 'ref'), PARTS);
});
afterAll(() => removeTmpDirs());

describe('createBundle / openBundle', () => {
  it('builds a bundle from reference-a with every part listed and hashed', async () => {
    expect(ref.manifest.formatVersion).toBe(1);
    expect(ref.manifest.name).toBe('tiny-cleft');
    expect(ref.files.map((f) => f.path).sort()).toEqual([
      'heads.safetensors',
      'image-adapter/adapter_config.json',
      'image-adapter/adapter_model.safetensors',
      'image/config.json',
      'image/model.safetensors',
      'text-adapter/adapter_config.json',
      'text-adapter/adapter_model.safetensors',
      'text/config.json',
      'text/model.safetensors',
    ]);
    // the gpt2 fixture folder also holds adapter/: only what the loader reads is copied
    expect(fs.existsSync(path.join(ref.dir, 'text/adapter'))).toBe(false);
    for (const f of ref.files) {
      const src = fs.readFileSync(f.abs);
      expect(sha256Hex(src)).toBe(f.sha256);
      expect(src.length).toBe(f.size);
    }
    expect(ref.manifest.text).toEqual({
      path: 'text',
      family: 'gpt2',
      adapter: 'text-adapter',
      pooling: 'eos',
      maxLength: 64,
      tokenizer: null,
    });
    expect(ref.manifest.image).toEqual({ path: 'image', family: 'vit', adapter: 'image-adapter', pooling: 'cls' });
    expect(ref.manifest.heads).toEqual({ path: 'heads.safetensors', projDim: 32 });
    expect(ref.manifest.preprocessing!.sha256).toBe(sha256Hex('{"intensity":"scale_max","size":32,"version":1}'));
    expect(ref.text.config.nEmbd).toBe(64);
    expect(ref.image.config.hiddenSize).toBe(48);
    expect(ref.text.adapter!.check.fanInFanOut.get('h.0.attn.c_attn')).toBe(true);
    expect(ref.image.adapter!.check.fanInFanOut.get('encoder.layer.0.attention.attention.query')).toBe(false);
    expect(ref.heads.heads.projDim).toBe(32);
    expect(ref.warnings.some((w) => w.includes('no tokenizer'))).toBe(true);
    expect(ref.warnings.some((w) => w.startsWith('text-adapter:') && w.includes('mlp.c_proj'))).toBe(true);
    // the temp folder is gone
    expect(fs.readdirSync(base).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('opens with full verification and gives a stable identity', async () => {
    const b = await openBundle(ref.dir);
    expect(b.verified).toBe('full');
    expect(bundleSha256(b)).toBe(ref.sha256);
    expect(bundleSha256(b.manifest)).toBe(ref.sha256);
    expect(ref.sha256).toMatch(/^[0-9a-f]{64}$/);
    // names and dates are not part of the identity
    const renamed = { ...b.manifest, name: 'other', createdAt: '2000-01-01T00:00:00Z', description: 'x' };
    expect(bundleSha256(renamed)).toBe(ref.sha256);
    expect(bundleSha256({ ...b.manifest, image: { ...b.manifest.image, pooling: 'prenorm-mean' } })).not.toBe(ref.sha256);
  });

  it('builds a DINOv2-with-registers bundle with prenorm-mean pooling and a max length', async () => {
    const b = await createBundle(path.join(base, 'dino'), {
      textModel: PARTS.textModel,
      imageModel: path.join(REF, 'dinov2'),
      heads: PARTS.heads,
      imagePooling: 'prenorm-mean',
      maxTextLength: 40,
    });
    expect(b.manifest.image).toEqual({ path: 'image', family: 'dinov2_with_registers', adapter: null, pooling: 'prenorm-mean' });
    expect(b.text.maxLength).toBe(40);
    expect(b.text.adapter).toBeNull();
    expect(b.preprocessing).toBeNull();
    await expect(createBundle(path.join(base, 'too-long'), { ...PARTS, maxTextLength: 65 })).rejects.toThrow(
      /max text length 65.*n_positions 64/,
    );
  });

  it('refuses heads that do not fit the encoders, before writing anything', async () => {
    const wrong = path.join(base, 'wrong-heads.safetensors');
    writeHeads(wrong, createHeads(64, 40, 32, 1));
    const out = path.join(base, 'wrong');
    const e = await errorOf(createBundle(out, { ...PARTS, heads: wrong }));
    expect(e.file).toBe(wrong);
    expect(e.tensor).toBe('visual_projection.weight');
    expect(e.message).toMatch(/40-d image features but the image encoder gives 48/);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(base).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('refuses an adapter that does not fit its base model', async () => {
    const e = await errorOf(createBundle(path.join(base, 'bad-adapter'), { ...PARTS, imageAdapter: PARTS.textAdapter }));
    expect(e.message).toMatch(/adapter_model\.safetensors/);
    expect(e.message).toMatch(/not a .*weight of the base vit model/);
  });

  it('refuses encoders of the wrong kind', async () => {
    await expect(createBundle(path.join(base, 'swap'), { ...PARTS, textModel: PARTS.imageModel, textAdapter: null })).rejects.toThrow(
      /text model must be GPT-2-family, this is vit/,
    );
  });

  it('replaces a bundle only with overwrite, and never a folder that is not a bundle', async () => {
    const out = path.join(base, 'over');
    await createBundle(out, PARTS);
    await expect(createBundle(out, PARTS)).rejects.toThrow(/already exists/);
    const again = await createBundle(out, { ...PARTS, imagePooling: 'prenorm-mean' }, { overwrite: true });
    expect(again.manifest.image.pooling).toBe('prenorm-mean');
    const notBundle = path.join(base, 'user-folder');
    fs.mkdirSync(notBundle);
    fs.writeFileSync(path.join(notBundle, 'thesis.tex'), 'x');
    await expect(createBundle(notBundle, PARTS, { overwrite: true })).rejects.toThrow(/not a CLEFT bundle.*not replacing it/);
    expect(fs.readFileSync(path.join(notBundle, 'thesis.tex'), 'utf8')).toBe('x');
  });

  it('hard-links parts when asked (falls back to copying)', async () => {
    const b = await createBundle(path.join(base, 'linked'), PARTS, { link: 'hardlink' });
    expect(b.sha256).toBe(ref.sha256);
  });
});

describe('verification', () => {
  it('names a tampered file (hash mismatch); sizes-only verification does not hash', async () => {
    const dir = (await exportBundle(ref, path.join(base, 'tamper'))).dir;
    flipByte(path.join(dir, 'text/model.safetensors'), 5000);
    const e = await errorOf(openBundle(dir));
    expect(e).toBeInstanceOf(BundleError);
    expect(e.file).toBe(path.join(dir, 'text/model.safetensors'));
    expect(e.message).toMatch(/sha256 mismatch: [0-9a-f]{64}, the manifest says [0-9a-f]{64}/);
    await expect(openBundle(dir, { verify: 'sizes' })).resolves.toBeTruthy();
    flipByte(path.join(dir, 'heads.safetensors'), 200);
    const two = (await errorOf(openBundle(dir))) as BundleError;
    expect(two.problems.map((p) => path.relative(dir, p.file)).sort()).toEqual(['heads.safetensors', 'text/model.safetensors']);
    expect(two.message).toMatch(/^2 problems:/);
  });

  it('names a missing and a truncated file', async () => {
    const dir = (await exportBundle(ref, path.join(base, 'missing'))).dir;
    fs.rmSync(path.join(dir, 'image-adapter/adapter_model.safetensors'));
    let e = await errorOf(openBundle(dir, { verify: 'sizes' }));
    expect(e.file).toBe(path.join(dir, 'image-adapter/adapter_model.safetensors'));
    expect(e.message).toMatch(/missing \(listed in cleft-bundle\.json\)/);
    const dir2 = (await exportBundle(ref, path.join(base, 'truncated'))).dir;
    const f = path.join(dir2, 'image/model.safetensors');
    fs.truncateSync(f, 1000);
    e = await errorOf(openBundle(dir2, { verify: 'sizes' }));
    expect(e.file).toBe(f);
    expect(e.message).toMatch(/size 1000 bytes, the manifest says 196840/);
  });

  it('refuses consistent-looking bundles whose parts do not fit (wrong heads shape)', async () => {
    const dir = (await exportBundle(ref, path.join(base, 'heads-swap'))).dir;
    await replaceListed(dir, 'heads.safetensors', (file) => writeHeads(file, createHeads(48, 48, 32, 2)));
    const e = await errorOf(openBundle(dir));
    expect(e.file).toBe(path.join(dir, 'heads.safetensors'));
    expect(e.tensor).toBe('text_projection.weight');
    expect(e.message).toMatch(/48-d text features but the text encoder gives 64/);
  });

  it('refuses files a loader would read that the manifest does not list; warns about others', async () => {
    const dir = (await exportBundle(ref, path.join(base, 'unlisted'))).dir;
    fs.writeFileSync(path.join(dir, 'README.md'), 'notes');
    const b = await openBundle(dir, { verify: 'sizes' });
    expect(b.warnings).toContain('README.md: not listed in cleft-bundle.json (ignored)');
    fs.writeFileSync(path.join(dir, 'text/tokenizer.json'), '{}');
    const e = await errorOf(openBundle(dir, { verify: 'sizes' }));
    expect(e.file).toBe(path.join(dir, 'text/tokenizer.json'));
    expect(e.message).toMatch(/not listed in cleft-bundle\.json but inside a model part/);
  });

  it('refuses symbolic links out of the bundle', async () => {
    const dir = (await exportBundle(ref, path.join(base, 'symlink'))).dir;
    const f = path.join(dir, 'image/config.json');
    fs.rmSync(f);
    fs.symlinkSync(path.join(REF, 'vit/config.json'), f);
    const e = await errorOf(openBundle(dir, { verify: 'sizes' }));
    expect(e.message).toMatch(/outside the bundle \(symbolic link\)/);
  });

  it('validates the manifest: schema, version, paths, preprocessing hash, references', () => {
    const m = readManifest(ref.dir);
    expect(parseBundleManifest(m).name).toBe('tiny-cleft');
    expect(() => parseBundleManifest({ ...m, formatVersion: 2 })).toThrow(/newer CLEFT Studio \(formatVersion 2/);
    expect(() => parseBundleManifest({ ...m, text: { ...m.text, path: '../text' } })).toThrow(
      /text\.path: must be a relative path inside the bundle/,
    );
    expect(() => parseBundleManifest({ ...m, image: { ...m.image, pooling: 'mean' } })).toThrow(/image\.pooling/);
    expect(() => parseBundleManifest({ ...m, extra: 1 })).toThrow(/invalid manifest/);
    expect(() => parseBundleManifest({ ...m, preprocessing: { spec: { size: 224 }, sha256: m.preprocessing!.sha256 } })).toThrow(
      /preprocessing\.sha256 is not the sha256/,
    );
    expect(() => parseBundleManifest({ ...m, files: { '/etc/passwd': { size: 1, sha256: 'a'.repeat(64) } } })).toThrow(/files/);
  });

  it('names the manifest when a referenced part is not listed', async () => {
    const dir = (await exportBundle(ref, path.join(base, 'unref'))).dir;
    const m = readManifest(dir);
    m.heads.path = 'other-heads.safetensors';
    fs.writeFileSync(path.join(dir, BUNDLE_MANIFEST), JSON.stringify(m));
    const e = await errorOf(openBundle(dir));
    expect(e.file).toBe(path.join(dir, BUNDLE_MANIFEST));
    expect(e.message).toMatch(/heads\.path "other-heads\.safetensors" is not listed in "files"/);
  });

  it('refuses a folder without a manifest', async () => {
    await expect(openBundle(path.join(REF, 'vit'))).rejects.toThrow(/missing cleft-bundle\.json: not a CLEFT bundle/);
  });
});

describe('exportBundle', () => {
  it('copies the whole bundle and nothing else; same identity', async () => {
    const dir = (await exportBundle(ref, path.join(base, 'src-extra'))).dir;
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not part of the model');
    const out = await exportBundle(dir, path.join(base, 'exported'));
    expect(out.sha256).toBe(ref.sha256);
    expect(fs.existsSync(path.join(out.dir, 'notes.txt'))).toBe(false);
    expect(Buffer.compare(fs.readFileSync(out.manifestFile), fs.readFileSync(ref.manifestFile))).toBe(0);
    const reopened = await openBundle(out.dir);
    expect(bundleSha256(reopened)).toBe(bundleSha256(ref));
    await expect(exportBundle(ref, path.join(base, 'exported'))).rejects.toThrow(/already exists/);
    await expect(exportBundle(ref, path.join(ref.dir, 'inner'))).rejects.toThrow(/into itself/);
  });

  it('does not export a corrupt bundle', async () => {
    const dir = (await exportBundle(ref, path.join(base, 'corrupt-src'))).dir;
    const src = await openBundle(dir);
    flipByte(path.join(dir, 'image/model.safetensors'), 4000);
    await expect(exportBundle(src, path.join(base, 'corrupt-out'))).rejects.toThrow(/image\/model\.safetensors: sha256 mismatch/);
    expect(fs.existsSync(path.join(base, 'corrupt-out'))).toBe(false);
  });
});

describe('prompt sets', () => {
  it('adds, reads, replaces learned prompt contexts; the identity changes, embedding identity does not', async () => {
    const b0 = await exportBundle(ref, path.join(base, 'prompts'));
    const ctx = Float32Array.from({ length: 4 * 64 }, (_, i) => Math.sin(i));
    const meta = {
      task: 'Breast density',
      classNames: ['A', 'B', 'C', 'D'],
      nCtx: 4,
      initPhrase: 'This is a breast 2D full-field digital mammogram',
      metrics: { before: { accuracy: 0.31, auc: 0.6 }, after: { accuracy: 0.55, auc: 0.79 } },
    };
    const b1 = await addPromptSet(b0, 'density', { data: ctx, shape: [4, 64] }, meta);
    expect(b1.promptSets).toHaveLength(1);
    expect(b1.promptSets[0]).toMatchObject({ ...meta, name: 'density', path: 'prompts/density.safetensors', dim: 64 });
    expect(b1.manifest.files['prompts/density.safetensors']!.sha256).toBe(
      await sha256File(path.join(b1.dir, 'prompts/density.safetensors')),
    );
    expect(b1.sha256).not.toBe(b0.sha256);
    expect(embeddingIdentity(b1)).toEqual(embeddingIdentity(b0));
    const read = readPromptSet(await openBundle(b1.dir), 'density');
    expect(read.shape).toEqual([4, 64]);
    expect(read.ctx).toEqual(ctx);
    await expect(addPromptSet(b1, 'density', { data: ctx, shape: [4, 64] }, meta)).rejects.toThrow(/already has a prompt set "density"/);
    await expect(addPromptSet(b1, 'bad', { data: new Float32Array(4 * 48), shape: [4, 48] }, meta)).rejects.toThrow(
      /ctx must be \[nCtx 4, 64\]/,
    );
    await expect(addPromptSet(b1, '../x', { data: ctx, shape: [4, 64] }, meta)).rejects.toThrow(/prompt set name/);
    await expect(addPromptSet(b1, 'x', { data: ctx, shape: [4, 64] }, { ...meta, classNames: [] })).rejects.toThrow(/classNames/);
    const b2 = await addPromptSet(
      b1,
      'density',
      { data: new Float32Array(2 * 64), shape: [2, 64] },
      { ...meta, nCtx: 2 },
      { replace: true },
    );
    expect(b2.promptSets.map((p) => [p.name, p.nCtx])).toEqual([['density', 2]]);
    const exported = await exportBundle(b2, path.join(base, 'prompts-out'));
    expect(exported.sha256).toBe(b2.sha256);
    // a prompt file that does not match its entry is refused
    await replaceListed(b2.dir, 'prompts/density.safetensors', (f) =>
      fs.writeFileSync(f, fs.readFileSync(path.join(REF, 'heads.safetensors'))),
    );
    await expect(openBundle(b2.dir)).rejects.toThrow(/density\.safetensors: tensor "ctx": missing tensor/);
  });
});

describe('tokenizer', () => {
  it('copies a tokenizer folder, or the text model folder tokenizer files, and checks it fits', async () => {
    const gpt2 = path.join(base, 'gpt2-real-vocab');
    tinyGpt2WithRealVocab(gpt2);
    const heads = path.join(base, 'heads-8.safetensors');
    writeHeads(heads, createHeads(8, 48, 16, 3));
    const parts = { textModel: gpt2, imageModel: PARTS.imageModel, heads };
    const a = await createBundle(path.join(base, 'tok-a'), { ...parts, tokenizer: GPT2_TOKENIZER });
    expect(a.manifest.text.tokenizer).toBe('tokenizer');
    expect(a.files.map((f) => f.path)).toEqual(expect.arrayContaining(['tokenizer/vocab.json', 'tokenizer/merges.txt']));
    expect(a.files.some((f) => f.path.includes('LICENSE'))).toBe(false);
    expect(a.text.tokenizerDir).toBe(path.join(a.dir, 'tokenizer'));
    expect(a.warnings.some((w) => w.includes('tokenizer'))).toBe(false);
    for (const f of ['vocab.json', 'merges.txt']) fs.copyFileSync(path.join(GPT2_TOKENIZER, f), path.join(gpt2, f));
    const b = await createBundle(path.join(base, 'tok-b'), parts);
    expect(b.manifest.text.tokenizer).toBe('text');
    expect(b.files.map((f) => f.path)).toEqual(expect.arrayContaining(['text/vocab.json', 'text/merges.txt']));
    const none = await createBundle(path.join(base, 'tok-none'), { ...parts, tokenizer: null });
    expect(none.manifest.text.tokenizer).toBeNull();
    await expect(createBundle(path.join(base, 'tok-bad'), { ...PARTS, tokenizer: GPT2_TOKENIZER })).rejects.toThrow(
      /EOS token id 50256 is outside the text encoder's vocabulary \(vocab_size 1000\)/,
    );
  });
});

describe('canonical JSON', () => {
  it('sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[{"y":2,"z":1}]},"b":1}');
    expect(sha256Hex('abc')).toBe(crypto.createHash('sha256').update('abc').digest('hex'));
  });
});
