// The Adaptor of "Freeze the backbones" (Qin et al., ICASSP 2024): both encoders frozen, their pooled
// features computed once and cached, and only a small module on top trained with the CLIP loss;
// then a classification head on labels (a linear probe). Seconds on a CPU.
//
// Our module (one per modality, nothing shared between them):
//   h0 = x W_in + b_in                              (d_modality -> D)
//   L pre-LN transformer layers over the pooled token: h = h + Attn(LN(h)); h = h + MLP(LN(h))
//       (MLP D -> 2D -> D with tanh-GELU; with one pooled token per example, self-attention over a
//        single token is exactly its value and output projections, Wo(Wv LN(h)), which is what the
//        graph computes; the layer keeps the transformer structure so token sequences can be used later)
//   e = normalize(LN_f(h) W_out)                   (D -> D, no bias)
//   logits = exp(logit_scale) e_img e_txtᵀ,  loss = symmetric InfoNCE     (logit_scale trainable, ln(1/0.07))
// Choice documented in docs/workflows.md: the paper's adaptor fuses the frozen features with light
// projections + transformer layers; we keep modalities separate so the output stays a CLIP-style
// dual encoder (zero-shot and retrieval keep working).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Tensor } from '../graph/index';
import { clipLoss } from '../models/clip';
import { LOGIT_SCALE_INIT } from '../models/heads';
import { writeSafetensors } from '../formats/safetensors';
import { readAdaptor, type BundleAdaptor, type CleftBundle } from '../bundle/index';
import { projectAndNormalizeRows } from './math';
import { geluTanh, linear, type TrainingSetup } from '../training/index';
import { arrayData, createTrainer, normalFrom, type RunOptions } from './common';
import { trainValSplit } from './splits';
import { retrievalMetrics } from './contrastive';
import { runLoop, type LoopResult } from './loop';
import { evaluate, type ClassificationReport } from './metrics';
import { seededRandom } from './random';
import { softmaxRows, takeRows } from './math';

export interface AdaptorOptions extends RunOptions {
  /** Cached pooled features of the frozen encoders, paired row by row. */
  imageFeatures: Float32Array;
  textFeatures: Float32Array;
  imageDim: number;
  textDim: number;
  /** Width D (default 128). */
  dim?: number;
  /** Transformer layers per modality (default 2). */
  layers?: number;
  /** Class labels per image for the linear probe (optional). */
  labels?: readonly number[];
  classNames?: readonly string[];
  /** Linear-probe full-batch Adam steps (default 300), lr 0.05, L2 1e-4; 20% of the groups of each class validate. */
  probeSteps?: number;
  /** Group of each row (patient, else study) for the probe's validation split; default: every row its own group. */
  groups?: readonly (string | number)[];
  /** The probe's training and validation rows, chosen by the caller (a named split) instead. */
  probeSplit?: { train: readonly number[]; val: readonly number[] };
}

export interface AdaptorResult {
  loop: LoopResult;
  /** The rows the module was fitted on (`adaptorFitRows`: the split's training rows). */
  fitRows: number[];
  params: Map<string, Float32Array>;
  config: { dim: number; layers: number; imageDim: number; textDim: number };
  /** Adapted, normalised image embeddings [N, D]. */
  imageEmbeddings: Float32Array;
  textEmbeddings: Float32Array;
  /** Retrieval metrics on the training pairs (the fitted rows). */
  retrieval: Record<string, number>;
  probe: {
    weight: Float32Array;
    bias: Float32Array;
    classes: number;
    report: ClassificationReport;
    metrics: Record<string, number>;
  } | null;
}

function shapes(side: 'image' | 'text', dIn: number, D: number, L: number): [string, number[]][] {
  const p = `adaptor.${side}.`;
  const out: [string, number[]][] = [
    [`${p}in.weight`, [dIn, D]],
    [`${p}in.bias`, [D]],
  ];
  for (let l = 0; l < L; l++)
    out.push(
      [`${p}layer${l}.ln1.weight`, [D]],
      [`${p}layer${l}.ln1.bias`, [D]],
      [`${p}layer${l}.attn.v.weight`, [D, D]],
      [`${p}layer${l}.attn.v.bias`, [D]],
      [`${p}layer${l}.attn.o.weight`, [D, D]],
      [`${p}layer${l}.attn.o.bias`, [D]],
      [`${p}layer${l}.ln2.weight`, [D]],
      [`${p}layer${l}.ln2.bias`, [D]],
      [`${p}layer${l}.mlp.fc.weight`, [D, 2 * D]],
      [`${p}layer${l}.mlp.fc.bias`, [2 * D]],
      [`${p}layer${l}.mlp.proj.weight`, [2 * D, D]],
      [`${p}layer${l}.mlp.proj.bias`, [D]],
    );
  out.push([`${p}ln_f.weight`, [D]], [`${p}ln_f.bias`, [D]], [`${p}out.weight`, [D, D]]);
  return out;
}

/** nn.Linear-like init U(±1/√in) for weights, zero biases, unit norm scales. */
function initValues(all: [string, number[]][], seed: number): Map<string, Float32Array> {
  const rand = seededRandom(seed);
  const m = new Map<string, Float32Array>();
  for (const [n, s] of all) {
    const size = s.reduce((a, b) => a * b, 1);
    if (/ln\w*\.weight$/.test(n)) m.set(n, new Float32Array(size).fill(1));
    else if (n.endsWith('.bias')) m.set(n, new Float32Array(size));
    else {
      const b = 1 / Math.sqrt(s[0]!);
      m.set(
        n,
        Float32Array.from({ length: size }, () => (2 * rand() - 1) * b),
      );
    }
  }
  m.set('logit_scale', Float32Array.of(LOGIT_SCALE_INIT));
  return m;
}

export function adaptorSetup(imageDim: number, textDim: number, D: number, L: number): TrainingSetup {
  return {
    name: 'cleft-adaptor',
    build(ctx) {
      const g = ctx.graph;
      const p = (n: string, s: number[]) => g.param(n, s, { trainable: true });
      const branch = (x: Tensor, side: 'image' | 'text', dIn: number) => {
        const P = new Map(shapes(side, dIn, D, L).map(([n, s]) => [n, p(n, s)]));
        const w = (n: string) => P.get(`adaptor.${side}.${n}`)!;
        let h = linear(x, w('in.weight'), w('in.bias'));
        for (let l = 0; l < L; l++) {
          const a = h.layerNorm(w(`layer${l}.ln1.weight`), w(`layer${l}.ln1.bias`));
          h = h.add(
            linear(
              linear(a, w(`layer${l}.attn.v.weight`), w(`layer${l}.attn.v.bias`)),
              w(`layer${l}.attn.o.weight`),
              w(`layer${l}.attn.o.bias`),
            ),
          );
          const m = h.layerNorm(w(`layer${l}.ln2.weight`), w(`layer${l}.ln2.bias`));
          h = h.add(
            linear(
              geluTanh(linear(m, w(`layer${l}.mlp.fc.weight`), w(`layer${l}.mlp.fc.bias`))),
              w(`layer${l}.mlp.proj.weight`),
              w(`layer${l}.mlp.proj.bias`),
            ),
          );
        }
        return linear(h.layerNorm(w('ln_f.weight'), w('ln_f.bias')), w('out.weight')).l2normalize(-1);
      };
      const img = branch(g.input('image_features', 'float32', ['batch', imageDim]), 'image', imageDim);
      const txt = branch(g.input('text_features', 'float32', ['batch', textDim]), 'text', textDim);
      const scale = g.param('logit_scale', [], { trainable: true });
      const logits = img.matmul(txt.transpose()).mul(scale.exp());
      return { loss: clipLoss(logits), outputs: { image_embedding: img, text_embedding: txt } };
    },
  };
}

/** Softmax regression on embeddings, full-batch Adam (JS): returns W [K, D], b [K]. */
export function linearProbe(x: Float32Array, D: number, labels: readonly number[], K: number, steps = 300, lr = 0.05, l2 = 1e-4, seed = 0) {
  const n = labels.length;
  const W = new Float64Array(K * D);
  const b = new Float64Array(K);
  const normal = normalFrom(seededRandom(seed ^ 0x9b));
  for (let i = 0; i < W.length; i++) W[i] = 0.01 * normal();
  const mW = new Float64Array(W.length),
    vW = new Float64Array(W.length),
    mb = new Float64Array(K),
    vb = new Float64Array(K);
  const gW = new Float64Array(W.length),
    gb = new Float64Array(K);
  const z = new Float64Array(K);
  for (let t = 1; t <= steps; t++) {
    gW.fill(0);
    gb.fill(0);
    for (let i = 0; i < n; i++) {
      let mx = -Infinity;
      for (let k = 0; k < K; k++) {
        let s = b[k]!;
        for (let d = 0; d < D; d++) s += W[k * D + d]! * x[i * D + d]!;
        z[k] = s;
        mx = Math.max(mx, s);
      }
      let sum = 0;
      for (let k = 0; k < K; k++) sum += z[k] = Math.exp(z[k]! - mx);
      for (let k = 0; k < K; k++) {
        const g = (z[k]! / sum - (labels[i] === k ? 1 : 0)) / n;
        gb[k]! += g;
        for (let d = 0; d < D; d++) gW[k * D + d]! += g * x[i * D + d]!;
      }
    }
    for (let i = 0; i < W.length; i++) gW[i]! += l2 * W[i]!;
    const c1 = 1 - 0.9 ** t,
      c2 = 1 - 0.999 ** t;
    const upd = (p: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array) => {
      for (let i = 0; i < p.length; i++) {
        m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
        v[i] = 0.999 * v[i]! + 0.001 * g[i]! * g[i]!;
        p[i]! -= (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + 1e-8);
      }
    };
    upd(W, gW, mW, vW);
    upd(b, gb, mb, vb);
  }
  return { weight: Float32Array.from(W), bias: Float32Array.from(b) };
}

/** Probabilities of the probe. */
export function probeProbabilities(x: Float32Array, D: number, weight: Float32Array, bias: Float32Array): number[][] {
  const K = bias.length;
  const n = x.length / D;
  const logits = new Float64Array(n * K);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < K; k++) {
      let s = bias[k]!;
      for (let d = 0; d < D; d++) s += weight[k * D + d]! * x[i * D + d]!;
      logits[i * K + k] = s;
    }
  return softmaxRows(logits, K);
}

/**
 * The rows the Adaptor module's CLIP loss is fitted on: the training part of the split, never its
 * validation rows (they measure the head). The one rule of the train-adaptor job and `cleft
 * train-adaptor` (which also leave out a named split's test part before this).
 */
export function adaptorFitRows(split: { train: readonly number[] }): number[] {
  return [...split.train];
}

export async function trainAdaptor(o: AdaptorOptions): Promise<AdaptorResult> {
  const D = o.dim ?? 128;
  const L = o.layers ?? 2;
  const n = o.imageFeatures.length / o.imageDim;
  if (o.textFeatures.length !== n * o.textDim)
    throw new Error(`adaptor: ${n} image rows but ${o.textFeatures.length / o.textDim} text rows`);
  // With labels the rows are split first (the caller's split, else by group), so that the module
  // is fitted on the training rows only; without labels every row is a training row.
  const split = o.labels
    ? o.probeSplit
      ? { train: [...o.probeSplit.train], val: [...o.probeSplit.val] }
      : trainValSplit(o.labels, 0.2, o.seed ?? 0, o.groups ?? null)
    : { train: Array.from({ length: n }, (_, i) => i), val: [] };
  const fitRows = adaptorFitRows(split);
  const all = [...shapes('image', o.imageDim, D, L), ...shapes('text', o.textDim, D, L)];
  const setup = adaptorSetup(o.imageDim, o.textDim, D, L);
  const data = arrayData({
    image_features: { data: takeRows(o.imageFeatures, o.imageDim, fitRows), rowShape: [o.imageDim] },
    text_features: { data: takeRows(o.textFeatures, o.textDim, fitRows), rowShape: [o.textDim] },
  });
  const wt = await createTrainer(setup, o, data, initValues(all, o.seed ?? 0));
  try {
    const loop = await runLoop(wt.trainer, {
      steps: o.steps,
      label: 'adaptor',
      ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    const out = await wt.forward(
      {
        image_features: { type: 'float32', dims: [n, o.imageDim], data: o.imageFeatures },
        text_features: { type: 'float32', dims: [n, o.textDim], data: o.textFeatures },
      },
      loop.params,
    );
    const img = out.image_embedding!.data as Float32Array;
    const txt = out.text_embedding!.data as Float32Array;
    const retrieval = retrievalMetrics(takeRows(img, D, fitRows), takeRows(txt, D, fitRows), D, loop.params.get('logit_scale')![0]!);
    let probe: AdaptorResult['probe'] = null;
    if (o.labels) {
      const K = Math.max(...o.labels) + 1;
      const rows = (idx: number[]) => takeRows(img, D, idx);
      const trainY = split.train.map((r) => o.labels![r]!);
      const w = linearProbe(rows(split.train), D, trainY, K, o.probeSteps ?? 300, 0.05, 1e-4, o.seed ?? 0);
      const evalIdx = split.val.length ? split.val : split.train;
      const probs = probeProbabilities(rows(evalIdx), D, w.weight, w.bias);
      const names = (o.classNames ?? Array.from({ length: K }, (_, i) => `class ${i}`)).map(String);
      const report = evaluate(
        evalIdx.map((r) => o.labels![r]!),
        probs,
        names,
        { seed: o.seed ?? 0 },
      );
      probe = {
        ...w,
        classes: K,
        report,
        metrics: {
          accuracy: report.accuracy.estimate,
          balancedAccuracy: report.balancedAccuracy,
          ...(report.macroAuc ? { macroAuc: report.macroAuc.estimate } : {}),
          n: report.n,
        },
      };
    }
    return {
      loop,
      fitRows,
      params: loop.params,
      config: { dim: D, layers: L, imageDim: o.imageDim, textDim: o.textDim },
      imageEmbeddings: img,
      textEmbeddings: txt,
      retrieval,
      probe,
    };
  } finally {
    await wt.close();
  }
}

/** adaptor.safetensors (every trained tensor, config in the metadata) and probe.safetensors. */
export function exportAdaptor(dir: string, r: AdaptorResult): void {
  fs.mkdirSync(dir, { recursive: true });
  const t: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  const shapesByName = new Map([
    ...shapes('image', r.config.imageDim, r.config.dim, r.config.layers),
    ...shapes('text', r.config.textDim, r.config.dim, r.config.layers),
  ]);
  for (const [n, v] of r.params) t[n] = { dtype: 'F32', shape: shapesByName.get(n) ?? [], data: v };
  writeSafetensors(path.join(dir, 'adaptor.safetensors'), t, { format: 'pt', cleft_adaptor: JSON.stringify(r.config) });
  if (r.probe)
    writeSafetensors(
      path.join(dir, 'probe.safetensors'),
      {
        weight: { dtype: 'F32', shape: [r.probe.classes, r.config.dim], data: r.probe.weight },
        bias: { dtype: 'F32', shape: [r.probe.classes], data: r.probe.bias },
      },
      { format: 'pt' },
    );
}

/**
 * The trained image branch in plain JS (the same math as the graph: pre-LN layers, tanh-GELU,
 * LayerNorm eps 1e-5, L2 eps 1e-12), so a saved Adaptor classifies without building a session.
 * `params` holds `adaptor.image.*`; x is [n, dIn]; returns normalised [n, D].
 */
export function adaptImageRows(
  params: ReadonlyMap<string, Float32Array>,
  x: Float32Array,
  dIn: number,
  D: number,
  L: number,
): Float32Array {
  const w = (n: string) => {
    const v = params.get(`adaptor.image.${n}`);
    if (!v) throw new Error(`adaptor: missing tensor adaptor.image.${n}`);
    return v;
  };
  const n = x.length / dIn;
  const lin = (a: Float64Array, din: number, dout: number, W: Float32Array, b: Float32Array | null) => {
    const out = new Float64Array(dout);
    for (let j = 0; j < dout; j++) out[j] = b ? b[j]! : 0;
    for (let i = 0; i < din; i++) {
      const ai = a[i]!;
      if (ai !== 0) for (let j = 0; j < dout; j++) out[j]! += ai * W[i * dout + j]!;
    }
    return out;
  };
  const ln = (a: Float64Array, g: Float32Array, b: Float32Array) => {
    let mean = 0;
    for (const v of a) mean += v / a.length;
    let vr = 0;
    for (const v of a) vr += (v - mean) ** 2 / a.length;
    const s = 1 / Math.sqrt(vr + 1e-5);
    return a.map((v, i) => (v - mean) * s * g[i]! + b[i]!);
  };
  const gelu = (a: Float64Array) => a.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
  const out = new Float32Array(n * D);
  for (let r = 0; r < n; r++) {
    let h = lin(Float64Array.from(x.subarray(r * dIn, (r + 1) * dIn)), dIn, D, w('in.weight'), w('in.bias'));
    for (let l = 0; l < L; l++) {
      const a = ln(h, w(`layer${l}.ln1.weight`), w(`layer${l}.ln1.bias`));
      const att = lin(
        lin(a, D, D, w(`layer${l}.attn.v.weight`), w(`layer${l}.attn.v.bias`)),
        D,
        D,
        w(`layer${l}.attn.o.weight`),
        w(`layer${l}.attn.o.bias`),
      );
      h = h.map((v, i) => v + att[i]!);
      const m = ln(h, w(`layer${l}.ln2.weight`), w(`layer${l}.ln2.bias`));
      const mlp = lin(
        gelu(lin(m, D, 2 * D, w(`layer${l}.mlp.fc.weight`), w(`layer${l}.mlp.fc.bias`))),
        2 * D,
        D,
        w(`layer${l}.mlp.proj.weight`),
        w(`layer${l}.mlp.proj.bias`),
      );
      h = h.map((v, i) => v + mlp[i]!);
    }
    const e = lin(ln(h, w('ln_f.weight'), w('ln_f.bias')), D, D, w('out.weight'), null);
    const norm = Math.max(Math.sqrt(e.reduce((s, v) => s + v * v, 0)), 1e-12);
    for (let j = 0; j < D; j++) out[r * D + j] = e[j]! / norm;
  }
  return out;
}

/** The shapes of the image branch's tensors (to save them). */
export function imageBranchShapes(dIn: number, D: number, L: number): [string, number[]][] {
  return shapes('image', dIn, D, L);
}

/**
 * A trained head saved in the bundle, ready to classify pooled image features: visual head and
 * normalisation, then (mode 'adaptor') the Adaptor's image branch, then the linear head.
 */
export function loadAdaptorHead(bundle: CleftBundle, name: string, classNames?: readonly string[]) {
  const { entry, tensors } = readAdaptor(bundle, name);
  if (classNames && (classNames.length !== entry.classNames.length || classNames.some((c, i) => c !== entry.classNames[i])))
    throw new Error(
      `adaptor "${name}" was trained for classes ${entry.classNames.join(', ')} (task "${entry.task}"), not ${classNames.join(', ')}`,
    );
  const heads = bundle.heads.heads;
  if (entry.inputDim !== heads.projDim)
    throw new Error(`adaptor "${name}": input width ${entry.inputDim}, the bundle projects to ${heads.projDim}`);
  const weight = tensors.get('weight');
  const bias = tensors.get('bias');
  if (!weight || !bias) throw new Error(`${entry.file}: missing tensor weight or bias (adaptor "${name}")`);
  const D = entry.mode === 'adaptor' ? entry.adaptor!.dim : heads.projDim;
  if (weight.length !== entry.classNames.length * D) throw new Error(`${entry.file}: weight is not [${entry.classNames.length}, ${D}]`);
  return {
    entry: entry as BundleAdaptor,
    /** Probabilities [n][classes] of pooled image features [n, imageDim]. */
    probabilities(features: Float32Array): number[][] {
      const n = features.length / heads.imageDim;
      let x = projectAndNormalizeRows(features, n, heads.imageDim, heads.visualProjection, heads.projDim);
      if (entry.mode === 'adaptor') x = adaptImageRows(tensors, x, heads.projDim, D, entry.adaptor!.layers);
      return probeProbabilities(x, D, weight, bias);
    },
  };
}
