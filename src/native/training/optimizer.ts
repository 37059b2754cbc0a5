/**
 * Optimizer graphs over the flat trainable vector (one graph per optimizer kind; ORT runs every node).
 *
 * Inputs (N = total trainable elements):
 *   params [N], grads [N], AdamW: m [N], v [N] | SGD: momentum [N],
 *   step int64 [] (float32 [] when emitted for WebGPU; 1-based number of this update), lr float32 [], max_norm float32 [] (Infinity = no clipping)
 * Outputs: params_out, m_out/v_out | momentum_out, grad_norm (the pre-clip global L2 norm).
 *
 * Semantics follow PyTorch (torch.optim.AdamW, torch.optim.SGD, torch.nn.utils.clip_grad_norm_):
 *   clip:   c = min(1, max_norm / (‖g‖ + 1e-6)), g ← c·g
 *   AdamW:  p ← p·(1 − lr·wd·mask); m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
 *           p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)
 *   SGD:    g ← g + wd·mask·p; b ← t=1 ? g : μ b + (1−dampening) g; d = nesterov ? g + μ b : b; p ← p − lr·d
 * The mask (1 for decayed tensors, 0 for excluded ones) is built in the graph from runs of
 * ConstantOfShape, so no N-sized initializer is stored.
 */
import { Graph, ops, type Tensor } from '../graph/index';
import type { ParamLayout } from './setup';

export interface AdamWConfig {
  kind: 'adamw';
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface SgdConfig {
  kind: 'sgd';
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

export type OptimizerConfig = AdamWConfig | SgdConfig;

/** The config with every default filled in (what the manifest and checkpoints record). */
export function resolveOptimizer(c: OptimizerConfig): Required<AdamWConfig> | Required<SgdConfig> {
  if (c.kind === 'adamw')
    return { kind: 'adamw', beta1: c.beta1 ?? 0.9, beta2: c.beta2 ?? 0.999, eps: c.eps ?? 1e-8, weightDecay: c.weightDecay ?? 0.01 };
  if (c.nesterov && (c.momentum ?? 0.9) <= 0) throw new Error('SGD: Nesterov momentum needs momentum > 0');
  return {
    kind: 'sgd',
    momentum: c.momentum ?? 0.9,
    dampening: c.dampening ?? 0,
    nesterov: c.nesterov ?? false,
    weightDecay: c.weightDecay ?? 0,
  };
}

/** Names of the optimizer state vectors, in order. */
export function stateNames(c: OptimizerConfig): string[] {
  return c.kind === 'adamw' ? ['m', 'v'] : ['momentum'];
}

/** Per-element weight-decay mask [N] built from runs of equal flags, or null when all entries decay. */
function decayMask(g: Graph, layout: ParamLayout): Tensor | null | 'none' {
  if (layout.entries.every((e) => e.decay)) return null;
  if (layout.entries.every((e) => !e.decay)) return 'none';
  const runs: { decay: boolean; size: number }[] = [];
  for (const e of layout.entries) {
    const last = runs.at(-1);
    if (last && last.decay === e.decay) last.size += e.size;
    else runs.push({ decay: e.decay, size: e.size });
  }
  return ops.concat(
    runs.map((r) => ops.fill(g, [r.size], r.decay ? 1 : 0, 'float32')),
    0,
  );
}

export interface OptimizerGraph {
  graph: Graph;
  outputs: Record<string, Tensor>;
}

/**
 * `stepDtype` 'float32' is for the WebGPU EP, which cannot read an int64 input (the Cast to float
 * would run on the CPU); the value is exact there for steps below 2^24. The CPU graph keeps int64.
 */
export function buildOptimizerGraph(
  layout: ParamLayout,
  config: OptimizerConfig,
  stepDtype: 'int64' | 'float32' = 'int64',
): OptimizerGraph {
  const c = resolveOptimizer(config);
  const N = layout.total;
  const g = new Graph();
  const params = g.input('params', 'float32', [N]);
  const grads = g.input('grads', 'float32', [N]);
  const state = stateNames(c).map((n) => g.input(n, 'float32', [N]));
  const step = g.input('step', stepDtype, []);
  const lr = g.input('lr', 'float32', []);
  const maxNorm = g.input('max_norm', 'float32', []);
  return { graph: g, outputs: update(g, layout, c, { params, grads, state, step, lr, maxNorm }) };
}

/** Output name of a trainable tensor's new value in the per-tensor optimizer graph. */
export const paramOut = (name: string) => `param_out.${name}`;

/**
 * The same update over per-tensor inputs and outputs, for state kept on the device: train_step's
 * trainable inputs (`<name>`) and gradient outputs (`grad.<name>`) feed it as they are, and its
 * `param_out.<name>` feed the next train_step, so nothing is flattened on the host. Inside, the
 * tensors are concatenated into the flat vector and the update is the flat graph's, node for node
 * (same reductions over the same vector); the state vectors stay flat.
 */
export function buildDeviceOptimizerGraph(
  layout: ParamLayout,
  config: OptimizerConfig,
  stepDtype: 'int64' | 'float32' = 'float32',
): OptimizerGraph {
  const c = resolveOptimizer(config);
  const N = layout.total;
  const g = new Graph();
  const flat = (ts: Tensor[]) =>
    ops.concat(
      ts.map((t, i) => t.reshape([layout.entries[i]!.size])),
      0,
    );
  const params = flat(layout.entries.map((e) => g.input(e.name, 'float32', e.shape)));
  const grads = flat(layout.entries.map((e) => g.input(`grad.${e.name}`, 'float32', e.shape)));
  const state = stateNames(c).map((n) => g.input(n, 'float32', [N]));
  const step = g.input('step', stepDtype, []);
  const lr = g.input('lr', 'float32', []);
  const maxNorm = g.input('max_norm', 'float32', []);
  const { params_out: p, ...rest } = update(g, layout, c, { params, grads, state, step, lr, maxNorm });
  // One Slice per tensor, not one Split: WebGPU binds every output of a node as a storage buffer
  // and a shader takes at most 16 (maxStorageBuffersPerShaderStage), so Split fails beyond 15 tensors.
  const outputs: Record<string, Tensor> = { ...rest };
  for (const e of layout.entries)
    outputs[paramOut(e.name)] = (layout.entries.length === 1 ? p! : p!.slice(0, e.offset, e.offset + e.size)).reshape(e.shape);
  return { graph: g, outputs };
}

interface UpdateInputs {
  params: Tensor;
  grads: Tensor;
  state: Tensor[];
  step: Tensor;
  lr: Tensor;
  maxNorm: Tensor;
}

function update(
  g: Graph,
  layout: ParamLayout,
  c: ReturnType<typeof resolveOptimizer>,
  { params, grads, state, step, lr, maxNorm }: UpdateInputs,
): Record<string, Tensor> {
  const stepDtype = step.dtype;
  // global-norm clipping (torch.nn.utils.clip_grad_norm_)
  const norm = grads.mul(grads).sum().sqrt();
  const coef = maxNorm.div(norm.add(1e-6)).minimum(1);
  const gc = grads.mul(coef);
  const mask = c.weightDecay !== 0 ? decayMask(g, layout) : 'none';
  const outputs: Record<string, Tensor> = { grad_norm: norm };

  if (c.kind === 'adamw') {
    const [m, v] = state as [Tensor, Tensor];
    const t = stepDtype === 'float32' ? step : step.cast('float32');
    let p = params;
    if (mask !== 'none') {
      const wd = lr.mul(c.weightDecay);
      p = mask === null ? p.mul(g.scalar(1, 'float32').sub(wd)) : p.sub(p.mul(mask).mul(wd));
    }
    const m1 = m.mul(c.beta1).add(gc.mul(1 - c.beta1));
    const v1 = v.mul(c.beta2).add(gc.mul(gc).mul(1 - c.beta2));
    const bc1 = g.scalar(1, 'float32').sub(g.scalar(c.beta1, 'float32').pow(t));
    const bc2 = g.scalar(1, 'float32').sub(g.scalar(c.beta2, 'float32').pow(t));
    const stepSize = lr.div(bc1);
    const denom = v1.sqrt().div(bc2.sqrt()).add(c.eps);
    outputs.params_out = p.sub(m1.div(denom).mul(stepSize));
    outputs.m_out = m1;
    outputs.v_out = v1;
  } else {
    const [buf] = state as [Tensor];
    let d = gc;
    if (mask !== 'none') d = d.add((mask === null ? params : params.mul(mask)).mul(c.weightDecay));
    let b: Tensor;
    if (c.momentum === 0)
      b = buf; // unused state, passed through
    else {
      const next = buf.mul(c.momentum).add(c.dampening === 0 ? d : d.mul(1 - c.dampening));
      b = c.dampening === 0 ? next : ops.where(step.eq(1), d, next);
    }
    const dir = c.momentum === 0 ? d : c.nesterov ? d.add(b.mul(c.momentum)) : b;
    outputs.params_out = params.sub(dir.mul(lr));
    outputs.momentum_out = b;
  }
  return outputs;
}
