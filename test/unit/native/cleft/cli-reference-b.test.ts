// The CLI on checkpoints other than reference-a: reference-b (scripts/reference/make_reference_b.py)
// has GPT-2 with n_inner != 4d and LoRA on c_attn, both c_proj and c_fc; DINOv2 with 4 registers, layer
// scale != 1 and LoRA on every linear; ViT without qkv bias and LoRA on every "dense". One SGD update
// with lr 1 leaves old - new = the gradient, which must match PyTorch's to 1e-3 relative.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readTensors, toFloat32, writeSafetensors, type Tensor } from '../../../../src/native/formats/safetensors';
import { relErr } from './reference';
import { runCli } from '../../../helpers/cli';

const REF = path.resolve(__dirname, '../../../fixtures/reference-b');
const R = (p: string) => path.join(REF, p);
const cases = readTensors(R('cases.safetensors'));
const t = (k: string): Tensor => {
  const v = cases.get(k);
  if (!v) throw new Error(`reference-b has no ${k}`);
  return v;
};
const f32 = (k: string) => toFloat32(t(k));

let tmp: string;
const cli = (...args: string[]) => runCli(args, { dataDir: path.join(tmp, 'data') });
const data = (name: string, tensors: Record<string, Tensor>) => {
  const file = path.join(tmp, name);
  writeSafetensors(file, tensors);
  return file;
};

/** old - new for every tensor of two safetensors files (the gradient after one SGD step with lr 1). */
function differences(before: string, after: string): Map<string, Float32Array> {
  const a = readTensors(before);
  const b = readTensors(after);
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  const out = new Map<string, Float32Array>();
  for (const [k, v] of a) {
    const x = toFloat32(v);
    const y = toFloat32(b.get(k)!);
    out.set(
      k,
      x.map((xi, i) => xi - y[i]!),
    );
  }
  return out;
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-ref-b-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('cleft embed on reference-b', () => {
  const runs = [
    { what: 'GPT-2', args: ['text', '-m', R('gpt2')], input: 'text', expected: 'text.embedding' },
    {
      what: 'GPT-2 + LoRA on c_attn, c_proj, c_fc',
      args: ['text', '-m', R('gpt2'), '-a', R('gpt2/adapter')],
      input: 'text',
      expected: 'text.embedding_lora',
    },
    { what: 'DINOv2, 4 registers, CLS', args: ['image', '-m', R('dinov2')], input: 'dinov2', expected: 'dinov2.embedding' },
    {
      what: 'DINOv2 + LoRA on every linear, prenorm mean',
      args: ['image', '-m', R('dinov2'), '-a', R('dinov2/adapter'), '--pool', 'prenorm-mean'],
      input: 'dinov2',
      expected: 'dinov2.embedding_lora_prenorm_mean',
    },
    { what: 'ViT without qkv bias', args: ['image', '-m', R('vit')], input: 'vit', expected: 'vit.embedding' },
    {
      what: 'ViT + LoRA on query, value and every dense',
      args: ['image', '-m', R('vit'), '-a', R('vit/adapter')],
      input: 'vit',
      expected: 'vit.embedding_lora',
    },
  ];
  for (const r of runs) {
    it(`${r.what} matches PyTorch`, () => {
      const input =
        r.input === 'text'
          ? data('text.safetensors', { input_ids: t('text.input_ids'), lengths: t('text.lengths') })
          : data(`${r.input}.safetensors`, { pixel_values: t(`${r.input}.pixel_values`) });
      const out = path.join(tmp, `embed-${r.expected}.safetensors`);
      cli('embed', ...r.args, '-i', input, '-o', out);
      const got = readTensors(out).get('embedding')!;
      expect(got.shape).toEqual(t(r.expected).shape);
      expect(relErr(toFloat32(got), f32(r.expected))).toBeLessThan(1e-4);
    });
  }
});

describe('cleft train-lora on reference-b: the update equals the PyTorch gradient', () => {
  const setups = [
    { caseName: 'clip', image: 'dinov2', heads: 'heads.safetensors', pool: 'prenorm-mean' },
    { caseName: 'clip_vit', image: 'vit', heads: 'heads-vit.safetensors', pool: 'cls' },
  ];
  for (const s of setups) {
    it(`${s.image} (${s.pool}) + GPT-2, adapters keep their rank, alpha and targets`, { timeout: 120_000 }, () => {
      const pairs = data(`pairs-${s.image}.safetensors`, {
        pixel_values: t(`${s.image}.pixel_values`),
        input_ids: t('text.input_ids'),
        lengths: t('text.lengths'),
      });
      const out = path.join(tmp, `lora-${s.image}`);
      const log = cli(
        'train-lora',
        ...['--text-model', R('gpt2'), '--text-adapter', R('gpt2/adapter')],
        ...['--image-model', R(s.image), '--image-adapter', R(`${s.image}/adapter`), '--pool', s.pool],
        ...['--heads', R(s.heads), '--data', pairs, '--optimizer', 'sgd', '--lr', '1', '--weight-decay', '0'],
        ...['--steps', '1', '--batch-size', '4', '--no-shuffle', '--lora-dropout', '0', '--output', out],
      );
      expect(log).toContain(`loss ${f32(`${s.caseName}.loss`)[0]!.toFixed(4)}`);

      let compared = 0;
      for (const [side, model] of [
        ['text', 'gpt2'],
        ['image', s.image],
      ] as const) {
        const inCfg = JSON.parse(fs.readFileSync(R(`${model}/adapter/adapter_config.json`), 'utf8')) as Record<string, unknown>;
        const outCfg = JSON.parse(fs.readFileSync(path.join(out, `${side}-adapter/adapter_config.json`), 'utf8')) as Record<
          string,
          unknown
        >;
        for (const key of ['r', 'lora_alpha', 'target_modules', 'fan_in_fan_out'])
          expect(outCfg[key], `${side} ${key}`).toEqual(inCfg[key]);
        const grads = differences(
          R(`${model}/adapter/adapter_model.safetensors`),
          path.join(out, `${side}-adapter/adapter_model.safetensors`),
        );
        for (const [k, g] of grads) {
          const [module, ab] = k.replace(/^base_model\.model\./, '').split('.lora_') as [string, string];
          const ref = `${s.caseName}.grad.${side}.${module}.lora_${ab[0]}`;
          expect(relErr(g, f32(ref)), ref).toBeLessThan(1e-3);
          compared++;
        }
      }
      for (const [k, g] of differences(R(s.heads), path.join(out, 'heads.safetensors'))) {
        expect(relErr(g, f32(`${s.caseName}.grad.${k}`)), k).toBeLessThan(1e-3);
        compared++;
      }
      // every gradient the reference has was compared (a module silently left out would fail here)
      expect(compared).toBe([...cases.keys()].filter((k) => k.startsWith(`${s.caseName}.grad.`)).length);
    });
  }
});

describe('cleft prompt-learn on reference-b', () => {
  it('DINOv2 prenorm mean + GPT-2, class tokens of lengths 1-4: the update equals the PyTorch gradient', { timeout: 120_000 }, () => {
    const classIds = Object.fromEntries([0, 1, 2, 3].map((c) => [`class_ids.${c}`, t(`prompt.class_ids.${c}`)]));
    const prompt = data('prompt.safetensors', { pixel_values: t('dinov2.pixel_values'), labels: t('prompt.labels'), ...classIds });
    const init = data('ctx.safetensors', { ctx: t('prompt.ctx') });
    const out = path.join(tmp, 'prompt');
    cli(
      'prompt-learn',
      ...['--text-model', R('gpt2'), '--image-model', R('dinov2'), '--pool', 'prenorm-mean', '--heads', R('heads.safetensors')],
      ...['--data', prompt, '--init-ctx', init, '--optimizer', 'sgd', '--lr', '1'],
      ...['--steps', '1', '--batch-size', '4', '--no-shuffle', '--output', out],
    );
    const g = differences(init, path.join(out, 'prompt.safetensors')).get('ctx')!;
    expect(relErr(g, f32('prompt.grad.ctx'))).toBeLessThan(1e-3);
  });
});
