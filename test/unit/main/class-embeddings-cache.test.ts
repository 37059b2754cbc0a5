// Class text embeddings cached in the library (class_embeddings, src/main/features/class-embeddings.ts)
// on real tiny bundles and a real SQLite library: the text encoder's real session runs are counted
// by an engine that passes every call on to ONNX Runtime in this thread. A second request with the
// same model and prompts runs no text encoder and returns the same bits; any change of model,
// adapter, prompt text, learned context or class texts runs it again; a corrupt row is recomputed
// with a warning; rows go with their model.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_FILE_NAME, openDatabase, type Db } from '../../../src/main/db/database';
import { ClassEmbeddingsRepo } from '../../../src/main/db/class-embeddings-repo';
import { cachedClassEmbeddings, promptsRef } from '../../../src/main/features/class-embeddings';
import { deleteModel, importModel } from '../../../src/main/models/registry';
import { addPromptSet, createBundle, openBundle, type CleftBundle } from '../../../src/native/bundle/index';
import { defaultTokenizerDir } from '../../../src/native/cleft/demo';
import { builtinTask, classNamesForPromptLearning, type TaskSpec } from '../../../src/native/cleft/tasks';
import { QUICK_SIZES, writeTinyModels } from '../../../src/native/cleft/tiny-models';
import { taskClassEmbeddings } from '../../../src/native/cleft/zero-shot';
import { createPeftAdapter, writePeftAdapter } from '../../../src/native/formats/peft';
import { inProcessEngine, type EmbedEngine } from '../../../src/native/models/embed';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

afterAll(removeTmpDirs);

/** The real in-thread engine, counting the session runs of text encoders (token ids in the feeds). */
async function countingEngine(): Promise<{ engine: EmbedEngine; textRuns: () => number }> {
  const inner = await inProcessEngine();
  let text = 0;
  return {
    textRuns: () => text,
    engine: {
      resolveProvider: (choice) => inner.resolveProvider(choice),
      createSession: (source, options) => inner.createSession(source, options),
      run: (key, feeds) => {
        if ('input_ids' in feeds || 'class_ids' in feeds) text++;
        return inner.run(key, feeds);
      },
    },
  };
}

const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** A GPT-2 LoRA adapter on the tiny text model's attention (c_attn: 32 -> 96), seeded. */
function writeTextAdapter(dir: string, seed: number): string {
  const r = 2;
  const val = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => 0.05 * Math.sin(seed * 7.1 + k * 3.3 + i * 0.37));
  const adapter = createPeftAdapter({ r, loraAlpha: 4, targetModules: ['c_attn'], fanInFanOut: true }, [
    {
      module: 'h.0.attn.c_attn',
      A: { dtype: 'F32', shape: [r, 32], data: val(r * 32, 1) },
      B: { dtype: 'F32', shape: [96, r], data: val(96 * r, 2) },
    },
  ]);
  writePeftAdapter(dir, adapter);
  return dir;
}

describe('class embedding cache', () => {
  let dataDir: string;
  let db: Db;
  let parts: ReturnType<typeof writeTinyModels>;
  let bundle: CleftBundle;
  let modelId: number;
  let counter: Awaited<ReturnType<typeof countingEngine>>;
  const warnings: string[] = [];
  const task = builtinTask('Breast density')!;
  const engine = () => ({
    cacheDir: path.join(dataDir, 'cache', 'onnx'),
    engine: counter.engine,
    onWarning: (m: string) => warnings.push(m),
  });

  const makeBundle = async (name: string, extra: { textModel?: string; textAdapter?: string } = {}) =>
    createBundle(path.join(tmpDir(), name), {
      textModel: extra.textModel ?? parts.text,
      imageModel: parts.image,
      heads: parts.heads,
      tokenizer: defaultTokenizerDir(),
      ...(extra.textAdapter ? { textAdapter: extra.textAdapter } : {}),
    });

  beforeAll(async () => {
    dataDir = tmpDir('cleft-lib-');
    db = openDatabase(path.join(dataDir, DB_FILE_NAME));
    parts = writeTinyModels(tmpDir(), QUICK_SIZES, 5);
    bundle = await makeBundle('bundle');
    modelId = (await importModel(db, dataDir, bundle.dir, { copy: false, name: 'tiny' })).id;
    counter = await countingEngine();
  }, 120_000);
  afterAll(() => db.close());

  it('a second request runs no text encoder and returns the same bits as a fresh computation', { timeout: 120_000 }, async () => {
    const before = counter.textRuns();
    const first = await cachedClassEmbeddings(db, modelId, bundle, task, null, engine());
    expect(first.source).toBe('computed');
    expect(counter.textRuns()).toBeGreaterThan(before);
    expect(first.classNames).toEqual(['A', 'B', 'C', 'D']);

    const afterFirst = counter.textRuns();
    const again = await cachedClassEmbeddings(db, modelId, bundle, task, null, engine());
    expect(again.source).toBe('cache');
    expect(counter.textRuns()).toBe(afterFirst); // the text encoder did not run at all
    expect(again.keySha256).toBe(first.keySha256);
    expect(again.classNames).toEqual(first.classNames);
    expect(bytes(again.embeddings).equals(bytes(first.embeddings))).toBe(true);

    // bit-identical to what the text encoder gives now, computed outside the cache
    const fresh = await taskClassEmbeddings(bundle, task, engine());
    expect(bytes(again.embeddings).equals(bytes(fresh))).toBe(true);
    expect(new ClassEmbeddingsRepo(db).countOfModel(modelId)).toBe(1);
  });

  it('a changed prompt text is encoded again', { timeout: 120_000 }, async () => {
    await cachedClassEmbeddings(db, modelId, bundle, task, null, engine());
    const edited: TaskSpec = {
      ...task,
      classes: task.classes.map((c, i) => (i === 2 ? { ...c, prompts: [...c.prompts.slice(0, -1), `${c.prompts.at(-1)!} (edited)`] } : c)),
    };
    const n = counter.textRuns();
    const r = await cachedClassEmbeddings(db, modelId, bundle, edited, null, engine());
    expect(r.source).toBe('computed');
    expect(counter.textRuns()).toBeGreaterThan(n);
    // the edited prompts replaced the row of this task's templates: the original is encoded again too
    expect(new ClassEmbeddingsRepo(db).countOfModel(modelId)).toBe(1);
    expect((await cachedClassEmbeddings(db, modelId, bundle, edited, null, engine())).source).toBe('cache');
    expect((await cachedClassEmbeddings(db, modelId, bundle, task, null, engine())).source).toBe('computed');
  });

  it('a changed model (other text weights in the registered folder) is encoded again', { timeout: 120_000 }, async () => {
    await cachedClassEmbeddings(db, modelId, bundle, task, null, engine());
    const otherText = writeTinyModels(tmpDir(), QUICK_SIZES, 6).text;
    const changed = await makeBundle('other-text', { textModel: otherText });
    const n = counter.textRuns();
    const r = await cachedClassEmbeddings(db, modelId, changed, task, null, engine());
    expect(r.source).toBe('computed');
    expect(counter.textRuns()).toBeGreaterThan(n);
    const first = await cachedClassEmbeddings(db, modelId, changed, task, null, engine());
    expect(first.source).toBe('cache');
    expect(bytes(first.embeddings).equals(bytes(r.embeddings))).toBe(true);
  });

  it('other heads (the text projection) are computed again', { timeout: 120_000 }, async () => {
    await cachedClassEmbeddings(db, modelId, bundle, task, null, engine());
    const otherHeads = await createBundle(path.join(tmpDir(), 'other-heads'), {
      textModel: parts.text,
      imageModel: parts.image,
      heads: writeTinyModels(tmpDir(), QUICK_SIZES, 6).heads,
      tokenizer: defaultTokenizerDir(),
    });
    const n = counter.textRuns();
    expect((await cachedClassEmbeddings(db, modelId, otherHeads, task, null, engine())).source).toBe('computed');
    expect(counter.textRuns()).toBeGreaterThan(n);
  });

  it('an added or changed text adapter is encoded again', { timeout: 120_000 }, async () => {
    const withA = await makeBundle('adapter-1', { textAdapter: writeTextAdapter(path.join(tmpDir(), 'a1'), 1) });
    const withB = await makeBundle('adapter-2', { textAdapter: writeTextAdapter(path.join(tmpDir(), 'a2'), 2) });
    const id = (await importModel(db, dataDir, withA.dir, { copy: false, name: 'with adapter' })).id;
    await cachedClassEmbeddings(db, id, bundle, task, null, engine()); // no adapter
    for (const b of [withA, withB]) {
      const n = counter.textRuns();
      expect((await cachedClassEmbeddings(db, id, b, task, null, engine())).source).toBe('computed');
      expect(counter.textRuns()).toBeGreaterThan(n);
      const m = counter.textRuns();
      expect((await cachedClassEmbeddings(db, id, b, task, null, engine())).source).toBe('cache');
      expect(counter.textRuns()).toBe(m);
    }
  });

  it('a learned prompt set: cached; its context bytes or class texts changed are encoded again', { timeout: 120_000 }, async () => {
    const dim = bundle.text.config.nEmbd;
    const phrases = classNamesForPromptLearning(task);
    const save = (b: CleftBundle, fill: number, classTexts?: string[]) =>
      addPromptSet(
        b,
        'learned',
        { data: Float32Array.from({ length: 3 * dim }, (_, i) => fill * Math.cos(i)), shape: [3, dim] },
        { task: task.name, classNames: task.classes.map((c) => c.name), nCtx: 3, initPhrase: null, ...(classTexts ? { classTexts } : {}) },
        { replace: true },
      );
    await cachedClassEmbeddings(db, modelId, bundle, task, null, engine()); // the templates' row, before the set exists
    let b = await save(await openBundle(bundle.dir), 0.01, phrases);
    const first = await cachedClassEmbeddings(db, modelId, b, task, 'learned', engine());
    expect(first).toMatchObject({ source: 'computed', classNames: ['A', 'B', 'C', 'D'] });
    let n = counter.textRuns();
    const again = await cachedClassEmbeddings(db, modelId, b, task, 'learned', engine());
    expect(again.source).toBe('cache');
    expect(counter.textRuns()).toBe(n);
    expect(bytes(again.embeddings).equals(bytes(first.embeddings))).toBe(true);
    // the templates' row of the same model is another row, and adding the prompt set kept it valid
    expect((await cachedClassEmbeddings(db, modelId, b, task, null, engine())).source).toBe('cache');

    b = await save(b, 0.02, phrases); // new context vectors, same texts
    n = counter.textRuns();
    expect((await cachedClassEmbeddings(db, modelId, b, task, 'learned', engine())).source).toBe('computed');
    expect(counter.textRuns()).toBeGreaterThan(n);

    b = await save(
      b,
      0.02,
      phrases.map((p) => `${p} x`),
    ); // same context, other class texts
    n = counter.textRuns();
    expect((await cachedClassEmbeddings(db, modelId, b, task, 'learned', engine())).source).toBe('computed');
    expect(counter.textRuns()).toBeGreaterThan(n);
  });

  it('a corrupt row is ignored with a warning naming the bundle and prompt set, and recomputed', { timeout: 120_000 }, async () => {
    const good = await cachedClassEmbeddings(db, modelId, bundle, task, null, engine());
    db.prepare(`UPDATE class_embeddings SET matrix = ? WHERE model_ref = ? AND prompts_ref = ?`).run(
      Buffer.alloc(10),
      modelId,
      promptsRef(task, null),
    );
    warnings.length = 0;
    const n = counter.textRuns();
    const r = await cachedClassEmbeddings(db, modelId, bundle, task, null, engine());
    expect(r.source).toBe('computed');
    expect(counter.textRuns()).toBeGreaterThan(n);
    expect(bytes(r.embeddings).equals(bytes(good.embeddings))).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`bundle "${bundle.manifest.name}"`);
    expect(warnings[0]).toContain('the prompt templates of task "Breast density"');
    expect(warnings[0]).toMatch(/has 10 bytes/);
    // repaired: the next request reads it
    expect((await cachedClassEmbeddings(db, modelId, bundle, task, null, engine())).source).toBe('cache');
    expect(warnings).toHaveLength(1);
  });

  it('rows of a model removed from the library are deleted with it', { timeout: 120_000 }, async () => {
    const other = await makeBundle('removed', { textModel: writeTinyModels(tmpDir(), QUICK_SIZES, 8).text });
    const id = (await importModel(db, dataDir, other.dir, { copy: false, name: 'to remove' })).id;
    await cachedClassEmbeddings(db, id, other, task, null, engine());
    const repo = new ClassEmbeddingsRepo(db);
    expect(repo.countOfModel(id)).toBe(1);
    deleteModel(db, dataDir, id);
    expect(repo.countOfModel(id)).toBe(0);
    expect(repo.countOfModel(modelId)).toBeGreaterThan(0); // other models' rows stay
    expect(fs.existsSync(other.dir)).toBe(true); // registered in place: the folder stays
  });
});
