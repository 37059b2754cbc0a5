// The weight precision in the library's caches: int8 class embeddings and image features are keyed
// (and stored) apart from float32 ones, so an int8 result never answers a float32 request nor the
// reverse; float32 keys are those they always were. Real tiny bundle, real SQLite, real ORT.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_FILE_NAME, openDatabase, type Db } from '../../../src/main/db/database';
import { ClassEmbeddingsRepo } from '../../../src/main/db/class-embeddings-repo';
import { cachedClassEmbeddings, promptsRef } from '../../../src/main/features/class-embeddings';
import { importModel } from '../../../src/main/models/registry';
import { createBundle, embeddingIdentity, type CleftBundle } from '../../../src/native/bundle/index';
import { defaultTokenizerDir } from '../../../src/native/cleft/demo';
import { builtinTask } from '../../../src/native/cleft/tasks';
import { QUICK_SIZES, writeTinyModels } from '../../../src/native/cleft/tiny-models';
import { classEmbeddingKey, imageFeatureKey, precisionIdentity } from '../../../src/native/cleft/zero-shot';
import { inProcessEngine, type EmbedEngine } from '../../../src/native/models/embed';
import { chosenWeights } from '../../../src/common/precision';
import { DEFAULT_SETTINGS } from '../../../src/main/db/settings-repo';
import { Settings } from '../../../src/common/contract';
import { ClassifyParams, PromptLearnParams } from '../../../src/common/jobs';
import { RunRecord } from '../../../src/common/runs';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

afterAll(removeTmpDirs);

describe('weight precision: choice and records', () => {
  it('a job param wins over Settings, Settings over the float32 default; Settings, params and run records carry it', () => {
    expect(chosenWeights(undefined, undefined)).toBe('float32');
    expect(chosenWeights(undefined, 'int8')).toBe('int8');
    expect(chosenWeights('float32', 'int8')).toBe('float32');
    expect(chosenWeights('int8', 'float32')).toBe('int8');
    expect(DEFAULT_SETTINGS.weights).toBe('float32');
    expect(Settings.safeParse({ ...DEFAULT_SETTINGS, weights: 'int4' }).success).toBe(false);
    expect(ClassifyParams.parse({ modelId: 1, taskId: 1, studyIds: [1], weights: 'int8' }).weights).toBe('int8');
    expect(PromptLearnParams.shape.weights.safeParse('int8').success).toBe(true);
    const rec = {
      modelSha256: null,
      promptSetSha256: null,
      preprocessSha256: null,
      selectionSha256: null,
      executionProvider: 'cpu',
      appVersion: 't',
    };
    expect(RunRecord.parse({ ...rec, weights: 'int8' }).weights).toBe('int8');
    expect(RunRecord.parse(rec).weights).toBeUndefined(); // older runs: float32
  });
});

describe('int8 results are cached apart from float32 ones', () => {
  let dataDir: string;
  let db: Db;
  let bundle: CleftBundle;
  let modelId: number;
  let textRuns = 0;
  let engine: EmbedEngine;
  const task = builtinTask('Breast density')!;
  const eng = (weights?: 'float32' | 'int8') => ({
    cacheDir: path.join(dataDir, 'cache', 'onnx'),
    engine,
    onWarning: () => {},
    ...(weights ? { weights } : {}),
  });

  beforeAll(async () => {
    dataDir = tmpDir('cleft-int8-');
    db = openDatabase(path.join(dataDir, DB_FILE_NAME));
    const parts = writeTinyModels(tmpDir(), QUICK_SIZES, 5);
    bundle = await createBundle(path.join(tmpDir(), 'bundle'), {
      textModel: parts.text,
      imageModel: parts.image,
      heads: parts.heads,
      tokenizer: defaultTokenizerDir(),
    });
    modelId = (await importModel(db, dataDir, bundle.dir, { copy: false, name: 'tiny' })).id;
    const inner = await inProcessEngine();
    engine = {
      resolveProvider: (c) => inner.resolveProvider(c),
      createSession: (s, o) => inner.createSession(s, o),
      run: (key, feeds) => {
        if ('input_ids' in feeds) textRuns++;
        return inner.run(key, feeds);
      },
    };
  }, 120_000);
  afterAll(() => db.close());

  it('keys: float32 keeps its key, int8 gets another for class embeddings and image features', () => {
    const f = classEmbeddingKey(bundle, task, null);
    expect(classEmbeddingKey(bundle, task, null, 'float32')).toBe(f);
    expect(classEmbeddingKey(bundle, task, null, 'int8')).not.toBe(f);
    const id = embeddingIdentity(bundle).image;
    expect(precisionIdentity(id, 'float32')).toBe(id);
    expect(precisionIdentity(id, 'int8')).not.toBe(id);
    expect(imageFeatureKey(bundle, 'x', 'p', 'int8')).not.toBe(imageFeatureKey(bundle, 'x', 'p'));
    expect(promptsRef(task, null, 'int8')).toBe(`${promptsRef(task, null)}@int8`);
  });

  it('an int8 request after a float32 one encodes again, each then answers from its own row', { timeout: 120_000 }, async () => {
    const f32 = await cachedClassEmbeddings(db, modelId, bundle, task, null, eng());
    expect(f32.source).toBe('computed');
    const n = textRuns;
    const q8 = await cachedClassEmbeddings(db, modelId, bundle, task, null, eng('int8'));
    expect(q8.source).toBe('computed'); // the float32 row did not answer
    expect(textRuns).toBeGreaterThan(n);
    expect(q8.keySha256).not.toBe(f32.keySha256);
    expect(Buffer.from(q8.embeddings.buffer).equals(Buffer.from(f32.embeddings.buffer))).toBe(false);
    expect(new ClassEmbeddingsRepo(db).countOfModel(modelId)).toBe(2);
    const m = textRuns;
    const f32b = await cachedClassEmbeddings(db, modelId, bundle, task, null, eng('float32'));
    const q8b = await cachedClassEmbeddings(db, modelId, bundle, task, null, eng('int8'));
    expect([f32b.source, q8b.source]).toEqual(['cache', 'cache']);
    expect(textRuns).toBe(m);
    expect(Buffer.from(f32b.embeddings.buffer).equals(Buffer.from(f32.embeddings.buffer))).toBe(true);
    expect(Buffer.from(q8b.embeddings.buffer).equals(Buffer.from(q8.embeddings.buffer))).toBe(true);
  });
});
