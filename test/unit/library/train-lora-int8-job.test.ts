// The weight precision of the train-lora job: Settings' Encoder weights is its default, the job's
// own `weights` param wins, the result and the run record say which was used, and int8 on a GPU
// device fails with the reason. Real library (phantom exams with their reports), tiny bundle.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainLoraResult } from '../../../src/common/jobs';
import { generatePhantoms } from '../../../src/main/dicom/phantom';
import { readPeftAdapter } from '../../../src/native/formats/peft';
import { toFloat32 } from '../../../src/native/formats/safetensors';
import { callApi } from '../../helpers/api';
import { testBackend, addTinyBundle, importExams } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';
import path from 'node:path';

afterAll(removeTmpDirs);

let phantoms: string;
beforeAll(async () => {
  phantoms = tmpDir('cleft-phantoms-');
  await generatePhantoms({ outDir: phantoms, exams: 2, seed: 7, size: 'small', syntaxes: ['explicit-le'] });
});

describe('train-lora job weights', () => {
  it(
    'follows Settings, a job param overrides it, result and run record state it; int8 on webgpu is refused',
    { timeout: 600_000 },
    async () => {
      const b = testBackend(tmpDir());
      try {
        const { modelId } = await addTinyBundle(b, 4);
        await importExams(b, phantoms);
        await callApi(b, 'reports.import', { path: phantoms });
        expect((await callApi(b, 'settings.update', { weights: 'int8' })).weights).toBe('int8');
        const train = async (name: string, extra: Record<string, unknown> = {}) => {
          const job = await b.jobs.waitFor(
            (
              await callApi(b, 'train.lora', {
                modelId,
                name,
                steps: 1,
                batchSize: 2,
                valFraction: 0,
                seed: 1,
                schedule: 'constant',
                lr: 1e-2,
                ...extra,
              })
            ).id,
          );
          return job;
        };
        const fromSettings = await train('lora int8');
        expect(fromSettings.status, fromSettings.error ?? '').toBe('done');
        const r = fromSettings.result as TrainLoraResult;
        expect(r.weights).toBe('int8');
        expect((await callApi(b, 'runs.get', { id: r.runId })).record.weights).toBe('int8');
        // the saved adapter is a float32 PEFT adapter (for the float32 base), trained away from B = 0
        const adapter = readPeftAdapter(path.join(r.bundleDir, 'text-adapter'), { family: 'gpt2' });
        const m = [...adapter.modules.values()][0]!;
        expect(m.B.dtype).toBe('F32');
        expect(toFloat32(m.B).some((v) => v !== 0)).toBe(true);

        const explicit = await train('lora f32', { weights: 'float32' });
        expect(explicit.status, explicit.error ?? '').toBe('done');
        const e = explicit.result as TrainLoraResult;
        expect(e.weights).toBe('float32');
        expect((await callApi(b, 'runs.get', { id: e.runId })).record.weights).toBe('float32');

        const gpu = await train('lora gpu', { weights: 'int8', device: 'webgpu' });
        expect(gpu.status).toBe('failed');
        expect(gpu.error).toMatch(/int8 weights run on the CPU provider only/);
      } finally {
        await b.close();
      }
    },
  );
});
