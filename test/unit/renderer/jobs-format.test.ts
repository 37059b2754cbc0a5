// How jobs and numbers read in the UI.
import { describe, expect, it } from 'vitest';
import type { Job } from '../../../src/common/jobs';
import { formatBytes, formatDuration, formatEta, formatPercent } from '../../../src/renderer/src/lib/format';
import {
  canCancel,
  canResume,
  classEmbeddingsText,
  describeJob,
  fillsLibraryAsItRuns,
  isActive,
  runClassEmbeddingsText,
} from '../../../src/renderer/src/lib/jobs';
import { modelLabel } from '../../../src/renderer/src/lib/model-label';

const base: Job = {
  id: 1,
  kind: 'hash-folder',
  status: 'done',
  params: { folder: '/data/site-a' },
  progress: { fraction: 1, message: 'Done', etaSeconds: null },
  result: { folder: '/data/site-a', files: 1234, bytes: 5 * 1024 ** 3, digest: 'ab'.repeat(32), manifestPath: '/d/jobs/1/manifest.txt' },
  error: null,
  checkpointPath: null,
  revision: 3,
  createdAt: '2025-01-01T00:00:00.000Z',
  startedAt: '2025-01-01T00:00:00.000Z',
  finishedAt: '2025-01-01T00:00:02.000Z',
};

describe('describeJob', () => {
  it('describes a finished hash-folder job with its result', () => {
    expect(describeJob(base)).toEqual({
      title: 'Verify folder',
      subject: '/data/site-a',
      facts: [
        { label: 'Files', value: '1,234 files · 5.0 GB' },
        { label: 'SHA-256', value: 'ab'.repeat(32), mono: true },
        { label: 'Manifest', value: '/d/jobs/1/manifest.txt', mono: true },
      ],
    });
  });

  it('describes an import with what was and was not taken', () => {
    const imp: Job = {
      ...base,
      kind: 'import',
      params: { paths: ['/data/a', '/data/b'] },
      result: {
        scanned: 20,
        imported: 12,
        updated: 1,
        unchanged: 0,
        duplicates: 2,
        refused: 1,
        skipped: 4,
        studies: 3,
        seconds: 1.234,
        filesPerSecond: 10,
      },
    };
    expect(describeJob(imp)).toEqual({
      title: 'Import DICOM',
      subject: '/data/a and 1 more',
      facts: [
        { label: 'Studies', value: '3 studies · 12 new images' },
        { label: 'Also', value: '1 updated · 2 duplicates' },
        { label: 'Not imported', value: '1 refused · 4 skipped' },
        { label: 'Scanned', value: '20 files in 1.2 s' },
      ],
    });
  });

  it("names an import's duplicate SOP instances: the file kept and the files skipped", () => {
    const result = {
      scanned: 3,
      imported: 1,
      updated: 0,
      unchanged: 0,
      duplicates: 2,
      refused: 0,
      skipped: 2,
      studies: 1,
      duplicateFiles: [{ kept: '/data/a/IM1', skipped: ['/data/b/IM1', '/data/c/IM1'] }],
      seconds: 0.5,
      filesPerSecond: 6,
    };
    const facts = describeJob({ ...base, kind: 'import', params: { paths: ['/data'] }, result }).facts;
    expect(facts).toContainEqual({ label: 'Duplicate', value: 'kept /data/a/IM1; skipped /data/b/IM1, /data/c/IM1', mono: true });
  });

  it('says what each "where the model looks" job mapped: study, images, task, model, prompts, classes', () => {
    const params = { modelId: 2, taskId: 1, instanceIds: [17, 18, 19, 20], promptSet: 'density-demo' };
    const running: Job = { ...base, kind: 'explain', status: 'running', params, result: null };
    expect(describeJob(running)).toEqual({ title: 'Where the model looks', subject: 'Patch maps of 4 images', facts: [] });
    const result = {
      study: 'P1 · A1',
      task: 'Breast density',
      model: 'CLEFT demo',
      promptSet: 'density-demo',
      classNames: ['A', 'B', 'C', 'D'],
    };
    expect(describeJob({ ...running, status: 'done', result } as unknown as Job)).toEqual({
      title: 'Where the model looks',
      subject: 'Patch maps of P1 · A1 (4 images)',
      facts: [
        { label: 'Task', value: 'Breast density' },
        { label: 'Model', value: 'CLEFT demo' },
        { label: 'Prompts', value: 'learned “density-demo”' },
        { label: 'Classes', value: 'A, B, C, D' },
      ],
    });
  });

  it("says whether a classification's prompt embeddings came from the cache or were computed (job and run)", () => {
    const result = {
      runId: 7,
      model: 'tiny',
      modelId: 2,
      promptSet: null,
      studies: 3,
      images: 12,
      skipped: [],
      featureCacheHits: 12,
      executionProvider: 'cpu',
      seconds: 1.5,
    };
    const classify = (classEmbeddings: unknown): Job =>
      ({
        ...base,
        kind: 'classify',
        params: { modelId: 2, taskId: 1, studyIds: [1, 2, 3], promptSet: null, adaptor: null },
        result: { ...result, classEmbeddings },
      }) as Job;
    expect(describeJob(classify('cache')).facts).toEqual([
      { label: 'Classified', value: '3 studies · 12 images' },
      { label: 'Device', value: 'cpu' },
      { label: 'Prompts', value: 'task templates' },
      { label: 'Prompt embeddings', value: 'from the cache (text encoder not run)' },
      { label: 'Run', value: '#7' },
    ]);
    expect(describeJob(classify('computed')).facts).toContainEqual({ label: 'Prompt embeddings', value: 'computed by the text encoder' });
    // An adaptor (no text side, null) and results of older versions (absent) say nothing.
    for (const v of [null, undefined, 'odd']) expect(describeJob(classify(v)).facts.map((f) => f.label)).not.toContain('Prompt embeddings');

    expect(runClassEmbeddingsText({ task: 'Breast density', classEmbeddings: { source: 'cache', keySha256: 'ab'.repeat(32) } })).toBe(
      classEmbeddingsText('cache'),
    );
    expect(runClassEmbeddingsText({ classEmbeddings: { source: 'computed', keySha256: 'cd'.repeat(32) } })).toBe(
      'computed by the text encoder',
    );
    expect(runClassEmbeddingsText({ classEmbeddings: null })).toBeNull(); // an adaptor run
    expect(runClassEmbeddingsText({ mergedShards: 'ef'.repeat(32) })).toBeNull(); // merged shards, older runs
  });

  it('names bundles in full after what they are, base or LoRA', () => {
    const summary = { family: 'gpt2 + vit', description: '', parameters: 1, byteSize: 1, dtypes: ['F32'] };
    expect(modelLabel({ name: 'CLEFT demo (phantoms, job 3)', summary: { ...summary, adapters: [] } })).toBe(
      'Base · CLEFT demo (phantoms, job 3)',
    );
    expect(modelLabel({ name: 'CLEFT demo (phantoms, job 3) · LoRA 2026-12-04', summary: { ...summary, adapters: ['text'] } })).toBe(
      'LoRA · CLEFT demo (phantoms, job 3) · LoRA 2026-12-04',
    );
  });

  it('counts the library while an import or the demo runs (they commit as they go), not for other jobs', () => {
    expect(fillsLibraryAsItRuns({ ...base, kind: 'import', status: 'running' } as Job)).toBe(true);
    expect(fillsLibraryAsItRuns({ ...base, kind: 'demo', status: 'running' } as Job)).toBe(true);
    expect(fillsLibraryAsItRuns({ ...base, kind: 'import', status: 'queued' } as Job)).toBe(false);
    expect(fillsLibraryAsItRuns({ ...base, kind: 'classify', status: 'running' } as Job)).toBe(false);
  });

  it('names int8 weights of a classification or prompt-learning job (float32, the default, goes unsaid)', () => {
    const classify = (weights?: string) =>
      describeJob({
        ...base,
        kind: 'classify',
        params: {},
        result: { runId: 4, studies: 1, images: 4, executionProvider: 'cpu', promptSet: null, ...(weights ? { weights } : {}) },
      } as unknown as Job).facts;
    expect(classify('int8')).toContainEqual({ label: 'Weights', value: 'int8 (approximate)' });
    expect(classify('float32').some((f) => f.label === 'Weights')).toBe(false);
    expect(classify().some((f) => f.label === 'Weights')).toBe(false);
    const learned = describeJob({
      ...base,
      kind: 'prompt-learn',
      params: {},
      result: { promptSet: 'p', steps: 3, weights: 'int8' },
    } as unknown as Job);
    expect(learned.facts).toContainEqual({ label: 'Weights', value: 'int8 (approximate)' });
  });

  it('names int8 frozen weights of a LoRA training job (float32 unsaid)', () => {
    const lora = (weights: string) =>
      describeJob({ ...base, kind: 'train-lora', params: { name: 'l' }, result: { runId: 2, steps: 3, weights } } as unknown as Job).facts;
    expect(lora('int8')).toContainEqual({ label: 'Weights', value: 'int8 (approximate)' });
    expect(lora('float32').some((f) => f.label === 'Weights')).toBe(false);
  });

  it('tolerates missing or odd results and unknown kinds', () => {
    expect(describeJob({ ...base, result: null }).facts).toEqual([]);
    // Params stored in a shape the kind's schema does not read arrive as null: the job still reads.
    expect(describeJob({ ...base, params: null })).toMatchObject({ title: 'Verify folder', subject: null });
    expect(describeJob({ ...base, kind: 'import', params: null, result: null })).toEqual({
      title: 'Import DICOM',
      subject: null,
      facts: [],
    });
    // A record from outside the contract's types (another version of the app) still reads.
    expect(describeJob({ ...base, result: { files: 'many' } } as unknown as Job).facts).toEqual([]);
    expect(describeJob({ ...base, kind: 'future-kind', params: 42 } as unknown as Job)).toEqual({
      title: 'future-kind',
      subject: null,
      facts: [],
    });
  });

  it('offers cancel and resume only where the back end allows them', () => {
    const s = (status: Job['status']) => ({ ...base, status });
    expect(['queued', 'running', 'interrupted'].map((st) => canCancel(s(st as Job['status'])))).toEqual([true, true, true]);
    expect(['done', 'failed', 'cancelled'].map((st) => canCancel(s(st as Job['status'])))).toEqual([false, false, false]);
    expect(['interrupted', 'failed', 'cancelled'].map((st) => canResume(s(st as Job['status'])))).toEqual([true, true, true]);
    expect(['queued', 'running', 'done'].map((st) => canResume(s(st as Job['status'])))).toEqual([false, false, false]);
    expect(isActive(s('interrupted'))).toBe(true);
    expect(isActive(s('done'))).toBe(false);
  });
});

describe('format', () => {
  it('bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(3 * 1024 ** 2)).toBe('3.0 MB');
    expect(formatBytes(250 * 1024 ** 3)).toBe('250 GB');
    expect(formatBytes(-1)).toBe('—');
  });
  it('eta', () => {
    expect(formatEta(null)).toBeNull();
    expect(formatEta(0.2)).toBe('almost done');
    expect(formatEta(12.1)).toBe('13 s left');
    expect(formatEta(150)).toBe('about 3 min left');
    expect(formatEta(2 * 3600 + 600)).toBe('about 2 h 10 min left');
  });
  it('durations and percentages', () => {
    expect(formatDuration(811)).toBe('811 ms');
    expect(formatDuration(2500)).toBe('2.5 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
    expect(formatPercent(0.456)).toBe('46%');
    expect(formatPercent(2)).toBe('100%');
  });
});
