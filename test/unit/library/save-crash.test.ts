// kill -9 at every step of a training job's save (pending save, prompt/adaptor file, manifest,
// library rows), restart, resume: the job completes its own save (exactly one entry in the bundle,
// its prompt_sets and runs rows) and `models inspect` finds nothing wrong. The kill is real: the
// job runs in a `cleft jobs start` child that SIGKILLs itself at the named point (CLEFT_CRASH_AT).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import { JobSpec } from '../../../src/common/jobs';
import { CRASH_AT_ENV } from '../../../src/native/io/crash-point';
import { BUNDLE_MANIFEST, openBundle, readAdaptor, readPromptSet } from '../../../src/native/bundle/index';
import { callApi } from '../../helpers/api';
import { startCli, stopClis } from '../../helpers/cli';
import { addTinyBundle, importExams, labelledLibrary, testBackend } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { generatePhantoms } from '../../../src/main/dicom/phantom';

const open: Backend[] = [];
function backendAt(dataDir: string): Backend {
  const b = testBackend(dataDir);
  open.push(b);
  return b;
}
afterEach(() => {
  for (const b of open.splice(0)) b.close();
  stopClis();
});
afterAll(removeTmpDirs);

/** Runs the job in a CLI child that kills itself at `point`; resolves with the signal it died of. */
async function runUntilKilled(dataDir: string, kind: string, params: Record<string, unknown>, point: string): Promise<NodeJS.Signals> {
  const run = startCli(['jobs', 'start', kind, '--params', JSON.stringify(params), '--data-dir', dataDir], {
    env: { [CRASH_AT_ENV]: point },
  });
  const { code, signal } = await run.exited;
  if (signal === null) throw new Error(`the job did not reach ${point} (exit ${code}): ${run.stderr()}`);
  return signal;
}

/** The one job of `kind` named `name` (its params' name). */
function jobNamed(b: Backend, name: string) {
  const jobs = b.jobs.list({ limit: 100 }).filter((j) => j.params !== null && 'name' in j.params && j.params.name === name);
  expect(jobs).toHaveLength(1);
  return jobs[0]!;
}

async function expectCleanInspect(b: Backend, modelId: number): Promise<void> {
  const details = await callApi(b, 'models.inspect', { id: modelId, hash: true });
  expect(details.inspection.problems).toEqual([]);
}

const SAVE_STEPS = (job: string) => [
  `${job}.pending-saved`,
  'bundle.entry-file-written',
  'bundle.manifest-written',
  `${job}.bundle-saved`,
  `${job}.registered`,
];

describe('a training job killed at any step of its save completes it when resumed', () => {
  it('prompt learning: one prompt set, its prompt_sets and runs rows, a clean inspect', { timeout: 900_000 }, async () => {
    const lib = await labelledLibrary();
    for (const [k, point] of SAVE_STEPS('prompt-learn').entries()) {
      const name = `killed-${k}`;
      const params = { modelId: lib.modelId, taskId: lib.taskId, nCtx: 2, steps: 6, batchSize: 4, valFraction: 0.25, seed: 5, name };
      expect(await runUntilKilled(lib.dataDir, 'prompt-learn', params, point), point).toBe('SIGKILL');

      const b = backendAt(lib.dataDir);
      const cut = jobNamed(b, name);
      expect(cut.status, point).toBe('interrupted');
      b.jobs.resume(cut.id);
      const final = await b.jobs.waitFor(cut.id);
      expect(final.error, point).toBeNull();
      expect(final.status).toBe('done');

      const manifest = JSON.parse(fs.readFileSync(path.join(lib.bundleDir, BUNDLE_MANIFEST), 'utf8')) as { promptSets: { name: string }[] };
      expect(
        manifest.promptSets.filter((s) => s.name === name),
        point,
      ).toHaveLength(1);
      const bundle = await openBundle(lib.bundleDir, { verify: 'full' });
      expect(readPromptSet(bundle, name).entry.training?.saveId).toEqual(expect.any(String));
      const sets = b.db.prepare(`SELECT id, path FROM prompt_sets WHERE model_ref = ? AND name = ?`).all(lib.modelId, name) as {
        id: number;
        path: string;
      }[];
      expect(sets, point).toHaveLength(1);
      const runs = b.db.prepare(`SELECT id, prompt_set_ref FROM runs WHERE job_ref = ? AND kind = 'prompt-learning'`).all(cut.id) as {
        id: number;
        prompt_set_ref: number;
      }[];
      expect(runs, point).toHaveLength(1);
      expect(runs[0]!.prompt_set_ref).toBe(sets[0]!.id);
      expect((final.result as { runId: number }).runId).toBe(runs[0]!.id);
      // the model record follows the bundle: its identity is the one inspect finds
      expect(b.db.prepare(`SELECT sha256 FROM models WHERE id = ?`).get(lib.modelId)).toEqual({ sha256: bundle.sha256 });
      await expectCleanInspect(b, lib.modelId);
      b.close();
      open.length = 0;
    }
  });

  it('the Adaptor: one adaptor, its run with held-out predictions, a clean inspect', { timeout: 900_000 }, async () => {
    const lib = await labelledLibrary();
    for (const [k, point] of SAVE_STEPS('train-adaptor').entries()) {
      const name = `killed-${k}`;
      const params = { modelId: lib.modelId, taskId: lib.taskId, mode: 'adaptor', steps: 20, valFraction: 0.25, seed: 5, name };
      expect(await runUntilKilled(lib.dataDir, 'train-adaptor', params, point), point).toBe('SIGKILL');

      const b = backendAt(lib.dataDir);
      const cut = jobNamed(b, name);
      expect(cut.status, point).toBe('interrupted');
      b.jobs.resume(cut.id);
      const final = await b.jobs.waitFor(cut.id);
      expect(final.error, point).toBeNull();
      expect(final.status).toBe('done');

      const manifest = JSON.parse(fs.readFileSync(path.join(lib.bundleDir, BUNDLE_MANIFEST), 'utf8')) as { adaptors: { name: string }[] };
      expect(
        manifest.adaptors.filter((a) => a.name === name),
        point,
      ).toHaveLength(1);
      const bundle = await openBundle(lib.bundleDir, { verify: 'full' });
      expect(readAdaptor(bundle, name).tensors.has('adaptor.image.layer1.mlp.fc.weight')).toBe(true);
      const runs = b.db.prepare(`SELECT id FROM runs WHERE job_ref = ? AND kind = 'adaptor'`).all(cut.id) as { id: number }[];
      expect(runs, point).toHaveLength(1);
      const predictions = b.db.prepare(`SELECT count(*) AS n FROM predictions WHERE run_ref = ?`).get(runs[0]!.id) as { n: number };
      expect(predictions.n).toBeGreaterThan(0);
      await expectCleanInspect(b, lib.modelId);
      b.close();
      open.length = 0;
    }
  });

  it('contrastive LoRA: one new bundle registered, its run, a clean inspect', { timeout: 900_000 }, async () => {
    const phantoms = tmpDir('cleft-phantoms-');
    await generatePhantoms({ outDir: phantoms, exams: 4, seed: 7, size: 'small', syntaxes: ['explicit-le'] });
    const dataDir = tmpDir();
    const setup = backendAt(dataDir);
    const { modelId } = await addTinyBundle(setup, 4);
    await importExams(setup, phantoms);
    await callApi(setup, 'reports.import', { path: phantoms });
    setup.close();
    open.length = 0;
    const points = ['train-lora.pending-saved', 'train-lora.bundle-written', 'train-lora.registered', 'train-lora.run-recorded'];
    for (const [k, point] of points.entries()) {
      const name = `lora-${k}`;
      const params = { modelId, name, steps: 2, batchSize: 4, valFraction: 0.5, checkpointEvery: 2, seed: 3 + k, lr: 5e-3, warmupSteps: 0 };
      expect(await runUntilKilled(dataDir, 'train-lora', params, point), point).toBe('SIGKILL');

      const b = backendAt(dataDir);
      const cut = jobNamed(b, name);
      expect(cut.status, point).toBe('interrupted');
      b.jobs.resume(cut.id);
      const final = await b.jobs.waitFor(cut.id);
      expect(final.error, point).toBeNull();
      expect(final.status).toBe('done');
      const models = b.db.prepare(`SELECT id FROM models WHERE name = ?`).all(name) as { id: number }[];
      expect(models, point).toHaveLength(1);
      expect((final.result as { modelId: number }).modelId).toBe(models[0]!.id);
      const runs = b.db.prepare(`SELECT id, model_ref FROM runs WHERE job_ref = ? AND kind = 'contrastive-lora'`).all(cut.id) as {
        id: number;
        model_ref: number;
      }[];
      expect(runs, point).toHaveLength(1);
      expect(runs[0]!.model_ref).toBe(models[0]!.id);
      await expectCleanInspect(b, models[0]!.id);
      b.close();
      open.length = 0;
    }
  });

  it('the demo killed after registering its model resumes to one registered model', { timeout: 900_000 }, async () => {
    const dataDir = tmpDir();
    expect(await runUntilKilled(dataDir, 'demo', { quick: true }, 'demo.registered')).toBe('SIGKILL');
    const b = backendAt(dataDir);
    const [cut] = b.jobs.list({ limit: 10 });
    expect(cut!.status).toBe('interrupted');
    expect(await callApi(b, 'models.list', { kind: 'bundle' })).toHaveLength(1);
    b.jobs.resume(cut!.id);
    const final = await b.jobs.waitFor(cut!.id);
    expect(final.error).toBeNull();
    const models = await callApi(b, 'models.list', { kind: 'bundle' });
    expect(models.map((m) => m.id)).toEqual([(final.result as { modelId: number }).modelId]);
    await expectCleanInspect(b, models[0]!.id);
  });

  it('classification killed after its first study resumes its own run: each study predicted once', { timeout: 900_000 }, async () => {
    const lib = await labelledLibrary();
    const look = backendAt(lib.dataDir);
    const studyIds = (await callApi(look, 'library.studies', {})).rows.map((s) => s.id);
    look.close();
    open.length = 0;
    expect(studyIds.length).toBe(3);
    const params = { modelId: lib.modelId, taskId: lib.taskId, studyIds };
    expect(await runUntilKilled(lib.dataDir, 'classify', params, 'classify.study-saved')).toBe('SIGKILL');
    const b = backendAt(lib.dataDir);
    const [cut] = b.jobs.list({ limit: 1 });
    expect(cut!.status).toBe('interrupted');
    expect(b.db.prepare(`SELECT count(*) AS n FROM predictions WHERE scope = 'exam'`).get()).toEqual({ n: 1 });
    b.jobs.resume(cut!.id);
    const final = await b.jobs.waitFor(cut!.id);
    expect(final.error).toBeNull();
    const runs = b.db.prepare(`SELECT id FROM runs WHERE job_ref = ?`).all(cut!.id) as { id: number }[];
    expect(runs).toHaveLength(1);
    expect((final.result as { runId: number }).runId).toBe(runs[0]!.id);
    const perStudy = b.db
      .prepare(
        `SELECT study_ref, count(*) AS n FROM predictions WHERE run_ref = ? AND scope = 'exam' GROUP BY study_ref ORDER BY study_ref`,
      )
      .all(runs[0]!.id);
    expect(perStudy).toEqual([...studyIds].sort((x, y) => x - y).map((id) => ({ study_ref: id, n: 1 })));
  });

  it('a job never takes over a prompt set another save wrote under its name', { timeout: 900_000 }, async () => {
    const lib = await labelledLibrary();
    const params = { modelId: lib.modelId, taskId: lib.taskId, nCtx: 2, steps: 6, batchSize: 4, valFraction: 0.25, seed: 5, name: 'taken' };
    // cut after the pending save: the bundle does not have "taken" yet
    await runUntilKilled(lib.dataDir, 'prompt-learn', params, 'prompt-learn.pending-saved');
    const b = backendAt(lib.dataDir);
    const cut = jobNamed(b, 'taken');
    const other = await b.jobs.waitFor(b.jobs.enqueue(JobSpec.parse({ kind: 'prompt-learn', params: { ...params, seed: 6 } })).id);
    expect(other.status).toBe('done');
    b.jobs.resume(cut.id);
    const final = await b.jobs.waitFor(cut.id);
    expect(final.status).toBe('failed');
    expect(final.error).toMatch(/already has a prompt set "taken"/);
    expect(b.db.prepare(`SELECT count(*) AS n FROM prompt_sets WHERE name = 'taken'`).get()).toEqual({ n: 1 });
  });
});
