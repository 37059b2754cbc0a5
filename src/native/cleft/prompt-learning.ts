// CLEFT stage 2, prompt context learning: n_ctx learnable vectors (shared by all classes, or one set
// per class) put before each class name's tokens, fed through the frozen text encoder; the heads and
// logit scale are frozen; image features are computed once (cached) and the loss is the
// cross-entropy of the zero-shot logits:
//
//   class c text = GPT2([ctx ; wte(class tokens c)]) at the last class token (the EOS when tokenized)
//   logits       = exp(logit_scale) · normalize(P_img f_img) · normalize(P_txt text)ᵀ
//   loss         = CE(logits, labels)
//
// The graph is the engine's (gpt2Forward with a prefix + promptLoss); the gradient is checked against
// PyTorch's `prompt.grad.ctx` (reference-a) through this module in test/unit/native/cleft.
import * as fs from 'node:fs';
import { bindModelWeights, frozenWeightsId } from '../models/weights';
import { ParamStore } from '../models/encoders';
import { CHECKPOINT_ABOVE_BYTES, gpt2ActivationBytes, gpt2Forward, gpt2MatmulWeights, gpt2TextEmbedding } from '../models/gpt2';
import { headParams, promptLoss } from '../models/clip';
import { loadHfFolder, type HfModel } from '../models/hf-model';
import { ModelFormatError, readWeightF32 } from '../formats/hf-folder';
import { type Gpt2Config } from '../models/gpt2';
import type { Heads } from '../models/heads';
import type { Gpt2Tokenizer } from '../formats/tokenizer';
import type { TrainingSetup } from '../training/index';
import { createTrainer, arrayData, normalFrom, type RunOptions, type WorkflowTrainer } from './common';
import { trainValSplit } from './splits';
import { runLoop, type LoopResult, type WorkflowProgress } from './loop';
import { evaluate, type ClassificationReport } from './metrics';
import { meanCrossEntropy, takeRows } from './math';
import { imageEmbeddingsFromFeatures, zeroShotProbabilities } from './zero-shot';
import { seededRandom } from './random';
import type { TextModelRef } from './features';
import { sharedContextPromptFeatures } from './prompt-encoder';
import { padRows } from './features';
import { deviceForWeights } from '../models/embed';
import type { WeightPrecision } from '../../common/precision';

export type CtxInit =
  | { kind: 'values'; ctx: Float32Array; shape: number[] }
  /** Token embeddings of a phrase: the last n_ctx tokens, or random N(0, 0.02) vectors before it when shorter. */
  | { kind: 'phrase'; phrase: string; tokenizer: Gpt2Tokenizer }
  /** N(0, 0.02) (CoOp's random init), seeded. */
  | { kind: 'random' };

export interface PromptLearningOptions extends RunOptions {
  /** Frozen text encoder (an adapter is merged). */
  text: TextModelRef;
  heads: Heads;
  /** Cached pooled image features [N, heads.imageDim]. */
  imageFeatures: Float32Array;
  /** Class index per image. */
  labels: readonly number[];
  /** Class-name tokens per class, used as they are after the context (include the EOS to read the embedding there). */
  classIds: readonly (readonly number[])[];
  classNames?: readonly string[];
  /** Context vectors (default 16; CLEFT uses up to 30). Ignored with a `values` init (its shape wins). */
  nCtx?: number;
  /** One context per class (CoOp's class-specific contexts) instead of one shared by all. */
  classSpecific?: boolean;
  init: CtxInit;
  /** Fraction of each class's groups held out for validation and early stopping (default 0: train on all). */
  valFraction?: number;
  /**
   * Group of each image (its patient, else its study): a group's images are all trained on or all
   * held out. Without it (a prepared data file without groups) every image is its own group.
   */
  groups?: readonly (string | number)[];
  /** Rows to train on and to validate on, chosen by the caller (a named split); other rows are not used. */
  split?: { train: readonly number[]; val: readonly number[] };
  /** Validations between which patience counts (default steps/10). */
  evalEvery?: number;
  patience?: number;
  /** What counts as a real improvement of the validation loss for patience (loop.ts Validation). */
  improves?: (loss: number, reference: number | null) => boolean;
  /** Bootstrap samples for the before/after reports (default 1000). */
  bootstrapSamples?: number;
  /**
   * Class embeddings of the task's own prompts ([classes, projDim], as one-click classification
   * uses them). With them "before" is that classification, the baseline a researcher compares
   * against; without (a prepared data file has no prompts) it is the initial context.
   */
  baselineClassEmbeddings?: Float32Array;
  /** The frozen text encoder's weights: float32 (default) or int8 (with the transposed quantization for the gradient). */
  weights?: WeightPrecision;
  /** Recompute the text encoder's blocks in the backward (default: for large activations; promptLearningSetup). */
  recompute?: boolean;
}

export interface PromptLearningResult {
  /** Learned context [nCtx, d] or [classes, nCtx, d]. */
  ctx: Float32Array;
  shape: number[];
  initCtx: Float32Array;
  loop: LoopResult;
  /** Validation (or, without one, training) reports: before (the task's prompts, else the initial
   * context), with the initial context, and with the learned one. */
  before: ClassificationReport | null;
  initial: ClassificationReport | null;
  after: ClassificationReport | null;
  split: { train: number[]; val: number[] };
  /** Flat numbers for PromptSetMeta.metrics ({accuracy, balancedAccuracy, macroAuc, loss}). */
  metrics: { before: Record<string, number> | null; after: Record<string, number> | null };
}

/** Reads rows of wte (F32 files read in place, only the rows needed). */
export function tokenEmbeddings(model: HfModel, ids: readonly number[]): Float32Array {
  const ref = model.weights.get('wte.weight');
  if (!ref) throw new ModelFormatError(model.configFile, 'no token embedding', 'wte.weight');
  const d = ref.shape[1]!;
  const out = new Float32Array(ids.length * d);
  if (ref.dtype === 'F32') {
    const fd = fs.openSync(ref.file, 'r');
    try {
      ids.forEach((id, i) => {
        const buf = Buffer.alloc(d * 4);
        fs.readSync(fd, buf, 0, d * 4, ref.byteOffset + id * d * 4);
        out.set(new Float32Array(buf.buffer, buf.byteOffset, d), i * d);
      });
    } finally {
      fs.closeSync(fd);
    }
  } else {
    const all = readWeightF32(ref);
    ids.forEach((id, i) => out.set(all.subarray(id * d, (id + 1) * d), i * d));
  }
  return out;
}

/** The initial context: [nCtx, d] (or repeated per class for class-specific contexts). */
export function initialContext(
  model: HfModel,
  init: CtxInit,
  nCtx: number,
  classes: number,
  classSpecific: boolean,
  seed: number,
): { ctx: Float32Array; shape: number[] } {
  const d = (model.config as Gpt2Config).nEmbd;
  if (init.kind === 'values') {
    const n = init.shape.at(-2)!;
    if (init.shape.at(-1) !== d) throw new Error(`initial ctx is [${init.shape}], the text encoder's width is ${d}`);
    if (init.ctx.length !== init.shape.reduce((a, b) => a * b, 1)) throw new Error('initial ctx: values do not fill its shape');
    if (init.shape.length === 3 || !classSpecific) return { ctx: init.ctx.slice(), shape: [...init.shape] };
    const out = new Float32Array(classes * n * d);
    for (let c = 0; c < classes; c++) out.set(init.ctx, c * n * d);
    return { ctx: out, shape: [classes, n, d] };
  }
  const normal = normalFrom(seededRandom((seed ^ 0x2c7) >>> 0));
  const base = new Float32Array(nCtx * d);
  for (let i = 0; i < base.length; i++) base[i] = 0.02 * normal();
  if (init.kind === 'phrase') {
    const ids = init.tokenizer.encode(init.phrase).slice(-nCtx);
    base.set(tokenEmbeddings(model, ids), (nCtx - ids.length) * d);
  }
  if (!classSpecific) return { ctx: base, shape: [nCtx, d] };
  const out = new Float32Array(classes * nCtx * d);
  for (let c = 0; c < classes; c++) out.set(base, c * nCtx * d);
  return { ctx: out, shape: [classes, nCtx, d] };
}

/**
 * The frozen text encoder's bytes as each session holds them in float32 (training/one-session.ts
 * `holdFrozenOnce`); undefined with int8 weights (small, and MatMulNBits needs them prepacked).
 */
export function textFrozenFloat32Bytes(model: { numParameters: number }, weights?: WeightPrecision): number | undefined {
  return weights === 'int8' ? undefined : 4 * model.numParameters;
}

/** The training setup: trainable `ctx`, frozen GPT-2 (+ merged adapter) and heads, cached image features. */
export function promptLearningSetup(o: {
  text: TextModelRef;
  heads: Heads;
  classIds: readonly (readonly number[])[];
  ctxShape: number[];
  weightsDir: string;
  /** Compute the shared context once (default true; false = gpt2Forward with a prefix, for comparison). */
  sharedPrefix?: boolean;
  /** float32 (default) or int8: the matmul weights quantized, with Wᵀ's quantization for dctx. */
  weights?: WeightPrecision;
  /** Recompute blocks in the backward (default: when gpt2ActivationBytes is above CHECKPOINT_ABOVE_BYTES). */
  recompute?: boolean;
}): TrainingSetup {
  const model = loadHfFolder(o.text.modelDir);
  if (model.config.family !== 'gpt2')
    throw new ModelFormatError(model.configFile, `the text encoder must be GPT-2 family (${model.config.family})`);
  const cfg = model.config;
  const nCtx = o.ctxShape.at(-2)!;
  const longest = Math.max(...o.classIds.map((r) => r.length));
  if (nCtx + longest > cfg.nPositions)
    throw new Error(`${nCtx} context vectors + ${longest} class tokens exceed n_positions ${cfg.nPositions}`);
  for (const row of o.classIds)
    for (const id of row)
      if (!(id >= 0 && id < cfg.vocabSize)) throw new Error(`class token id ${id} is outside the vocabulary (${cfg.vocabSize})`);
  const bound = bindModelWeights(model, {
    cacheDir: o.weightsDir,
    ...(o.text.adapterDir ? { adapterDir: o.text.adapterDir } : {}),
    ...(o.weights === 'int8' ? { int8: { weights: gpt2MatmulWeights(cfg), backward: true } } : {}),
  });
  const { ids, lengths, seq } = padRows(o.classIds, 0);
  const C = o.classIds.length;
  const shared = o.ctxShape.length === 2 && o.sharedPrefix !== false;
  const rows = shared ? nCtx + C * seq : C * (nCtx + seq);
  const recompute = o.recompute ?? gpt2ActivationBytes(cfg, rows) > CHECKPOINT_ABOVE_BYTES;
  return {
    name: 'cleft-prompt-learning',
    frozenWeights: frozenWeightsId(o.text.modelDir, o.text.adapterDir),
    frozenFloat32Bytes: textFrozenFloat32Bytes(model, o.weights),
    build(ctx) {
      const g = ctx.graph;
      const feats = g.input('image_features', 'float32', ['batch', o.heads.imageDim]);
      const ctxP = g.param('ctx', o.ctxShape, { trainable: true });
      const classIds = g.constant(ids, 'int64', [C, seq]);
      const classLengths = g.constant(lengths, 'int64', [C]);
      const w = new ParamStore(g, bound.source, 'text.').forTarget(ctx.target);
      // shared context: computed once per layer (prompt-encoder.ts); class-specific: the plain prefix forward
      const cls = shared
        ? sharedContextPromptFeatures(cfg, w, ctxP, classIds, classLengths, { recompute })
        : gpt2TextEmbedding(gpt2Forward(cfg, w, { inputIds: classIds, prefix: ctxP }, undefined, { recompute }), classLengths);
      const hp = headParams(g, o.heads);
      const labels = g.input('labels', 'int64', ['batch']);
      const r = promptLoss(feats, cls, labels, hp);
      return { loss: r.loss, outputs: { probs: r.probs } };
    },
  };
}

// Non-finite values (an interval with no usable bootstrap resample) are left out: the manifest takes numbers only.
const flat = (r: ClassificationReport | null, loss: number | null): Record<string, number> | null =>
  r
    ? finiteOnly({
        accuracy: r.accuracy.estimate,
        balancedAccuracy: r.balancedAccuracy,
        ...(r.macroAuc ? { macroAuc: r.macroAuc.estimate, macroAucLow: r.macroAuc.low, macroAucHigh: r.macroAuc.high } : {}),
        ece: r.ece,
        ...(loss !== null ? { loss } : {}),
        n: r.n,
      })
    : null;
const finiteOnly = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([, v]) => Number.isFinite(v)));

/** Zero-shot with fixed class embeddings on the given rows (the task's hand-written prompts). */
function baselineReport(
  heads: Heads,
  feats: Float32Array,
  rows: readonly number[],
  labels: readonly number[],
  classEmb: Float32Array,
): { probs: number[][]; loss: number } {
  const img = imageEmbeddingsFromFeatures(heads, takeRows(feats, heads.imageDim, rows));
  const probs = zeroShotProbabilities(img, classEmb, heads.projDim, heads.logitScale);
  return { probs, loss: meanCrossEntropy(probs, labels) };
}

/** Probabilities [rows][classes] of the forward graph for cached image features (ctx: given or current). */
async function predict(
  wt: WorkflowTrainer,
  feats: Float32Array,
  dim: number,
  rows: readonly number[],
  ctx?: Float32Array,
): Promise<number[][]> {
  const out: number[][] = [];
  for (let s = 0; s < rows.length; s += 256) {
    const chunk = rows.slice(s, s + 256);
    const x = takeRows(feats, dim, chunk);
    const res = await wt.forward(
      { image_features: { type: 'float32', dims: [chunk.length, dim], data: x } },
      ctx ? new Map([['ctx', ctx]]) : undefined,
    );
    const p = res.probs!.data as Float32Array;
    const k = res.probs!.dims[1]!;
    for (let i = 0; i < chunk.length; i++) out.push(Array.from(p.subarray(i * k, (i + 1) * k)));
  }
  return out;
}

/** Builds the graphs and the trainer of a prompt-learning run (used by `learnPromptContext`; tests read gradients from it). */
export async function openPromptLearning(o: PromptLearningOptions) {
  const heads = o.heads;
  const dim = heads.imageDim;
  const n = o.labels.length;
  if (o.imageFeatures.length !== n * dim) throw new Error(`imageFeatures has ${o.imageFeatures.length / dim} rows for ${n} labels`);
  const C = o.classIds.length;
  o.labels.forEach((y, i) => {
    if (!Number.isInteger(y) || y < 0 || y >= C) throw new Error(`label ${y} of image ${i} is not a class index (0..${C - 1})`);
  });
  const model = loadHfFolder(o.text.modelDir);
  const init = initialContext(model, o.init, o.nCtx ?? 16, C, o.classSpecific ?? false, o.seed ?? 0);
  const split = o.split
    ? { train: [...o.split.train], val: [...o.split.val] }
    : trainValSplit(o.labels, o.valFraction ?? 0, o.seed ?? 0, o.groups ?? null);
  if (split.train.length === 0) throw new Error('prompt learning: no training images (the split leaves none)');
  const names = (o.classNames ?? o.classIds.map((_, i) => `class ${i}`)).map(String);

  const setup = promptLearningSetup({
    text: o.text,
    heads,
    classIds: o.classIds,
    ctxShape: init.shape,
    weightsDir: o.workDir,
    ...(o.weights ? { weights: o.weights } : {}),
    ...(o.recompute !== undefined ? { recompute: o.recompute } : {}),
  });
  const labels64 = BigInt64Array.from(o.labels, (y) => BigInt(y));
  const data = arrayData(
    { image_features: { data: o.imageFeatures, rowShape: [dim] }, labels: { data: labels64, rowShape: [] } },
    split.train,
  );
  const device = deviceForWeights(o.device, o.weights);
  // A large float32 text encoder is held by one session at a time: the train step, or the forward
  // that evaluates (setup.frozenFloat32Bytes; docs/engine.md#training-memory).
  const wt = await createTrainer(setup, { ...o, ...(device !== undefined ? { device } : {}) }, data, new Map([['ctx', init.ctx]]));
  return { wt, init, split, names, dim };
}

/** Learns the context; returns it with the before/after metrics (ready for `addPromptSet`). */
export async function learnPromptContext(o: PromptLearningOptions): Promise<PromptLearningResult> {
  const { wt, init, split, names, dim } = await openPromptLearning(o);
  const trainer = wt.trainer;
  try {
    const evalRows = split.val.length ? split.val : split.train;
    const yEval = evalRows.map((r) => o.labels[r]!);
    const report = async (ctx?: Float32Array) => {
      const p = await predict(wt, o.imageFeatures, dim, evalRows, ctx);
      return { probs: p, loss: meanCrossEntropy(p, yEval) };
    };
    const boot = { bootstrapSamples: o.bootstrapSamples ?? 1000, seed: o.seed ?? 0 };
    const validation = split.val.length
      ? {
          every: o.evalEvery ?? Math.max(1, Math.ceil(o.steps / 10)),
          ...(o.patience !== undefined ? { patience: o.patience } : {}),
          ...(o.improves ? { improves: o.improves } : {}),
          evaluate: async () => {
            const r = await report();
            const rep = evaluate(yEval, r.probs, names, { bootstrapSamples: 0 });
            return {
              loss: r.loss,
              metrics: {
                accuracy: rep.accuracy.estimate,
                balancedAccuracy: rep.balancedAccuracy,
                ...(rep.macroAuc ? { macroAuc: rep.macroAuc.estimate } : {}),
              },
            };
          },
        }
      : undefined;
    const loop = await runLoop(trainer, {
      steps: o.steps,
      label: 'prompt learning',
      ...(validation ? { validation } : {}),
      ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    const ctx = loop.params.get('ctx')!;
    // The reports after training, with the forward session the last validation left (no switch
    // back and forth before training): the kept context (best on validation, else the last), and
    // "before" from the initial context or the task's prompts (so a resumed run reports it too).
    const probsAfter = await predict(wt, o.imageFeatures, dim, evalRows, ctx);
    const after = evaluate(yEval, probsAfter, names, boot);
    const i0 = await report(init.ctx);
    const initial = evaluate(yEval, i0.probs, names, boot);
    const b = o.baselineClassEmbeddings ? baselineReport(o.heads, o.imageFeatures, evalRows, yEval, o.baselineClassEmbeddings) : i0;
    const before = o.baselineClassEmbeddings ? evaluate(yEval, b.probs, names, boot) : initial;
    return {
      ctx,
      shape: init.shape,
      initCtx: init.ctx,
      loop,
      before,
      initial,
      after,
      split,
      metrics: { before: flat(before, b.loss), after: flat(after, meanCrossEntropy(probsAfter, yEval)) },
    };
  } finally {
    await wt.close();
  }
}

export type { WorkflowProgress };
