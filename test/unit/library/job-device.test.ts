// Every engine job kind records where it ran: per graph the provider, whether every node was on
// it, whether that provider is deterministic, and why it was chosen; in the job's result and, for
// kinds that record a run, in the run record. The device comes from the job's own `device` param
// (the form), else the Settings' default, else auto (src/common/device.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import { DeviceRunRecord } from '../../../src/common/device';
import type { Job } from '../../../src/common/jobs';
import { generatePhantoms } from '../../../src/main/dicom/phantom';
import { callApi } from '../../helpers/api';
import { testBackend, addTinyBundle, importExams, taskNamed } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

const open: Backend[] = [];
afterEach(() => {
  for (const b of open.splice(0)) b.close();
});
afterAll(removeTmpDirs);

let phantoms: string;
beforeAll(async () => {
  phantoms = tmpDir('cleft-phantoms-');
  await generatePhantoms({ outDir: phantoms, exams: 4, seed: 7, size: 'small', syntaxes: ['explicit-le'] });
});

/** The device record of a done job's result, checked against the contract's schema. */
function deviceOf(job: Job): DeviceRunRecord {
  expect(job.error).toBeNull();
  const d = (job.result as { device?: unknown }).device;
  return DeviceRunRecord.parse(d);
}

/** What every CPU record says, whatever the graph. */
function expectCpu(d: DeviceRunRecord, graphs: string[], requested: string) {
  expect(d.requested).toBe(requested);
  expect(d.provider).toBe('cpu');
  expect(d.reason).toMatch(requested === 'auto' ? /^auto: CUDA unavailable: .*/ : /^requested explicitly/);
  expect(Object.keys(d.graphs).sort()).toEqual([...graphs].sort());
  for (const g of Object.values(d.graphs)) {
    expect(g).toMatchObject({ provider: 'cpu', allNodesOnProvider: true, deterministic: true });
    expect(g.determinism).toMatch(/same thread count/);
  }
}

async function library() {
  const b = testBackend(tmpDir());
  open.push(b);
  const { modelId } = await addTinyBundle(b, 4);
  const studies = await importExams(b, phantoms);
  const density = await taskNamed(b);
  for (const [i, s] of studies.entries())
    for (const side of ['L', 'R'] as const)
      await callApi(b, 'labels.set', {
        target: { taskId: density.id, studyId: s.id, scope: 'breast', laterality: side },
        className: (i + (side === 'L' ? 1 : 0)) % 2 === 0 ? 'A' : 'B',
      });
  await callApi(b, 'reports.import', { path: phantoms });
  return { b, modelId, taskId: density.id, studyIds: studies.map((s) => s.id) };
}

describe('device per job: the form, else Settings, else auto; recorded per graph', () => {
  it('classify, explain, prompt learning, the Adaptor and LoRA record the provider of each graph', { timeout: 900_000 }, async () => {
    const { b, modelId, taskId, studyIds } = await library();
    // A Settings default that cannot run here (no CUDA device 7 anywhere in CI): the form's choice must win.
    await callApi(b, 'settings.update', { executionProvider: 'cuda:7' });
    const fromSettings = await b.jobs.waitFor((await callApi(b, 'classify.start', { modelId, taskId, studyIds })).id);
    expect(fromSettings.status).toBe('failed');
    expect(fromSettings.error).toMatch(/Execution provider cuda:7 is not available/);

    const classified = await b.jobs.waitFor((await callApi(b, 'classify.start', { modelId, taskId, studyIds, device: 'cpu' })).id);
    const c = deviceOf(classified);
    expectCpu(c, ['text_encoder', 'image_encoder'], 'cpu');
    const run = await callApi(b, 'runs.get', { id: (classified.result as { runId: number }).runId });
    expect(run.record.device).toEqual(c);
    expect(run.record.executionProvider).toBe('cpu');

    const study = await callApi(b, 'library.study', { id: studyIds[0]! });
    const explained = await b.jobs.waitFor(
      (await callApi(b, 'explain.start', { modelId, taskId, instanceIds: [study.instances[0]!.id], device: 'cpu' })).id,
    );
    // the class embeddings come from the library's cache (the classification above computed them):
    // only the image encoder ran
    expectCpu(deviceOf(explained), ['image_encoder'], 'cpu');

    // Back to auto: no form choice, the Settings' auto resolves (to the CPU here, with the reasons).
    await callApi(b, 'settings.update', { executionProvider: 'auto' });
    const learned = await b.jobs.waitFor(
      (await callApi(b, 'train.promptLearn', { modelId, taskId, name: 'p', nCtx: 2, steps: 3, batchSize: 4, valFraction: 0.25 })).id,
    );
    const p = deviceOf(learned);
    // image features are cached by the classification above: only the text encoder and the training graphs ran
    expectCpu(p, ['text_encoder', 'forward', 'train_step', 'optimizer'], 'auto');
    expect(p.trainingState).toBe('host: onnxruntime-node 1.30 keeps outputs on the device only for WebGPU');
    const pRun = await callApi(b, 'runs.get', { id: (learned.result as { runId: number }).runId });
    expect(pRun.record.device).toEqual(p);

    const adapted = await b.jobs.waitFor(
      (await callApi(b, 'train.adaptor', { modelId, taskId, name: 'a', mode: 'adaptor', steps: 3, valFraction: 0.25, device: 'cpu' })).id,
    );
    const a = deviceOf(adapted);
    expectCpu(a, ['text_encoder', 'forward', 'train_step', 'optimizer'], 'cpu');
    expect((await callApi(b, 'runs.get', { id: (adapted.result as { runId: number }).runId })).record.device).toEqual(a);

    const lora = await b.jobs.waitFor(
      (
        await callApi(b, 'train.lora', {
          modelId,
          name: 'lora',
          steps: 2,
          batchSize: 4,
          valFraction: 0.5,
          checkpointEvery: 1,
          device: 'cpu',
        })
      ).id,
    );
    const l = deviceOf(lora);
    expectCpu(l, ['forward', 'train_step', 'optimizer'], 'cpu');
    expect((await callApi(b, 'runs.get', { id: (lora.result as { runId: number }).runId })).record.device).toEqual(l);
  });

  it('the demo records where both its trainings ran', { timeout: 600_000 }, async () => {
    const b = testBackend(tmpDir());
    open.push(b);
    const done = await b.jobs.waitFor((await callApi(b, 'demo.start', { quick: true, device: 'cpu' })).id);
    expect(done.error).toBeNull();
    const d = (done.result as { device?: { contrastive: unknown; prompt: unknown } }).device!;
    expectCpu(DeviceRunRecord.parse(d.contrastive), ['forward', 'train_step', 'optimizer'], 'cpu');
    expectCpu(DeviceRunRecord.parse(d.prompt), ['forward', 'train_step', 'optimizer'], 'cpu');
  });

  it('refuses a device param that is not a device, naming the field', async () => {
    const b = testBackend(tmpDir());
    open.push(b);
    const err = (await callApi(b, 'train.lora', { modelId: 1, name: 'x', device: 'metal' }).catch((e: unknown) => e)) as {
      code: string;
      issues: { path: string; message: string }[];
    };
    expect(err.code).toBe('invalid_input');
    expect(err.issues).toContainEqual(expect.objectContaining({ path: 'device', message: 'use auto, cpu, webgpu or cuda:N' }));
  });
});
