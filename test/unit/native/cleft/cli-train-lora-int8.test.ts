// `cleft train-lora --weights int8` on reference-a: one SGD update whose adapters are the float32
// PEFT adapters of the int8 gradients (loadable onto the float32 base), metrics.json records
// `weights: int8` (float32 by default), and int8 with a GPU device is refused with the reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readHeads } from '../../../../src/native/models/heads';
import { readPeftAdapter, validateAdapter } from '../../../../src/native/formats/peft';
import { toFloat32, writeSafetensors } from '../../../../src/native/formats/safetensors';
import { openContrastive } from '../../../../src/native/cleft/contrastive';
import { loadHfFolder } from '../../../../src/native/models/hf-model';
import { REF, cases, f32, i64, relErr } from './reference';
import { cliOutcome, runCli } from '../../../helpers/cli';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-cli-lora-int8-'));
  const t = (k: string) => cases.get(k)!;
  writeSafetensors(path.join(tmp, 'pairs.safetensors'), {
    pixel_values: t('vit.pixel_values'),
    input_ids: t('text.input_ids'),
    lengths: t('text.lengths'),
  });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const args = (out: string, ...extra: string[]) => [
  'train-lora',
  ...['--text-model', path.join(REF, 'gpt2'), '--text-adapter', path.join(REF, 'gpt2/adapter')],
  ...['--image-model', path.join(REF, 'vit'), '--image-adapter', path.join(REF, 'vit/adapter')],
  ...['--heads', path.join(REF, 'heads.safetensors'), '--data', path.join(tmp, 'pairs.safetensors')],
  ...['--optimizer', 'sgd', '--lr', '0.1', '--steps', '1', '--batch-size', '3', '--no-shuffle', '--output', out, '--json'],
  ...extra,
];

/** The reference-a LoRA training of `args` in process (one SGD step of 3 pairs), from these adapters and heads. */
function openRef(from: { text: string; image: string; heads: string }, work: string, weights?: 'int8') {
  return openContrastive({
    text: { modelDir: path.join(REF, 'gpt2'), training: { mode: 'lora', adapterDir: from.text } },
    image: { modelDir: path.join(REF, 'vit'), pool: 'cls', training: { mode: 'lora', adapterDir: from.image } },
    heads: readHeads(from.heads),
    data: {
      pixelValues: f32('vit.pixel_values'),
      pixelShape: [3, 3, 32, 32],
      inputIds: i64('text.input_ids'),
      lengths: i64('text.lengths'),
    },
    optimizer: { kind: 'sgd', lr: 0.1 },
    steps: 1,
    batchSize: 3,
    shuffle: false,
    workDir: path.join(tmp, work),
    ...(weights ? { weights } : {}),
  });
}

interface Metrics {
  weights: string;
  steps: number;
  written: string[];
}
const metrics = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8')) as Metrics;

describe('cleft train-lora --weights', () => {
  it(
    'int8: one SGD update by the int8 gradients, saved as float32 PEFT adapters for the float32 base; recorded as int8',
    { timeout: 300_000 },
    async () => {
      const out = path.join(tmp, 'int8');
      runCli(args(out, '--weights', 'int8'));
      expect(metrics(out)).toMatchObject({ weights: 'int8', steps: 1 });
      expect(metrics(out).written).toEqual(expect.arrayContaining(['text-adapter/', 'image-adapter/', 'heads.safetensors']));

      // the gradients of the same int8 training graph, in process
      const { wt } = await openRef(
        { text: path.join(REF, 'gpt2/adapter'), image: path.join(REF, 'vit/adapter'), heads: path.join(REF, 'heads.safetensors') },
        'grad',
        'int8',
      );
      const g = await wt.gradients([0, 1, 2]).finally(() => wt.close());

      for (const [side, fam, ref] of [
        ['text', 'gpt2', 'gpt2/adapter'],
        ['image', 'vit', 'vit/adapter'],
      ] as const) {
        const trained = readPeftAdapter(path.join(out, `${side}-adapter`), { family: fam });
        const start = readPeftAdapter(path.join(REF, ref), { family: fam });
        // a PEFT adapter of the float32 base: same config and targets, float32 A/B
        expect(trained.config).toEqual(start.config);
        expect(validateAdapter(trained, loadHfFolder(path.join(REF, fam))).fanInFanOut.size).toBe(trained.modules.size);
        for (const m of trained.modules.values()) {
          expect(m.A.dtype).toBe('F32');
          expect(m.B.dtype).toBe('F32');
          for (const k of ['A', 'B'] as const) {
            const a0 = toFloat32(start.modules.get(m.module)![k]);
            const grad = g.grads.get(`${side}.${m.module}.lora_${k}`)!;
            const expected = a0.map((v, i) => v - 0.1 * grad[i]!);
            expect(relErr(toFloat32(m[k]), expected), `${side} ${m.module} ${k}`).toBeLessThan(1e-5);
          }
        }
      }
      // and it loads onto the float32 base (the float training graph takes it as its starting adapter)
      const back = await openRef(
        { text: path.join(out, 'text-adapter'), image: path.join(out, 'image-adapter'), heads: path.join(out, 'heads.safetensors') },
        'back',
      );
      const after = await back.wt.gradients([0, 1, 2]).finally(() => back.wt.close());
      expect(Number.isFinite(after.loss)).toBe(true);
    },
  );

  it('float32 is the default and is recorded as such', { timeout: 300_000 }, () => {
    const out = path.join(tmp, 'f32');
    runCli(args(out));
    expect(metrics(out)).toMatchObject({ weights: 'float32', steps: 1 });
  });

  it('int8 with --device webgpu is refused, saying int8 runs on the CPU', { timeout: 300_000 }, () => {
    const out = path.join(tmp, 'gpu');
    const r = cliOutcome(args(out, '--weights', 'int8', '--device', 'webgpu'));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/int8 weights run on the CPU provider only/);
    expect(fs.existsSync(path.join(out, 'metrics.json'))).toBe(false);
  });
});
