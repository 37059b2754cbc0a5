import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { openDatabase, type Db } from '../../../src/main/db/database';
import {
  importModel,
  listModels,
  getModel,
  getModelManifest,
  inspectModel,
  deleteModel,
  refreshBundleRecord,
  bundlePreprocessing,
  exportModelBundle,
  createModelBundle,
  MODELS_DIR,
} from '../../../src/main/models/registry';
import { createBundle, openBundle, addPromptSet, bundleSha256 } from '../../../src/native/bundle/index';
import { detectModelFolder, inspectModelFolder, type ModelInspection } from '../../../src/native/bundle/inspect';
import { CleftError } from '../../../src/common/errors';
import { specHash, PRESETS } from '../../../src/main/dicom/pipeline/spec';
import { ROOT, cliOutcome } from '../../helpers/cli';
import { tmpDir, removeTmpDirs } from '../../helpers/tmp';

const REF = path.join(ROOT, 'test/fixtures/reference-a');

afterAll(() => removeTmpDirs());

function freshDb(): { db: Db; dataDir: string } {
  const dataDir = tmpDir('registry-data-');
  return { db: openDatabase(':memory:'), dataDir };
}

async function cleftErrorOf(p: Promise<unknown>): Promise<CleftError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CleftError) return e;
    throw e;
  }
  throw new Error('expected a CleftError');
}

function copyDir(src: string, dst: string): string {
  fs.cpSync(src, dst, { recursive: true });
  return dst;
}

async function makeBundle(dir: string) {
  return createBundle(dir, {
    name: 'tiny-cleft',
    textModel: path.join(REF, 'gpt2'),
    imageModel: path.join(REF, 'vit'),
    textAdapter: path.join(REF, 'gpt2/adapter'),
    imageAdapter: path.join(REF, 'vit/adapter'),
    heads: path.join(REF, 'heads.safetensors'),
  });
}

describe('detect and inspect folders (no database)', () => {
  it('tells each kind apart', () => {
    expect(detectModelFolder(path.join(REF, 'gpt2'))).toEqual({ kind: 'hf-text', family: 'gpt2' });
    expect(detectModelFolder(path.join(REF, 'vit'))).toEqual({ kind: 'hf-image', family: 'vit' });
    expect(detectModelFolder(path.join(REF, 'dinov2'))).toEqual({ kind: 'hf-image', family: 'dinov2_with_registers' });
    expect(detectModelFolder(path.join(REF, 'vit/adapter'))).toEqual({ kind: 'peft-adapter', family: null });
    expect(() => detectModelFolder(REF)).toThrow(/not a model folder: no cleft-bundle\.json .*; found cases\.json/);
    expect(() => detectModelFolder(path.join(REF, 'heads.safetensors'))).toThrow(/is a file; models are folders/);
  });

  it('summarises architectures', async () => {
    const t = await inspectModelFolder(path.join(REF, 'gpt2'));
    expect(t.architecture).toMatchObject({
      family: 'gpt2',
      modality: 'text',
      layers: 2,
      hiddenSize: 64,
      attentionHeads: 4,
      mlpSize: 256,
      vocabSize: 1000,
      positions: 64,
      eosTokenId: 50256,
    });
    expect(t.parameters).toBe(1000 * 64 + 64 * 64 + 2 * (4 * 64 + 64 * 192 + 192 + 64 * 64 + 64 + 64 * 256 + 256 + 256 * 64 + 64) + 2 * 64);
    expect(t.dtypes).toEqual(['F32']);
    expect(t.files.map((f) => f.path)).toEqual(['config.json', 'model.safetensors']);
    expect(t.warnings.some((w) => w.includes('no tokenizer files'))).toBe(true);
    const d = await inspectModelFolder(path.join(REF, 'dinov2'));
    expect(d.architecture).toMatchObject({
      family: 'dinov2_with_registers',
      modality: 'image',
      hiddenSize: 48,
      attentionHeads: 3,
      registerTokens: 2,
      patchSize: [14, 14],
      imageSize: [28, 28],
      numPatches: 4,
    });
    const a = await inspectModelFolder(path.join(REF, 'vit/adapter'));
    expect(a.adapter).toMatchObject({ r: 4, alpha: 8, scale: 2, modules: 4, modality: 'image', checkedAgainst: path.join(REF, 'vit') });
    expect(a.problems).toEqual([]);
  });
});

describe('model registry', () => {
  it('imports each kind with a copy, lists and inspects them, deletes the copies', async () => {
    const { db, dataDir } = freshDb();
    const bundleDir = (await makeBundle(path.join(tmpDir(), 'bundle'))).dir;
    const text = await importModel(db, dataDir, path.join(REF, 'gpt2'), { copy: true });
    const image = await importModel(db, dataDir, path.join(REF, 'dinov2'), { copy: true, name: 'tiny dino' });
    const adapter = await importModel(db, dataDir, path.join(REF, 'vit/adapter'), { copy: true, name: 'vit-lora' });
    const bundle = await importModel(db, dataDir, bundleDir, { copy: true });

    expect([text.kind, image.kind, adapter.kind, bundle.kind]).toEqual(['hf-text', 'hf-image', 'peft-adapter', 'bundle']);
    expect(text.name).toBe('gpt2');
    expect(bundle.name).toBe('tiny-cleft');
    expect(text.path).toBe(path.join(dataDir, MODELS_DIR, `${text.sha256.slice(0, 12)}-gpt2`));
    expect(image.path).toBe(path.join(dataDir, MODELS_DIR, `${image.sha256.slice(0, 12)}-tiny-dino`));
    expect(fs.readdirSync(text.path).sort()).toEqual(['config.json', 'model.safetensors']); // not adapter/
    expect(bundle.sha256).toBe(bundleSha256(await openBundle(bundle.path)));
    expect(text.summary.description).toMatch(/gpt2 2 layers, 64-d, 4 heads, vocab 1000, 64 positions; 168\.2k parameters/);
    expect(image.summary.description).toMatch(/28x28 patch 14, 2 registers/);
    expect(adapter.summary.family).toBe('image');
    expect(bundle.summary.description).toMatch(/^bundle: gpt2 2L\/64-d \+ vit 2L\/48-d with text LoRA, image LoRA, proj 32, cls pooling/);
    // What the selectors call it: a LoRA bundle, not a base one.
    expect(bundle.summary.adapters).toEqual(['text', 'image']);
    expect(getModelManifest(db, bundle.id).bundleManifest!.name).toBe('tiny-cleft');
    expect(getModelManifest(db, text.id).files['model.safetensors']!.size).toBe(675320);

    expect(listModels(db).map((m) => m.id)).toEqual([text.id, image.id, adapter.id, bundle.id]);
    expect(listModels(db, { kind: 'hf-image' }).map((m) => m.name)).toEqual(['tiny dino']);

    for (const m of [text, image, adapter, bundle]) {
      const { model, inspection } = await inspectModel(db, m.id);
      expect(model).toEqual(getModel(db, m.id));
      expect(inspection.problems).toEqual([]);
      expect(inspection.sha256).toBe(m.sha256);
    }
    const b = (await inspectModel(db, bundle.id)).inspection.bundle!;
    expect(b.heads).toMatchObject({ projDim: 32, textDim: 64, imageDim: 48 });
    expect(b.text.vocabSize).toBe(1000);
    expect(b.image.patchSize).toEqual([8, 8]);

    for (const m of [text, image, adapter, bundle]) {
      const r = deleteModel(db, dataDir, m.id);
      expect(r.removedFolder).toBe(m.path);
      expect(fs.existsSync(m.path)).toBe(false);
    }
    expect(listModels(db)).toEqual([]);
    expect(fs.readdirSync(path.join(dataDir, MODELS_DIR))).toEqual([]);
    expect(fs.existsSync(path.join(REF, 'gpt2/model.safetensors'))).toBe(true);
    await expect(inspectModel(db, text.id)).rejects.toThrow(/no model with id/);
  });

  it('registers in place without copying, and never deletes a folder it does not own', async () => {
    const { db, dataDir } = freshDb();
    const src = copyDir(path.join(REF, 'vit'), path.join(tmpDir(), 'my-vit'));
    const rec = await importModel(db, dataDir, src, { copy: false });
    expect(rec.path).toBe(src);
    expect(rec.copied).toBe(false);
    expect(fs.existsSync(path.join(dataDir, MODELS_DIR))).toBe(false);
    expect(deleteModel(db, dataDir, rec.id)).toEqual({ deleted: rec.id, removedFolder: null });
    expect(fs.existsSync(path.join(src, 'model.safetensors'))).toBe(true);
  });

  it('reports files changed or removed since the import', async () => {
    const { db, dataDir } = freshDb();
    const rec = await importModel(db, dataDir, path.join(REF, 'vit'), { copy: true });
    const f = path.join(rec.path, 'model.safetensors');
    const buf = fs.readFileSync(f);
    buf[buf.length - 100] = buf[buf.length - 100]! ^ 0xff; // in the data, not the header
    fs.writeFileSync(f, buf);
    let i: ModelInspection = (await inspectModel(db, rec.id)).inspection;
    expect(i.problems).toEqual([
      expect.stringMatching(new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: sha256 changed since the import`)),
    ]);
    expect((await inspectModel(db, rec.id, { hash: false })).inspection.problems).toEqual([]);
    fs.rmSync(path.join(rec.path, 'config.json'));
    i = (await inspectModel(db, rec.id)).inspection;
    expect(i.problems.join('\n')).toMatch(/not a model folder/);
    fs.rmSync(rec.path, { recursive: true });
    i = (await inspectModel(db, rec.id)).inspection;
    expect(i.problems).toEqual([`${rec.path}: the model folder is gone`]);
  });

  it('refuses folders that are nothing it knows, or broken, naming file, tensor and problem', async () => {
    const { db, dataDir } = freshDb();
    let e = await cleftErrorOf(importModel(db, dataDir, REF, { copy: true }));
    expect(e.code).toBe('invalid_input');
    expect(e.message).toMatch(/cannot import .*reference-a: .*not a model folder: no cleft-bundle\.json \(CLEFT bundle\), config\.json/);

    const llama = tmpDir();
    fs.writeFileSync(path.join(llama, 'config.json'), JSON.stringify({ model_type: 'llama' }));
    e = await cleftErrorOf(importModel(db, dataDir, llama, { copy: true }));
    expect(e.message).toMatch(/config\.json: unsupported model_type "llama"/);

    const bad = copyDir(path.join(REF, 'vit'), path.join(tmpDir(), 'bad-vit'));
    const cfg = JSON.parse(fs.readFileSync(path.join(bad, 'config.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(bad, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 100 }));
    e = await cleftErrorOf(importModel(db, dataDir, bad, { copy: true }));
    expect(e.message).toMatch(
      /config\.json: "intermediate_size" is 100 but the weights say 96: encoder\.layer\.0\.intermediate\.dense\.weight in model\.safetensors has shape \[96, 48\]/,
    );

    const badAdapter = tmpDir();
    e = await cleftErrorOf(importModel(db, dataDir, path.join(REF, 'gpt2/adapter'), { copy: true, adapterBase: path.join(REF, 'vit') }));
    expect(e.message).toMatch(/targets "h\.0\.attn\.c_attn", which is not a weight of the base vit model/);
    fs.writeFileSync(path.join(badAdapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'PREFIX_TUNING' }));
    fs.copyFileSync(path.join(REF, 'vit/adapter/adapter_model.safetensors'), path.join(badAdapter, 'adapter_model.safetensors'));
    e = await cleftErrorOf(importModel(db, dataDir, badAdapter, { copy: true }));
    expect(e.message).toMatch(/unsupported peft_type "PREFIX_TUNING"/);

    const bundleDir = (await makeBundle(path.join(tmpDir(), 'b'))).dir;
    fs.rmSync(path.join(bundleDir, 'text-adapter/adapter_config.json'));
    e = await cleftErrorOf(importModel(db, dataDir, bundleDir, { copy: true }));
    expect(e.message).toMatch(/text-adapter\/adapter_config\.json: missing \(listed in cleft-bundle\.json\)/);

    expect(listModels(db)).toEqual([]);
    expect(fs.existsSync(path.join(dataDir, MODELS_DIR)) ? fs.readdirSync(path.join(dataDir, MODELS_DIR)) : []).toEqual([]);
  });

  it('refuses duplicates and taken names', async () => {
    const { db, dataDir } = freshDb();
    const first = await importModel(db, dataDir, path.join(REF, 'gpt2'), { copy: true });
    let e = await cleftErrorOf(importModel(db, dataDir, path.join(REF, 'gpt2'), { copy: false, name: 'again' }));
    expect(e.code).toBe('conflict');
    expect(e.message).toMatch(new RegExp(`already registered as #${first.id} "gpt2"`));
    e = await cleftErrorOf(importModel(db, dataDir, path.join(REF, 'vit'), { copy: true, name: 'gpt2' }));
    expect(e.message).toMatch(/a model named "gpt2" already exists/);
  });

  it('records a bundle change (prompt set added) with its new identity', async () => {
    const { db, dataDir } = freshDb();
    const rec = await importModel(db, dataDir, (await makeBundle(path.join(tmpDir(), 'b'))).dir, { copy: true });
    const b = await openBundle(rec.path);
    const b2 = await addPromptSet(
      b,
      'density',
      { data: new Float32Array(3 * 64), shape: [3, 64] },
      { task: 'Breast density', classNames: ['A', 'B'], nCtx: 3 },
    );
    const updated = await refreshBundleRecord(db, rec.id);
    expect(updated.sha256).toBe(b2.sha256);
    expect(updated.sha256).not.toBe(rec.sha256);
    expect(updated.summary.description).toMatch(/1 prompt set\(s\)/);
    expect((await inspectModel(db, rec.id)).inspection.problems).toEqual([]);
  });
});

describe('bundle preprocessing and export', () => {
  it('records complete pipeline specs whose hash is the pipeline hash', async () => {
    const fromPreset = bundlePreprocessing({ preset: 'voi', imageModelDir: path.join(REF, 'vit') })!;
    expect(fromPreset).toMatchObject({ intensity: 'voi', size: 32, padLongSide: 256 });
    const b = await createBundle(path.join(tmpDir(), 'pp'), {
      textModel: path.join(REF, 'gpt2'),
      imageModel: path.join(REF, 'vit'),
      heads: path.join(REF, 'heads.safetensors'),
      preprocessing: fromPreset,
    });
    expect(b.preprocessing!.sha256).toBe(specHash({ ...PRESETS.voi, size: 32 }));
    expect(bundlePreprocessing({ preset: 'none', imageModelDir: path.join(REF, 'vit') })).toBeNull();
    expect(bundlePreprocessing({ spec: { version: 1, intensity: 'scale_max', size: 518 } })).toMatchObject({ size: 518, padLongSide: 256 });
    expect(() => bundlePreprocessing({ spec: { version: 2 } })).toThrow(/not a preprocessing spec: version/);
  });

  it('creates a bundle and registers it in place; format problems are invalid_input', async () => {
    const { db, dataDir } = freshDb();
    const out = path.join(tmpDir(), 'made');
    const parts = { textModel: path.join(REF, 'gpt2'), imageModel: path.join(REF, 'dinov2'), heads: path.join(REF, 'heads.safetensors') };
    const r = await createModelBundle(db, dataDir, { ...parts, output: out, name: 'made here', imagePooling: 'prenorm-mean' });
    expect(r.model).toMatchObject({ name: 'made here', kind: 'bundle', path: out, copied: false, sha256: r.sha256 });
    expect((await openBundle(out)).preprocessing!.sha256).toBe(specHash({ ...PRESETS.cleft, size: 28 }));
    const e = await cleftErrorOf(
      createModelBundle(db, dataDir, { ...parts, output: path.join(tmpDir(), 'x'), textAdapter: path.join(REF, 'vit/adapter') }),
    );
    expect(e.code).toBe('invalid_input');
    expect(e.message).toMatch(
      /vit\/adapter\/adapter_model\.safetensors: tensor ".*": targets "encoder\.layer\.0\.attention\.attention\.query", which is not a weight of the base gpt2 model/,
    );
  });

  it('exports a registered bundle, and only bundles', async () => {
    const { db, dataDir } = freshDb();
    const rec = await importModel(db, dataDir, (await makeBundle(path.join(tmpDir(), 'b'))).dir, { copy: true });
    const out = await exportModelBundle(db, rec.id, path.join(tmpDir(), 'exported'));
    expect(out.sha256).toBe(rec.sha256);
    const vit = await importModel(db, dataDir, path.join(REF, 'vit'), { copy: false });
    await expect(exportModelBundle(db, vit.id, path.join(tmpDir(), 'x'))).rejects.toThrow(/only bundles export whole/);
  });
});

describe('cleft models / cleft bundle (CLI)', () => {
  const run = (...args: string[]) => cliOutcome(args, { dataDir: '' });

  it('inspects a folder without a database', () => {
    const r = run('models', 'inspect', 'test/fixtures/reference-a/vit', '--json');
    expect(r.stderr).not.toMatch(/cleft:/);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as ModelInspection;
    expect(j.kind).toBe('hf-image');
    expect(j.architecture).toMatchObject({
      family: 'vit',
      layers: 2,
      hiddenSize: 48,
      patchSize: [8, 8],
      imageSize: [32, 32],
      registerTokens: 0,
    });
    expect(j.files.map((f) => f.path)).toEqual(['config.json', 'model.safetensors']);
    expect(j.sha256).toMatch(/^[0-9a-f]{64}$/);
    const bad = run('models', 'inspect', 'test/fixtures/reference-a');
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/problem: .*not a model folder/);
  });

  it('creates and verifies a bundle, imports, lists and deletes', () => {
    const dataDir = tmpDir();
    const out = path.join(tmpDir(), 'cli-bundle');
    const c = run(
      'bundle',
      'create',
      '--text-model',
      'test/fixtures/reference-a/gpt2',
      '--image-model',
      'test/fixtures/reference-a/dinov2',
      '--image-adapter',
      'test/fixtures/reference-a/gpt2/adapter',
      '--heads',
      'test/fixtures/reference-a/heads.safetensors',
      '--output',
      out,
    );
    expect(c.status).toBe(1);
    expect(c.stderr).toMatch(
      /gpt2\/adapter\/adapter_model\.safetensors: tensor ".*": targets "h\.0\.attn\.c_attn", which is not a weight of the base dinov2_with_registers model/,
    );
    expect(fs.existsSync(out)).toBe(false);
    const ok = run(
      'bundle',
      'create',
      '--text-model',
      'test/fixtures/reference-a/gpt2',
      '--image-model',
      'test/fixtures/reference-a/dinov2',
      '--text-adapter',
      'test/fixtures/reference-a/gpt2/adapter',
      '--heads',
      'test/fixtures/reference-a/heads.safetensors',
      '--pool',
      'prenorm-mean',
      '--output',
      out,
      '--json',
    );
    expect(ok.stderr).not.toMatch(/cleft:/);
    expect(ok.status).toBe(0);
    const created = JSON.parse(ok.stdout) as { sha256: string; summary: { imagePooling: string; preprocessing: { sha256: string } } };
    expect(created.summary.imagePooling).toBe('prenorm-mean');
    // the recorded preprocessing is the pipeline's cleft preset at the model's size: same hash as the pipeline computes
    expect(created.summary.preprocessing.sha256).toBe(specHash({ ...PRESETS.cleft, size: 28 }));

    const v = run('bundle', 'verify', out, '--json');
    expect(v.status).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, sha256: created.sha256, verified: 'full' });

    const imp = run('models', 'import', out, '--name', 'cli bundle', '--data-dir', dataDir, '--json');
    expect(imp.stderr).not.toMatch(/cleft:/);
    const rec = JSON.parse(imp.stdout) as { id: number; sha256: string; path: string };
    expect(rec.sha256).toBe(created.sha256);
    expect(rec.path.startsWith(path.join(dataDir, 'models'))).toBe(true);
    const imp2 = run('models', 'import', 'test/fixtures/reference-a/gpt2', '--no-copy', '--data-dir', dataDir);
    expect(imp2.stdout).toMatch(/#2 gpt2 \(hf-text\)/);

    const list = JSON.parse(run('models', 'list', '--json', '--data-dir', dataDir).stdout) as { name: string; copied: boolean }[];
    expect(list.map((m) => [m.name, m.copied])).toEqual([
      ['cli bundle', true],
      ['gpt2', false],
    ]);
    const ins = run('models', 'inspect', String(rec.id), '--data-dir', dataDir);
    expect(ins.status).toBe(0);
    expect(ins.stdout).toMatch(/#1 cli bundle \(bundle, copy in the library\)/);
    expect(ins.stdout).toMatch(/pooling: image prenorm-mean, text eos/);

    fs.appendFileSync(path.join(out, 'heads.safetensors'), 'x');
    const bad = run('bundle', 'verify', out);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/heads\.safetensors: size \d+ bytes, the manifest says \d+/);

    const del = run('models', 'delete', String(rec.id), '--data-dir', dataDir);
    expect(del.stdout).toMatch(/deleted #1, removed /);
    expect(fs.existsSync(rec.path)).toBe(false);
  });
});
