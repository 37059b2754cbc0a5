// Activation checkpointing (Graph.checkpoint + autodiff's recompute): on a small GPT-2 it gives the
// gradients of the plain graph, for LoRA (gpt2Forward per block) and for prompt learning (the
// shared-context encoder), and a checkpointed prompt-learning run trains end to end like a plain one.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { grad, Graph, ops } from '../../../../src/native/graph/index';
import { writeTinyModels, QUICK_SIZES } from '../../../../src/native/cleft/tiny-models';
import { loadHfFolder } from '../../../../src/native/models/hf-model';
import { bindModelWeights } from '../../../../src/native/models/weights';
import { ParamStore } from '../../../../src/native/models/encoders';
import { gpt2Forward, gpt2TextEmbedding, type Gpt2Config } from '../../../../src/native/models/gpt2';
import { loraModulesFor, trainableLora } from '../../../../src/native/models/lora';
import { parseLoraConfig } from '../../../../src/native/formats/peft';
import { readHeads } from '../../../../src/native/models/heads';
import { arrayData, createTrainer } from '../../../../src/native/cleft/common';
import { learnPromptContext, openPromptLearning } from '../../../../src/native/cleft/prompt-learning';
import { seededRandom } from '../../../../src/native/cleft/random';
import type { TrainingSetup } from '../../../../src/native/training/index';

let tmp: string;
let models: { text: string; heads: string };
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-recompute-'));
  models = writeTinyModels(path.join(tmp, 'models'), { ...QUICK_SIZES, textLayers: 3, textDim: 48, textHeads: 4 }, 11);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const rand = seededRandom(5);
const uniform = (n: number, s: number) => Float32Array.from({ length: n }, () => (rand() - 0.5) * s);

/** Text LoRA (r 4 on c_attn and c_fc, no dropout) with a squared-embedding loss, plain or checkpointed. */
function loraSetup(recompute: boolean): TrainingSetup {
  const model = loadHfFolder(models.text);
  const cfg = model.config as Gpt2Config;
  const bound = bindModelWeights(model, { cacheDir: path.join(tmp, `lora-${recompute}`) });
  const modules = loraModulesFor(model, parseLoraConfig({ r: 4, lora_alpha: 8, target_modules: ['c_attn', 'c_fc'] }));
  return {
    name: 'recompute-lora',
    build(ctx) {
      const g = ctx.graph;
      const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
      const lengths = g.input('lengths', 'int64', ['batch']);
      const hooks = trainableLora(g, modules);
      const w = new ParamStore(g, bound.source);
      const emb = gpt2TextEmbedding(gpt2Forward(cfg, w, { inputIds: ids }, hooks, { recompute }), lengths);
      return { loss: emb.mul(emb).mean() };
    },
  };
}

describe('activation checkpointing', () => {
  it('marks one checkpoint per block and ties each recomputed block input to the gradient', () => {
    const g = new Graph();
    const x = g.param('x', [2, 3], { trainable: true });
    const w = g.param('w', [3, 3], { trainable: true });
    let h = x;
    for (let l = 0; l < 3; l++) h = g.checkpoint([h], ([a]) => [a!.matmul(w).tanh()])[0]!;
    const loss = h.sum();
    expect(g.checkpoints).toHaveLength(3);
    const before = g.nodes.length;
    const [gx, gw] = grad(loss, [x, w]);
    expect(gx!.shape).toEqual([2, 3]);
    expect(gw!.shape).toEqual([3, 3]);
    const added = g.nodes.slice(before);
    const ties = added.filter((n) => n.op?.name === 'Where' && n.inputs[1] === n.inputs[2]);
    expect(ties).toHaveLength(3);
    expect(added.filter((n) => n.op?.name === 'Tanh')).toHaveLength(3);
  });

  it('refuses a checkpoint whose inner tensor is used after it', () => {
    const g = new Graph();
    const x = g.param('x', [2], { trainable: true });
    let inner = x;
    const [y] = g.checkpoint([x], ([a]) => {
      inner = a!.mul(2);
      return [inner.tanh()];
    });
    expect(() => grad(ops.add(y!, inner).sum(), [x])).toThrow(/inside a checkpoint/);
  });

  it('keeps only block inputs for the backward (forward tensors with a backward consumer)', () => {
    const kept = (recompute: boolean) => {
      const g = new Graph();
      const setup = loraSetup(recompute);
      const { loss } = setup.build({ graph: g, training: true, target: 'cpu', dropout: (x) => x });
      const lossId = loss.node.id;
      grad(loss, g.params({ trainable: true }));
      const out = new Map<string, number[]>();
      for (const n of g.nodes.slice(lossId + 1))
        for (const t of n.inputs)
          if (t.node.id <= lossId && t.node.op && t.node.op.name !== 'Cast' && t.dtype === 'float32')
            out.set(
              `${t.node.id}:${t.index}`,
              t.shape.map((d) => (typeof d === 'number' ? d : 8)),
            );
      return [...out.values()];
    };
    const plain = kept(false);
    const ckpt = kept(true);
    const d = 48;
    const wide = (s: number[]) => s.length === 3 && s[2]! >= d;
    // plain: every block's norms, q/k/v, GELU input...; recomputed: the 3 block inputs and the final state
    expect(plain.filter(wide).length).toBeGreaterThanOrEqual(15);
    expect(ckpt.filter(wide).length).toBe(4);
  });

  it('gives the plain gradients for LoRA on a 3-layer GPT-2 (within 1e-6)', async () => {
    const B = 3;
    const T = 7;
    const ids = BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 7919) % 50000));
    const lengths = BigInt64Array.of(7n, 5n, 3n);
    const data = arrayData({ input_ids: { data: ids, rowShape: [T] }, lengths: { data: lengths, rowShape: [] } });
    const grads = [];
    let init: Map<string, Float32Array> | null = null;
    for (const recompute of [false, true]) {
      const setup = loraSetup(recompute);
      const g = new Graph();
      const built = setup.build({ graph: g, training: true, target: 'cpu', dropout: (x) => x });
      init ??= new Map(
        g.params({ trainable: true }).map((t) => [
          t.node.leaf!.name!,
          uniform(
            t.shape.reduce<number>((a, b) => a * (b as number), 1),
            0.2,
          ),
        ]),
      );
      expect(built.loss.shape).toEqual([]);
      const run = {
        optimizer: { kind: 'sgd' as const, lr: 0.1 },
        steps: 2,
        batchSize: B,
        shuffle: false,
        workDir: path.join(tmp, `lora-${recompute}`),
      };
      const wt = await createTrainer(setup, run, data, init);
      try {
        const r = await wt.gradients([0, 1, 2]);
        grads.push(r);
        // and an update runs end to end
        const info = await wt.trainer.trainStep();
        expect(Number.isFinite(info.loss)).toBe(true);
      } finally {
        await wt.close();
      }
    }
    const [plain, ckpt] = grads as [(typeof grads)[0], (typeof grads)[0]];
    expect(Math.abs(plain.loss - ckpt.loss)).toBeLessThanOrEqual(1e-6 * Math.abs(plain.loss));
    expect(plain.grads.size).toBe(12);
    for (const [name, g] of plain.grads) {
      const scale = Math.max(...Array.from(g, Math.abs));
      expect(scale, name).toBeGreaterThan(0);
      expect(maxAbsDiff(g, ckpt.grads.get(name)!), name).toBeLessThanOrEqual(1e-6 * scale);
    }
    const manifest = (p: string) =>
      JSON.parse(fs.readFileSync(path.join(tmp, p, 'manifest.json'), 'utf8')) as { files: { train_step: { nodes: number } } };
    // the recomputed blocks are in the train step: more nodes than the plain one
    expect(manifest('lora-true').files.train_step.nodes).toBeGreaterThan(manifest('lora-false').files.train_step.nodes);
  });

  it('prompt learning with recomputed blocks: same gradient as the plain graph, and training runs end to end', async () => {
    const heads = readHeads(models.heads);
    const n = 24;
    const labels = Array.from({ length: n }, (_, i) => i % 3);
    const feats = uniform(n * heads.imageDim, 2);
    const classIds = [
      [464, 3290, 50256],
      [317, 1110, 286, 50256],
      [2068, 50256],
    ];
    const common = {
      text: { modelDir: models.text },
      heads,
      imageFeatures: feats,
      labels,
      classIds,
      nCtx: 5,
      init: { kind: 'random' as const },
      optimizer: { kind: 'adamw' as const, lr: 1e-2 },
      steps: 4,
      batchSize: 8,
      shuffle: false,
      bootstrapSamples: 0,
    };
    const gradsOf = async (recompute: boolean, opt: 'disabled' | 'all') => {
      const { wt } = await openPromptLearning({
        ...common,
        recompute,
        workDir: path.join(tmp, `pl-grad-${recompute}-${opt}`),
        session: { graphOptimizationLevel: opt },
      });
      try {
        return await wt.gradients([0, 1, 2, 3, 4, 5, 6, 7]);
      } finally {
        await wt.close();
      }
    };
    for (const opt of ['disabled', 'all'] as const) {
      const plain = await gradsOf(false, opt);
      const ckpt = await gradsOf(true, opt);
      const g0 = plain.grads.get('ctx')!;
      const scale = Math.max(...Array.from(g0, Math.abs));
      expect(scale).toBeGreaterThan(0);
      // Without ORT's graph optimisations the recomputed gradient is the plain one bit for bit; with
      // them ORT fuses the forward copy differently (its outputs have no backward consumers), which
      // moves float32 rounding: within 1e-6 absolute (1e-5 relative) here.
      const diff = maxAbsDiff(g0, ckpt.grads.get('ctx')!);
      if (opt === 'disabled') expect(diff).toBe(0);
      else expect(diff).toBeLessThanOrEqual(Math.min(1e-6, 1e-5 * scale));
    }

    const runs = [];
    for (const recompute of [false, true])
      runs.push(await learnPromptContext({ ...common, recompute, workDir: path.join(tmp, `pl-run-${recompute}`) }));
    const [a, b] = runs as [(typeof runs)[0], (typeof runs)[0]];
    expect(b.loop.steps).toBe(4);
    expect(maxAbsDiff(a.ctx, b.ctx)).toBeLessThanOrEqual(1e-5);
    expect(b.after).not.toBeNull();
    expect(maxAbsDiff(a.ctx, a.initCtx)).toBeGreaterThan(0);
  });
});
