// `cleft train-lora` and `cleft prompt-learn` on the reference-a tiny models, 1-2 updates with
// --no-shuffle, against a float64 JS restatement of torch.optim.AdamW / SGD applied to PyTorch's
// reference gradients (step 1) and to the gradient at the step-1 values (step 2).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readHeads, type Heads } from '../../../../src/native/models/heads';
import { readPeftAdapter } from '../../../../src/native/formats/peft';
import { readTensorF32, toFloat32, writeSafetensors } from '../../../../src/native/formats/safetensors';
import { openContrastive } from '../../../../src/native/cleft/contrastive';
import { openPromptLearning } from '../../../../src/native/cleft/prompt-learning';
import { imageFeatures } from '../../../../src/native/cleft/features';
import { REF, cases, f32, i64, promptClassIds, shapeOf } from './reference';
import { runCli } from '../../../helpers/cli';

let tmp: string;
const cli = (...args: string[]) => runCli(args);

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-cli-'));
  const t = (k: string) => cases.get(k)!;
  writeSafetensors(path.join(tmp, 'pairs.safetensors'), {
    pixel_values: t('vit.pixel_values'),
    input_ids: t('text.input_ids'),
    lengths: t('text.lengths'),
  });
  writeSafetensors(path.join(tmp, 'prompt.safetensors'), {
    pixel_values: t('vit.pixel_values'),
    labels: t('prompt.labels'),
    'class_ids.0': t('prompt.class_ids.0'),
    'class_ids.1': t('prompt.class_ids.1'),
    'class_ids.2': t('prompt.class_ids.2'),
  });
  writeSafetensors(path.join(tmp, 'ctx.safetensors'), { ctx: t('prompt.ctx') });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Opt {
  kind: 'adamw' | 'sgd';
  lr: number;
  wd: number;
  momentum: number;
}
interface State {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
}

/** torch.optim.AdamW / SGD, one step (t is 1-based), in float64. */
function torchStep(o: Opt, s: State, g: ArrayLike<number>, t: number): void {
  for (let i = 0; i < s.p.length; i++) {
    if (o.kind === 'adamw') {
      s.p[i] = s.p[i]! * (1 - o.lr * o.wd);
      s.m[i] = 0.9 * s.m[i]! + 0.1 * g[i]!;
      s.v[i] = 0.999 * s.v[i]! + 0.001 * g[i]! * g[i]!;
      const denom = Math.sqrt(s.v[i]!) / Math.sqrt(1 - 0.999 ** t) + 1e-8;
      s.p[i] = s.p[i]! - (o.lr / (1 - 0.9 ** t)) * (s.m[i]! / denom);
    } else {
      const d = g[i]! + o.wd * s.p[i]!;
      s.m[i] = t === 1 || o.momentum === 0 ? d : o.momentum * s.m[i]! + d;
      s.p[i] = s.p[i]! - o.lr * (o.momentum === 0 ? d : s.m[i]!);
    }
  }
}

const state = (p: ArrayLike<number>): State => ({ p: Float64Array.from(p), m: new Float64Array(p.length), v: new Float64Array(p.length) });

function expectClose(got: Float32Array, want: Float64Array, name: string, lr: number): void {
  let worst = 0;
  for (let i = 0; i < want.length; i++)
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (1e-6 + 1e-3 * lr + 1e-5 * Math.abs(want[i]!)));
  expect(worst, `${name}: worst scaled error`).toBeLessThan(1);
}

/** Trained tensors of a train-lora output, by the trainer's names. */
function loraOutput(dir: string): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [side, fam] of [
    ['text', 'gpt2'],
    ['image', 'vit'],
  ] as const) {
    const a = readPeftAdapter(path.join(dir, `${side}-adapter`), { family: fam });
    for (const m of a.modules.values()) {
      out.set(`${side}.${m.module}.lora_A`, toFloat32(m.A));
      out.set(`${side}.${m.module}.lora_B`, toFloat32(m.B));
    }
  }
  const h = readHeads(path.join(dir, 'heads.safetensors'));
  out.set('text_projection.weight', h.textProjection);
  out.set('visual_projection.weight', h.visualProjection);
  out.set('logit_scale', Float32Array.of(h.logitScale));
  return out;
}

function initialFromRef(): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [side, fam, dir] of [
    ['text', 'gpt2', 'gpt2/adapter'],
    ['image', 'vit', 'vit/adapter'],
  ] as const) {
    const a = readPeftAdapter(path.join(REF, dir), { family: fam });
    for (const m of a.modules.values()) {
      out.set(`${side}.${m.module}.lora_A`, toFloat32(m.A));
      out.set(`${side}.${m.module}.lora_B`, toFloat32(m.B));
    }
  }
  const h: Heads = readHeads(path.join(REF, 'heads.safetensors'));
  out.set('text_projection.weight', h.textProjection);
  out.set('visual_projection.weight', h.visualProjection);
  out.set('logit_scale', Float32Array.of(h.logitScale));
  return out;
}

/** Gradients at the values of a train-lora output (its adapters and heads as the starting point). */
async function loraGradAt(dir: string): Promise<Map<string, Float32Array>> {
  const { wt } = await openContrastive({
    text: { modelDir: path.join(REF, 'gpt2'), training: { mode: 'lora', adapterDir: path.join(dir, 'text-adapter') } },
    image: { modelDir: path.join(REF, 'vit'), pool: 'cls', training: { mode: 'lora', adapterDir: path.join(dir, 'image-adapter') } },
    heads: readHeads(path.join(dir, 'heads.safetensors')),
    data: {
      pixelValues: f32('vit.pixel_values'),
      pixelShape: [3, 3, 32, 32],
      inputIds: i64('text.input_ids'),
      lengths: i64('text.lengths'),
    },
    optimizer: { kind: 'sgd', lr: 0 },
    steps: 1,
    batchSize: 3,
    shuffle: false,
    workDir: path.join(dir, '.grad'),
  });
  try {
    return (await wt.gradients([0, 1, 2])).grads;
  } finally {
    await wt.close();
  }
}

const R = (p: string) => path.join(REF, p);
const loraArgs = (out: string, o: Opt, steps: number) => [
  'train-lora',
  '--text-model',
  R('gpt2'),
  '--text-adapter',
  R('gpt2/adapter'),
  '--image-model',
  R('vit'),
  '--image-adapter',
  R('vit/adapter'),
  '--heads',
  R('heads.safetensors'),
  '--data',
  path.join(tmp, 'pairs.safetensors'),
  '--optimizer',
  o.kind,
  '--lr',
  String(o.lr),
  '--weight-decay',
  String(o.wd),
  ...(o.kind === 'sgd' ? ['--momentum', String(o.momentum)] : []),
  '--steps',
  String(steps),
  '--batch-size',
  '3',
  '--no-shuffle',
  '--output',
  out,
  '--json',
];

describe('cleft train-lora', () => {
  for (const o of [
    { kind: 'adamw', lr: 1e-3, wd: 0.01, momentum: 0 },
    { kind: 'sgd', lr: 0.05, wd: 0.01, momentum: 0.9 },
  ] as Opt[]) {
    it(`${o.kind}: 1 and 2 updates equal torch.optim semantics on the reference gradients`, async () => {
      const one = path.join(tmp, `lora-${o.kind}-1`);
      const two = path.join(tmp, `lora-${o.kind}-2`);
      cli(...loraArgs(one, o, 1));
      cli(...loraArgs(two, o, 2));
      const init = initialFromRef();
      const got1 = loraOutput(one);
      const got2 = loraOutput(two);
      const g2 = await loraGradAt(one);
      for (const [name, p0] of init) {
        const s = state(p0);
        torchStep(o, s, f32(`clip.grad.${name}`), 1);
        expectClose(got1.get(name)!, s.p, `${name} step 1`, o.lr);
        s.p = Float64Array.from(got1.get(name)!); // continue from the run's own step-1 values
        torchStep(o, s, g2.get(name)!, 2);
        expectClose(got2.get(name)!, s.p, `${name} step 2`, o.lr);
      }
    });
  }

  it('a new adapter (no --text-adapter) is written in PEFT format with the defaults', () => {
    const out = path.join(tmp, 'lora-new');
    cli(
      'train-lora',
      '--text-model',
      R('gpt2'),
      '--image-model',
      R('vit'),
      '--heads',
      R('heads.safetensors'),
      '--data',
      path.join(tmp, 'pairs.safetensors'),
      '--lr',
      '1e-3',
      '--steps',
      '1',
      '--batch-size',
      '3',
      '--output',
      out,
    );
    const t = readPeftAdapter(path.join(out, 'text-adapter'), { family: 'gpt2' });
    expect(t.config.r).toBe(8);
    expect(t.config.loraAlpha).toBe(32);
    expect(t.config.loraDropout).toBe(0.1);
    expect(t.config.targetModules).toEqual(['c_attn']);
    expect([...t.modules.keys()]).toEqual(['h.0.attn.c_attn', 'h.1.attn.c_attn']);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'text-adapter/adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg.peft_type).toBe('LORA');
    expect(readPeftAdapter(path.join(out, 'image-adapter'), { family: 'vit' }).config.targetModules).toEqual(['query', 'value']);
  });
});

describe('cleft prompt-learn', () => {
  for (const o of [
    { kind: 'adamw', lr: 1e-2, wd: 0.01, momentum: 0 },
    { kind: 'sgd', lr: 0.5, wd: 0, momentum: 0.9 },
  ] as Opt[]) {
    it(`${o.kind}: ctx after 1 and 2 updates equals torch.optim on the reference gradient`, async () => {
      const run = (steps: number) => {
        const out = path.join(tmp, `pl-${o.kind}-${steps}`);
        cli(
          'prompt-learn',
          '--text-model',
          R('gpt2'),
          '--image-model',
          R('vit'),
          '--heads',
          R('heads.safetensors'),
          '--data',
          path.join(tmp, 'prompt.safetensors'),
          '--init-ctx',
          path.join(tmp, 'ctx.safetensors'),
          '--optimizer',
          o.kind,
          '--lr',
          String(o.lr),
          '--weight-decay',
          String(o.wd),
          ...(o.kind === 'sgd' ? ['--momentum', String(o.momentum)] : []),
          '--steps',
          String(steps),
          '--batch-size',
          '3',
          '--no-shuffle',
          '--output',
          out,
          '--json',
        );
        return readTensorF32(path.join(out, 'prompt.safetensors'), 'ctx');
      };
      const c1 = run(1);
      const c2 = run(2);
      const s = state(f32('prompt.ctx'));
      torchStep(o, s, f32('prompt.grad.ctx'), 1);
      expectClose(c1, s.p, 'ctx step 1', o.lr);
      // gradient at the step-1 context, through the same training graphs
      const feats = await imageFeatures({ modelDir: R('vit'), pool: 'cls' }, f32('vit.pixel_values'), [3, 3, 32, 32], {
        cacheDir: path.join(tmp, 'cache'),
      });
      const { wt } = await openPromptLearning({
        text: { modelDir: R('gpt2') },
        heads: readHeads(R('heads.safetensors')),
        imageFeatures: feats.features,
        labels: Array.from(i64('prompt.labels'), Number),
        classIds: promptClassIds(),
        init: { kind: 'values', ctx: c1, shape: shapeOf('prompt.ctx') },
        optimizer: { kind: 'sgd', lr: 0 },
        steps: 1,
        batchSize: 3,
        shuffle: false,
        workDir: path.join(tmp, `pl-grad-${o.kind}`),
      });
      const g2 = (await wt.gradients([0, 1, 2])).grads.get('ctx')!;
      await wt.close();
      s.p = Float64Array.from(c1);
      torchStep(o, s, g2, 2);
      expectClose(c2, s.p, 'ctx step 2', o.lr);
    });
  }
});
