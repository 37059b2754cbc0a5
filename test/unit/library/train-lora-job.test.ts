// Contrastive LoRA training (train.lora) as a job on the library's image-report pairs: phantom
// exams with their report.txt, a tiny CLEFT bundle; the new bundle is registered and usable, its
// adapters are PEFT, a run is recorded; cancel; an interrupted job resumes to the adapters of an
// uninterrupted run, bit for bit.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import type { TrainLoraResult } from '../../../src/common/jobs';
import { generatePhantoms } from '../../../src/main/dicom/phantom';
import { openBundle } from '../../../src/native/bundle/index';
import { readPeftAdapter } from '../../../src/native/formats/peft';
import { loadHfFolder } from '../../../src/native/models/hf-model';
import { readWeightF32 } from '../../../src/native/formats/hf-folder';
import { readHeads } from '../../../src/native/models/heads';
import { toFloat32 } from '../../../src/native/formats/safetensors';
import { callApi } from '../../helpers/api';
import { killJobPastCheckpoint, metricSteps, stopClis } from '../../helpers/cli';
import { testBackend, addTinyBundle, importExams } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { until } from '../../helpers/wait';

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

let phantoms: string;
beforeAll(async () => {
  phantoms = tmpDir('cleft-phantoms-');
  await generatePhantoms({ outDir: phantoms, exams: 4, seed: 7, size: 'small', syntaxes: ['explicit-le'] });
});

/** A library with the 4 phantom exams and a tiny bundle (no reports yet). */
async function library(b: Backend) {
  const { modelId, parts } = await addTinyBundle(b, 4);
  await importExams(b, phantoms);
  return { modelId, parts };
}

const BASE = { steps: 24, batchSize: 4, valFraction: 0.5, checkpointEvery: 4, seed: 3, lr: 5e-3, warmupSteps: 2 } as const;

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Every trained tensor of a LoRA bundle: text adapter A/B and the heads. */
async function trainedTensors(dir: string): Promise<Map<string, Float32Array>> {
  const bundle = await openBundle(dir, { verify: 'full' });
  const out = new Map<string, Float32Array>();
  for (const [name, m] of bundle.text.adapter!.adapter.modules) {
    out.set(`${name}.A`, toFloat32(m.A));
    out.set(`${name}.B`, toFloat32(m.B));
  }
  const h = bundle.heads.heads;
  out.set('text_projection', h.textProjection);
  out.set('visual_projection', h.visualProjection);
  out.set('logit_scale', Float32Array.of(h.logitScale));
  return out;
}

describe('train-lora job', () => {
  it(
    'trains on imported reports and registers a new bundle with PEFT adapters and a run; clear errors first',
    { timeout: 600_000 },
    async () => {
      const dataDir = tmpDir();
      const b = backendAt(dataDir);
      const { modelId, parts } = await library(b);

      const failed = await b.jobs.waitFor((await callApi(b, 'train.lora', { modelId, name: 'lora', ...BASE })).id);
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/import reports first: .*no study in the library has a report/);

      const hf = await callApi(b, 'models.import', { path: parts.text, copy: false, name: 'plain gpt2' });
      const notBundle = await b.jobs.waitFor((await callApi(b, 'train.lora', { modelId: hf.id, name: 'x' })).id);
      expect(notBundle.error).toMatch(/model "plain gpt2" is a .*; LoRA training starts from a CLEFT bundle/);

      // The phantoms' report.txt files sit beside their DICOM files.
      const imported = await callApi(b, 'reports.import', { path: phantoms });
      expect(imported).toMatchObject({ matched: 4, unmatched: [] });
      expect(await callApi(b, 'library.stats', {})).toMatchObject({ studies: 4, reports: 4 });
      const studies = (await callApi(b, 'library.studies', {})).rows;
      const report = await callApi(b, 'reports.forStudy', { studyId: studies[0]!.id });
      expect(report?.text).toMatch(/^BILATERAL SCREENING MAMMOGRAM[\s\S]*Breast composition: ACR [ABCD]/);

      const job = await b.jobs.waitFor((await callApi(b, 'train.lora', { modelId, name: 'phantom LoRA', ...BASE })).id);
      expect(job.error).toBeNull();
      const r = job.result as TrainLoraResult;
      // 4 studies x 4 views; two studies (8 pairs) held out for validation
      expect(r).toMatchObject({ model: 'phantom LoRA', studies: 4, pairs: 16, train: 8, val: 8, steps: 24 });
      // the tiny model's 96 positions cut the longer reports, and the result says so
      expect(r.notes.join(' ')).toMatch(/reports are longer than 96 tokens and were truncated/);
      const curve = b.jobs.metrics(job.id);
      // one point per update (the validations' metrics join their update's point), and the
      // validation of the starting point at step 0
      expect(curve.map((p) => p.step)).toEqual(Array.from({ length: 25 }, (_, i) => i));
      expect(curve[0]!.loss).toBeUndefined(); // no loss before the first update
      const losses = curve.slice(1).map((p) => p.loss!);
      expect(losses.every((l) => Number.isFinite(l))).toBe(true);
      const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
      expect(mean(losses.slice(-6))).toBeLessThan(mean(losses.slice(0, 6)));
      expect(curve.some((p) => p.val?.recallAt1ImageToText !== undefined)).toBe(true);
      expect(r.validation.before).not.toBeNull();
      expect(r.validation.after!.loss).not.toBe(r.validation.before!.loss);
      for (const k of ['recallAt1ImageToText', 'recallAt5ImageToText', 'recallAt1TextToImage', 'recallAt5TextToImage'])
        expect(r.validation.after![k]).toBeGreaterThanOrEqual(0);

      // The new model: registered, a full bundle, text adapter in PEFT format with the default settings.
      const models = await callApi(b, 'models.list', { kind: 'bundle' });
      const made = models.find((m) => m.id === r.modelId)!;
      expect(made).toMatchObject({ name: 'phantom LoRA', path: r.bundleDir });
      const base = models.find((m) => m.id === modelId)!;
      const bundle = await openBundle(made.path, { verify: 'full' });
      const baseBundle = await openBundle(base.path, { verify: 'full' });
      expect(bundle.preprocessing).toEqual(baseBundle.preprocessing);
      expect(bundle.text.maxLength).toBe(baseBundle.text.maxLength);
      expect(bundle.image.adapter).toBeNull(); // image frozen, no adapter in the base
      const cfg = JSON.parse(fs.readFileSync(path.join(made.path, 'text-adapter', 'adapter_config.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(cfg).toMatchObject({
        peft_type: 'LORA',
        r: 8,
        lora_alpha: 32,
        lora_dropout: 0.1,
        target_modules: ['c_attn'],
        fan_in_fan_out: true,
      });
      const adapter = readPeftAdapter(path.join(made.path, 'text-adapter'), { family: 'gpt2' });
      expect([...adapter.modules.keys()]).toEqual(['h.0.attn.c_attn']);
      const B = toFloat32(adapter.modules.get('h.0.attn.c_attn')!.B);
      expect(B.some((v) => v !== 0)).toBe(true); // trained away from PEFT's zero init
      const heads = readHeads(path.join(made.path, 'heads.safetensors'));
      expect(bits(heads.textProjection).equals(bits(baseBundle.heads.heads.textProjection))).toBe(false);

      // Loadable and usable: zero-shot classification with the new model.
      const density = (await callApi(b, 'tasks.list', {})).find((t) => t.name === 'Breast density')!;
      const cls = await b.jobs.waitFor(
        (await callApi(b, 'classify.start', { modelId: r.modelId, taskId: density.id, studyIds: studies.map((s) => s.id) })).id,
      );
      expect(cls.error).toBeNull();

      const run = await callApi(b, 'runs.get', { id: r.runId });
      expect(run).toMatchObject({
        kind: 'contrastive-lora',
        modelId: r.modelId,
        record: {
          modelSha256: made.sha256,
          adapters: { 'text-adapter': expect.stringMatching(/^[0-9a-f]{64}$/), heads: expect.stringMatching(/^[0-9a-f]{64}$/) },
          preprocessSha256: bundle.preprocessing!.sha256,
          selectionSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
          executionProvider: 'cpu',
          params: { baseModelId: modelId, baseModelSha256: base.sha256, pairs: 16 },
        },
        metrics: { losses: expect.any(Array), validation: { before: expect.any(Object), after: expect.any(Object) } },
      });

      // A second round from the LoRA bundle: its text adapter is trained further, the image encoder gets LoRA too.
      const round2 = await b.jobs.waitFor(
        (await callApi(b, 'train.lora', { ...BASE, modelId: r.modelId, name: 'round 2', image: 'lora', steps: 6, schedule: 'constant' }))
          .id,
      );
      expect(round2.error).toBeNull();
      const r2 = round2.result as TrainLoraResult;
      expect(r2.notes.join(' ')).toMatch(/the base text adapter was trained further/);
      const b2 = await openBundle(r2.bundleDir, { verify: 'full' });
      const imageCfg = JSON.parse(fs.readFileSync(path.join(r2.bundleDir, 'image-adapter', 'adapter_config.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(imageCfg).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 32, target_modules: ['query', 'value'] });
      expect([...b2.image.adapter!.adapter.modules.values()].some((m) => toFloat32(m.B).some((v) => v !== 0))).toBe(true);
      const before = toFloat32(adapter.modules.get('h.0.attn.c_attn')!.B);
      const after = toFloat32(b2.text.adapter!.adapter.modules.get('h.0.attn.c_attn')!.B);
      expect(bits(after).equals(bits(before))).toBe(false);

      // From a bundle with an image adapter, a frozen image encoder keeps it (merged while training, copied as it is).
      const round3 = await b.jobs.waitFor((await callApi(b, 'train.lora', { ...BASE, modelId: r2.modelId, name: 'round 3', steps: 3 })).id);
      expect(round3.error).toBeNull();
      const b3 = await openBundle((round3.result as TrainLoraResult).bundleDir, { verify: 'full' });
      const sha = (x: typeof b3, rel: string) => x.files.find((f) => f.path === rel)?.sha256;
      expect(sha(b3, 'image-adapter/adapter_model.safetensors')).toBe(sha(b2, 'image-adapter/adapter_model.safetensors'));
      expect(sha(b3, 'text-adapter/adapter_model.safetensors')).not.toBe(sha(b2, 'text-adapter/adapter_model.safetensors'));
      // Same validation studies: round 3 starts exactly where round 2 ended (image adapter merged, text LoRA unmerged).
      const before3 = (round3.result as TrainLoraResult).validation.before!;
      for (const [k, v] of Object.entries(r2.validation.after!)) expect(before3[k], k).toBeCloseTo(v, 4);

      // The name is taken now.
      const dup = await b.jobs.waitFor((await callApi(b, 'train.lora', { modelId, name: 'phantom LoRA' })).id);
      expect(dup.error).toMatch(/a model named "phantom LoRA" already exists/);
    },
  );

  it(
    "last image blocks trainable: the new bundle carries an image encoder whose earlier blocks are the base's",
    { timeout: 600_000 },
    async () => {
      const dataDir = tmpDir();
      const b = backendAt(dataDir);
      const { modelId, parts } = await library(b);
      await callApi(b, 'reports.import', { path: phantoms });
      const job = await b.jobs.waitFor(
        (await callApi(b, 'train.lora', { modelId, name: 'last-block', ...BASE, steps: 4, image: 'last-blocks', imageBlocks: 1 })).id,
      );
      expect(job.error).toBeNull();
      const model = (await callApi(b, 'models.list', {})).find((m) => m.name === 'last-block')!;
      const bundle = await openBundle(model.path, { verify: 'sizes' });
      expect(bundle.image.adapter).toBeNull();
      const base = loadHfFolder(parts.image);
      const trained = loadHfFolder(bundle.image.dir);
      const layers = base.config.family === 'gpt2' ? 0 : base.config.numHiddenLayers;
      let changed = 0;
      for (const [name, ref] of base.weights) {
        const same = Buffer.from(readWeightF32(ref).buffer).equals(Buffer.from(readWeightF32(trained.weights.get(name)!).buffer));
        if (!same) {
          changed++;
          expect(name).toMatch(new RegExp(`^(encoder\\.layer\\.${layers - 1}\\.|layernorm\\.)`));
        }
      }
      expect(changed).toBeGreaterThan(0);
      const refused = await b.jobs.waitFor(
        (await callApi(b, 'train.lora', { modelId, name: 'too-many', ...BASE, steps: 4, image: 'last-blocks', imageBlocks: layers + 1 }))
          .id,
      );
      expect(refused.error).toMatch(/must be 1-\d+ \(the model has/);
    },
  );

  it('fewer than 2 pairs is refused; a cancelled job registers nothing', { timeout: 600_000 }, async () => {
    const dataDir = tmpDir();
    const b = backendAt(dataDir);
    const { modelId } = await library(b);
    await callApi(b, 'reports.import', { path: phantoms });
    const studies = (await callApi(b, 'library.studies', {})).rows;
    // one study left with a single image
    const one = studies[0]!;
    b.db
      .prepare(
        `DELETE FROM instances WHERE id IN (SELECT i.id FROM instances i JOIN series se ON se.id = i.series_ref WHERE se.study_ref = ? ORDER BY i.id LIMIT 3)`,
      )
      .run(one.id);
    const few = await b.jobs.waitFor((await callApi(b, 'train.lora', { modelId, name: 'few', studyIds: [one.id] })).id);
    expect(few.error).toMatch(/at least 2 image-report pairs; the selection has 1/);

    const big = await b.jobs.waitFor((await callApi(b, 'train.lora', { modelId, name: 'big', valFraction: 0.5, batchSize: 10 })).id);
    expect(big.error).toMatch(/batchSize 10 is more than the \d+ training pairs \(\d+ pairs of 4 studies, \d+ held out for validation\)/);

    const job = await callApi(b, 'train.lora', { modelId, name: 'cancelled', ...BASE, steps: 100_000, schedule: 'constant' });
    await until(() => b.jobs.metrics(job.id).length >= 2, 'two training steps', 300_000);
    b.jobs.cancel(job.id);
    const done = await b.jobs.waitFor(job.id);
    expect(done.status).toBe('cancelled');
    expect((await callApi(b, 'models.list', {})).some((m) => m.name === 'cancelled')).toBe(false);
  });

  it(
    'a job killed (kill -9) mid-training resumes from its checkpoint to the adapters of an uninterrupted run',
    { timeout: 900_000 },
    async () => {
      const dataDir = tmpDir();
      const setup = backendAt(dataDir);
      const { modelId } = await library(setup);
      await callApi(setup, 'reports.import', { path: phantoms });
      const params = { modelId, ...BASE, steps: 60, checkpointEvery: 5 };
      const job = { id: Math.max(...setup.jobs.list({ limit: 10 }).map((j) => j.id)) + 1 };
      setup.close();
      open.length = 0;

      // `cleft jobs start` in a child process, SIGKILLed two updates past a checkpoint (files only, no sleeps).
      const jobDir = path.join(dataDir, 'jobs', String(job.id));
      const checkpointStep = await killJobPastCheckpoint({
        dataDir,
        jobId: job.id,
        kind: 'train-lora',
        params: { ...params, name: 'killed' },
        timeoutMs: 600_000,
      });
      expect(checkpointStep).toBeGreaterThan(0);

      const b = backendAt(dataDir);
      expect(b.jobs.get(job.id).status).toBe('interrupted');
      const replayed: number[] = [];
      b.events.subscribe((event, payload) => {
        const m = payload as { jobId: number; point: { step: number } };
        if (event === 'job.metric' && m.jobId === job.id) replayed.push(m.point.step);
      });
      b.jobs.resume(job.id);
      const resumed = await b.jobs.waitFor(job.id);
      expect(resumed.error).toBeNull();
      // Continued after the checkpoint, not from scratch, and the curve has one point per step.
      expect(replayed[0]).toBe(checkpointStep + 1);
      expect(checkpointStep).toBeLessThan(params.steps);
      const steps = b.jobs.metrics(job.id).map((p) => p.step);
      expect(steps.filter((s) => s > 0)).toEqual(Array.from({ length: params.steps }, (_, i) => i + 1));
      expect(metricSteps(jobDir)).toEqual(steps); // the file too (the validation of the starting point is step 0)
      // the images prepared before the kill were read from the job's pixel file, not decoded again
      expect((resumed.result as TrainLoraResult).notes).toContain('the prepared images of the interrupted run were reused');
      expect(fs.existsSync(path.join(jobDir, 'pixels'))).toBe(false); // removed once done

      const a = await trainedTensors((resumed.result as TrainLoraResult).bundleDir);
      // An identical bundle cannot be registered twice: the resumed one makes room for the uninterrupted one.
      await callApi(b, 'models.delete', { id: (resumed.result as TrainLoraResult).modelId });
      const straight = await b.jobs.waitFor((await callApi(b, 'train.lora', { ...params, name: 'straight' })).id);
      expect(straight.error).toBeNull();
      const s = await trainedTensors((straight.result as TrainLoraResult).bundleDir);
      expect([...a.keys()].sort()).toEqual([...s.keys()].sort());
      for (const [name, t] of a) expect(bits(t).equals(bits(s.get(name)!)), name).toBe(true);
      expect((resumed.result as TrainLoraResult).validation).toEqual((straight.result as TrainLoraResult).validation);
    },
  );
});
