// A library folder copied (or moved) elsewhere is a library of its own: the models it holds are
// stored relative to it, so the copy lists and uses its own copies and writes learned prompt sets
// only inside itself, even with the original gone. Libraries made before this (absolute paths)
// are converted by migration 4, also when the copy was made before the upgrade.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import { JobSpec } from '../../../src/common/jobs';
import { createModelBundle } from '../../../src/main/models/registry';
import { defaultTokenizerDir } from '../../../src/native/cleft/demo';
import { QUICK_SIZES, writeTinyModels } from '../../../src/native/cleft/tiny-models';
import { callApi } from '../../helpers/api';
import { requireDump2dcm, writeFourViewExam } from '../../helpers/dcmtk';
import { addTinyBundle, importExams, taskNamed, testBackend } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

const open: Backend[] = [];
function backendAt(dataDir: string): Backend {
  const b = testBackend(dataDir);
  open.push(b);
  return b;
}
afterEach(() => {
  for (const b of open.splice(0)) b.close();
});
afterAll(removeTmpDirs);

/** A library with labelled exams, a bundle copied into it (with a learned prompt set) and one registered in place. */
async function libraryWithModels(dataDir: string) {
  requireDump2dcm();
  const source = tmpDir('cleft-dicom-');
  for (let n = 1; n <= 3; n++) writeFourViewExam(source, n);
  const b = backendAt(dataDir);
  const density = await taskNamed(b);
  const parts = writeTinyModels(tmpDir(), QUICK_SIZES, 8);
  const made = await createModelBundle(null, tmpDir(), {
    output: path.join(tmpDir(), 'bundle'),
    textModel: parts.text,
    imageModel: parts.image,
    heads: parts.heads,
    tokenizer: defaultTokenizerDir(),
    register: false,
  });
  const inLibrary = await callApi(b, 'models.import', { path: made.dir, copy: true });
  const outside = await addTinyBundle(b, 9, { name: 'outside' });
  const studies = await importExams(b, source);
  for (const [i, s] of studies.entries())
    for (const side of ['L', 'R'] as const)
      await callApi(b, 'labels.set', {
        target: { taskId: density.id, studyId: s.id, scope: 'breast', laterality: side },
        className: (i + (side === 'L' ? 1 : 0)) % 2 === 0 ? 'A' : 'B',
      });
  await learn(b, inLibrary.id, density.id, 'first');
  return { modelId: inLibrary.id, modelPath: inLibrary.path, outside, taskId: density.id };
}

async function learn(b: Backend, modelId: number, taskId: number, name: string): Promise<void> {
  const params = { modelId, taskId, nCtx: 2, steps: 4, batchSize: 4, valFraction: 0.25, seed: 1, name };
  const job = await b.jobs.waitFor(b.jobs.enqueue(JobSpec.parse({ kind: 'prompt-learn', params })).id);
  expect(job.error).toBeNull();
}

/** The copy lists and uses its own models and writes only inside itself (the original is gone). */
async function expectSelfContained(copy: string, lib: Awaited<ReturnType<typeof libraryWithModels>>, original: string) {
  const b = backendAt(copy);
  const models = await callApi(b, 'models.list', {});
  const own = models.find((m) => m.id === lib.modelId)!;
  expect(own.path).toBe(path.join(copy, path.relative(original, lib.modelPath)));
  // a model registered where it lives, outside the library, stays where it is
  expect(models.find((m) => m.id === lib.outside.modelId)!.path).toBe(lib.outside.dir);
  expect((await callApi(b, 'promptSets.list', { modelId: lib.modelId })).map((s) => s.name)).toEqual(['first']);
  await learn(b, lib.modelId, lib.taskId, 'second');
  expect((await callApi(b, 'promptSets.list', { modelId: lib.modelId })).map((s) => s.name).sort()).toEqual(['first', 'second']);
  expect(fs.existsSync(path.join(own.path, 'prompts', 'second.safetensors'))).toBe(true);
  expect((await callApi(b, 'models.inspect', { id: lib.modelId, hash: true })).inspection.problems).toEqual([]);
  const stored = b.db.prepare(`SELECT path FROM models WHERE id = ?`).get(lib.modelId) as { path: string };
  expect(path.isAbsolute(stored.path)).toBe(false);
  const sets = b.db.prepare(`SELECT path FROM prompt_sets ORDER BY id`).all() as { path: string }[];
  expect(sets.map((s) => s.path)).toEqual(['prompts/first.safetensors', 'prompts/second.safetensors']);
  expect(fs.existsSync(original)).toBe(false); // nothing was written where the original was
}

describe('a copied library', () => {
  it('uses and writes only its own models, with the original deleted', { timeout: 600_000 }, async () => {
    const original = path.join(tmpDir(), 'library');
    const lib = await libraryWithModels(original);
    for (const b of open.splice(0)) b.close();
    const copy = path.join(tmpDir(), 'copied library');
    fs.cpSync(original, copy, { recursive: true });
    fs.rmSync(original, { recursive: true });
    await expectSelfContained(copy, lib, original);
  });

  it('a library copied before the upgrade (absolute paths) is converted by the migration', { timeout: 600_000 }, async () => {
    const original = path.join(tmpDir(), 'library');
    const lib = await libraryWithModels(original);
    for (const b of open.splice(0)) b.close();
    // as releases before schema 5 stored them: absolute folders and prompt set files
    const db = new Database(path.join(original, 'library.sqlite'));
    db.prepare(`UPDATE models SET path = ? WHERE id = ?`).run(lib.modelPath, lib.modelId);
    db.prepare(`UPDATE prompt_sets SET path = ?`).run(path.join(lib.modelPath, 'prompts', 'first.safetensors'));
    db.pragma('user_version = 4'); // the job runner (4) is there; the relative paths (5) are not
    db.close();
    const copy = path.join(tmpDir(), 'copied library');
    fs.cpSync(original, copy, { recursive: true });
    fs.rmSync(original, { recursive: true });
    await expectSelfContained(copy, lib, original);
  });
});
