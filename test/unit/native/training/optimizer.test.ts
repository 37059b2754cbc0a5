/**
 * optimizer.onnx (AdamW, SGD with momentum / dampening / Nesterov, global-norm clipping, masked weight
 * decay) against straightforward JS reference implementations written from the PyTorch formulas,
 * evaluated in float32 (Math.fround after every operation), step by step.
 */
import { describe, expect, it } from 'vitest';
import { emitOnnx, Graph } from '../../../../src/native/graph/index';
import { ort } from '../../../../src/native/runtime/ort';
import {
  buildOptimizerGraph,
  layoutOf,
  NO_DECAY_BIAS_AND_NORM,
  type OptimizerConfig,
  type ParamLayout,
} from '../../../../src/native/training/index';
import { mulberry32 } from '../../../../src/native/io/random';

const F = Math.fround;

function layoutFor(spec: [string, number[]][]): ParamLayout {
  const g = new Graph();
  return layoutOf(
    spec.map(([n, s]) => g.param(n, s, { trainable: true })),
    NO_DECAY_BIAS_AND_NORM,
  );
}

interface RefState {
  p: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

/** Global L2 norm and the clipping coefficient of torch.nn.utils.clip_grad_norm_. */
function clip(g: Float32Array, maxNorm: number): { g: Float32Array; norm: number } {
  let ss = 0;
  for (const x of g) ss += x * x; // float64 accumulation: the reference is the exact value
  const norm = F(Math.sqrt(ss));
  const coef = Math.min(1, F(maxNorm / F(norm + 1e-6)));
  return { g: g.map((x) => F(x * coef)), norm };
}

function adamwRef(
  s: RefState,
  grad: Float32Array,
  mask: number[],
  step: number,
  lr: number,
  maxNorm: number,
  c: Required<Omit<Extract<OptimizerConfig, { kind: 'adamw' }>, 'kind'>>,
) {
  const { g, norm } = clip(grad, maxNorm);
  const bc1 = F(1 - F(Math.pow(c.beta1, step)));
  const bc2 = F(1 - F(Math.pow(c.beta2, step)));
  const stepSize = F(lr / bc1);
  const bc2s = F(Math.sqrt(bc2));
  for (let i = 0; i < g.length; i++) {
    let p = s.p[i]!;
    p = F(p * F(1 - F(lr * c.weightDecay * mask[i]!))); // decoupled decay (torch: p.mul_(1 - lr*wd))
    s.m[i] = F(F(c.beta1 * s.m[i]!) + F(F(1 - c.beta1) * g[i]!));
    s.v[i] = F(F(c.beta2 * s.v[i]!) + F(F(1 - c.beta2) * F(g[i]! * g[i]!)));
    const denom = F(F(F(Math.sqrt(s.v[i]!)) / bc2s) + c.eps);
    s.p[i] = F(p - F(stepSize * F(s.m[i]! / denom)));
  }
  return norm;
}

function sgdRef(
  s: { p: Float32Array; b: Float32Array },
  grad: Float32Array,
  mask: number[],
  step: number,
  lr: number,
  maxNorm: number,
  c: { momentum: number; dampening: number; nesterov: boolean; weightDecay: number },
) {
  const { g, norm } = clip(grad, maxNorm);
  for (let i = 0; i < g.length; i++) {
    let d = F(g[i]! + F(c.weightDecay * mask[i]! * s.p[i]!));
    if (c.momentum !== 0) {
      s.b[i] = step === 1 ? d : F(F(c.momentum * s.b[i]!) + F(F(1 - c.dampening) * d));
      d = c.nesterov ? F(d + F(c.momentum * s.b[i]!)) : s.b[i]!;
    }
    s.p[i] = F(s.p[i]! - F(lr * d));
  }
  return norm;
}

async function session(layout: ParamLayout, config: OptimizerConfig) {
  const og = buildOptimizerGraph(layout, config);
  const { bytes } = emitOnnx(og.graph, { outputs: og.outputs });
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
}

function randn(n: number, rand: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => scale * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()));
}

function expectClose(got: Float32Array, want: Float32Array, atol: number, rtol: number, what: string) {
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!) - (atol + rtol * Math.abs(want[i]!));
    if (err > worst) [worst, at] = [err, i];
  }
  expect(at, `${what}: element ${at}: got ${got[at]}, want ${want[at]}`).toBe(-1);
}

const SPEC: [string, number[]][] = [
  ['h.0.attn.c_attn.weight', [6, 5]],
  ['h.0.attn.c_attn.bias', [5]],
  ['h.0.ln_1.weight', [6]],
  ['head.weight', [4, 3]],
];

describe('AdamW graph vs JS reference (float32)', () => {
  for (const [label, maxNorm, wd] of [
    ['no clipping, wd 0.1 with bias/norm excluded', Infinity, 0.1],
    ['clipping active (max_norm 0.5)', 0.5, 0.05],
    ['no weight decay', 2, 0],
  ] as const) {
    it(`${label}: 12 steps, bias correction, params/m/v/grad_norm`, async () => {
      const layout = layoutFor(SPEC);
      const cfg = { beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: wd };
      const s = await session(layout, { kind: 'adamw', ...cfg });
      const N = layout.total;
      const mask = new Array<number>(N).fill(0);
      for (const e of layout.entries) if (e.decay) mask.fill(1, e.offset, e.offset + e.size);
      expect(layout.entries.map((e) => e.decay)).toEqual([true, false, false, true]);
      const rand = mulberry32(7);
      const ref: RefState = { p: randn(N, rand), m: new Float32Array(N), v: new Float32Array(N) };
      let cur: { p: Float32Array; m: Float32Array; v: Float32Array } = { p: ref.p.slice(), m: new Float32Array(N), v: new Float32Array(N) };
      for (let step = 1; step <= 12; step++) {
        const grad = randn(N, rand, 0.3);
        const lr = 0.01 * (1 + step / 10);
        const out = await s.run({
          params: new ort.Tensor('float32', cur.p, [N]),
          grads: new ort.Tensor('float32', grad, [N]),
          m: new ort.Tensor('float32', cur.m, [N]),
          v: new ort.Tensor('float32', cur.v, [N]),
          step: new ort.Tensor('int64', BigInt64Array.of(BigInt(step)), []),
          lr: new ort.Tensor('float32', Float32Array.of(lr), []),
          max_norm: new ort.Tensor('float32', Float32Array.of(maxNorm), []),
        });
        const norm = adamwRef(ref, grad, mask, step, lr, maxNorm, cfg);
        expect(Math.abs((out.grad_norm!.data as Float32Array)[0]! - norm)).toBeLessThan(1e-6 * norm);
        cur = { p: out.params_out!.data as Float32Array, m: out.m_out!.data as Float32Array, v: out.v_out!.data as Float32Array };
        expectClose(cur.m, ref.m, 1e-7, 1e-5, `step ${step} m`);
        expectClose(cur.v, ref.v, 1e-8, 1e-5, `step ${step} v`);
        expectClose(cur.p, ref.p, 1e-6, 1e-5, `step ${step} params`);
      }
      await s.release();
    });
  }
});

describe('SGD-momentum graph vs JS reference (float32)', () => {
  for (const [label, cfg, maxNorm] of [
    ['momentum 0.9', { momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 }, Infinity],
    ['Nesterov, weight decay 0.01 (bias/norm excluded), clipping', { momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0.01 }, 0.4],
    ['dampening 0.5 (first step takes the raw gradient)', { momentum: 0.8, dampening: 0.5, nesterov: false, weightDecay: 0.02 }, Infinity],
    ['plain SGD (momentum 0)', { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 }, Infinity],
  ] as const) {
    it(`${label}: 10 steps`, async () => {
      const layout = layoutFor(SPEC);
      const s = await session(layout, { kind: 'sgd', ...cfg });
      const N = layout.total;
      const mask = new Array<number>(N).fill(0);
      for (const e of layout.entries) if (e.decay) mask.fill(1, e.offset, e.offset + e.size);
      const rand = mulberry32(11);
      const ref = { p: randn(N, rand), b: new Float32Array(N) };
      let cur: { p: Float32Array; b: Float32Array } = { p: ref.p.slice(), b: new Float32Array(N) };
      for (let step = 1; step <= 10; step++) {
        const grad = randn(N, rand, 0.3);
        const lr = 0.05;
        const out = await s.run({
          params: new ort.Tensor('float32', cur.p, [N]),
          grads: new ort.Tensor('float32', grad, [N]),
          momentum: new ort.Tensor('float32', cur.b, [N]),
          ...(s.inputNames.includes('step') ? { step: new ort.Tensor('int64', BigInt64Array.of(BigInt(step)), []) } : {}),
          lr: new ort.Tensor('float32', Float32Array.of(lr), []),
          max_norm: new ort.Tensor('float32', Float32Array.of(maxNorm), []),
        });
        const norm = sgdRef(ref, grad, mask, step, lr, maxNorm, cfg);
        expect(Math.abs((out.grad_norm!.data as Float32Array)[0]! - norm)).toBeLessThan(1e-6 * norm);
        cur = { p: out.params_out!.data as Float32Array, b: out.momentum_out!.data as Float32Array };
        expectClose(cur.b, ref.b, 1e-7, 1e-5, `step ${step} momentum`);
        expectClose(cur.p, ref.p, 1e-6, 1e-5, `step ${step} params`);
      }
      await s.release();
    });
  }

  it('builds no N-sized initializer for the decay mask', () => {
    const layout = layoutFor([
      ['a.weight', [1000, 100]],
      ['a.bias', [100]],
    ]);
    const og = buildOptimizerGraph(layout, { kind: 'adamw', weightDecay: 0.1 });
    const { bytes } = emitOnnx(og.graph, { outputs: og.outputs });
    expect(bytes.length).toBeLessThan(10_000);
  });
});
