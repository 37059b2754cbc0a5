// CLEFT stage 1, contrastive training on image-report pairs:
//
//   text  = GPT-2 (+ LoRA, unmerged) state at the first EOS after the report
//   image = ViT / DINOv2 (frozen, LoRA'd, or fully trained) pooled feature (CLS or prenorm-mean)
//   logits_per_image = exp(logit_scale) · normalize(P_img image) · normalize(P_txt text)ᵀ
//   loss = (CE(logits, arange) + CE(logitsᵀ, arange)) / 2        (symmetric InfoNCE over the batch)
//
// Trainable: LoRA A/B (text: `c_attn` by default, r 8, alpha 32, dropout 0.1), the projections and the
// logit scale; per encoder also 'full' (every weight: small models trained from scratch, the demo).
// With accumulation, each micro-batch is contrastive over its own pairs and the gradients of k
// micro-batches are averaged (not the same as one batch k times larger: negatives stay within a
// micro-batch). Results export as PEFT adapters (byte-compatible with PEFT) + heads.safetensors.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Graph, Tensor } from '../graph/index';
import { bindModelWeights, frozenWeightsId, type MatmulWeight } from '../models/weights';
import { ParamStore, type WeightSource } from '../models/encoders';
import { CHECKPOINT_ABOVE_BYTES, gpt2ActivationBytes, gpt2Forward, gpt2MatmulWeights, gpt2TextEmbedding } from '../models/gpt2';
import { visionForward, visionMatmulWeights, poolImage, type ImagePooling, type VisionConfig } from '../models/vit';
import { deviceForWeights } from '../models/embed';
import type { WeightPrecision } from '../../common/precision';
import { clipHead, clipLoss, headParams } from '../models/clip';
import { loraModulesFor, loraModulesOf, trainableLora, type LoraModuleSpec } from '../models/lora';
import { loadHfFolder, type HfModel } from '../models/hf-model';
import { readWeightF32, writeHfFolder } from '../formats/hf-folder';
import { type Gpt2Config } from '../models/gpt2';
import { createPeftAdapter, parseLoraConfig, peftConfigDict, readPeftAdapter, writePeftAdapter, type PeftAdapter } from '../formats/peft';
import { writeHeads, type Heads } from '../models/heads';
import { numel, toFloat32 } from '../formats/safetensors';
import { combinedWeights } from '../runtime/session-cache';
import { DROPOUT_SEED, type TrainData, type TrainingSetup } from '../training/index';
import { arrayData, createTrainer, type RunOptions, type WorkflowTrainer } from './common';
import { trainValSplit } from './splits';
import { runLoop, type LoopResult } from './loop';
import { scaledCosineLogits } from './math';
import { seededRandom } from './random';

/** How one encoder is trained. */
export type EncoderTraining =
  /** Frozen; an existing PEFT adapter is merged into the frozen weights (kept as it is). */
  | { mode: 'frozen'; adapterDir?: string | null }
  /** LoRA from an existing PEFT adapter (keeps its rank, alpha, targets; trained from its values) or new. */
  | { mode: 'lora'; adapterDir?: string | null; r?: number; alpha?: number; targets?: string[]; dropout?: number }
  /** Every weight trainable (small models from scratch); `freeze` names (regexps) stay frozen, e.g. token embeddings. */
  | { mode: 'full'; freeze?: RegExp[] };

/**
 * CLEFT's "last blocks trainable" for a ViT / DINOv2 image encoder: 'full' training with the patch
 * embeddings and every block but the last `blocks` frozen (the final layer norm trains too).
 */
export function lastBlocksTraining(model: HfModel, blocks: number): EncoderTraining {
  const c = model.config;
  if (c.family === 'gpt2') throw new Error(`${model.configFile}: last-blocks training is for the image encoder, this is gpt2`);
  const layers = c.numHiddenLayers;
  if (!Number.isInteger(blocks) || blocks < 1 || blocks > layers)
    throw new Error(
      `${model.configFile}: the number of trainable last blocks must be 1-${layers} (the model has ${layers}), got ${blocks}`,
    );
  const freeze = [/^embeddings\./, ...Array.from({ length: layers - blocks }, (_, i) => new RegExp(`^encoder\\.layer\\.${i}\\.`))];
  return { mode: 'full', freeze };
}

export const DEFAULT_LORA = { r: 8, alpha: 32, dropout: 0.1, textTargets: ['c_attn'], imageTargets: ['query', 'value'] } as const;

/** Pixel rows read on demand (e.g. from a file), so a large data set need not sit in memory. */
export interface PixelSource {
  /** Rows `rows` of [N, 3, H, W], concatenated in that order. */
  read(rows: readonly number[]): Float32Array;
}

export interface PairData {
  /** [N, 3, H, W] normalised, in memory or read on demand. */
  pixelValues: Float32Array | PixelSource;
  pixelShape: readonly [number, number, number, number];
  /** [N, T] right padded. */
  inputIds: BigInt64Array;
  /** [N] real tokens (with the EOS). */
  lengths: BigInt64Array;
}

export interface ContrastiveOptions extends RunOptions {
  text: { modelDir: string; training: EncoderTraining };
  image: { modelDir: string; pool: ImagePooling; training: EncoderTraining };
  /** Initial heads (trained unless trainHeads is false). */
  heads: Heads;
  trainHeads?: boolean;
  data: PairData;
  /** Held-out fraction of pairs for validation loss and retrieval recall (default 0). */
  valFraction?: number;
  /**
   * Group of each pair (e.g. its study): a group's pairs all go to training or all to validation, so
   * images sharing a report are never on both sides. Default: every pair its own group.
   */
  groups?: readonly (string | number)[];
  /** Pairs to train on and to validate on, chosen by the caller (a named split); other pairs are not used. */
  split?: { train: readonly number[]; val: readonly number[] };
  evalEvery?: number;
  patience?: number;
  /** Keep the parameters with the lowest validation loss (default) or the last ones. */
  keep?: 'best' | 'last';
  /**
   * The frozen base weights: float32 (exact, default) or int8 (docs/engine.md#int8-weights): the
   * frozen matmul weights of both encoders quantized, with Wᵀ's quantization for the input gradient.
   * LoRA A/B, heads and fully trained weights stay float32; the adapter applies to the float32 base.
   */
  weights?: WeightPrecision;
}

export interface ContrastiveResult {
  loop: LoopResult;
  /** Trained tensors by trainable name (`text.<module>.lora_A`, `text_projection.weight`, ...). */
  params: Map<string, Float32Array>;
  heads: Heads;
  textAdapter: PeftAdapter | null;
  imageAdapter: PeftAdapter | null;
  /** Validation metrics of the kept parameters (loss, recall@1/@5 both ways), null without validation. */
  validation: Record<string, number> | null;
  /** The same metrics at the initial parameters (also on a resumed run), null without validation. */
  validationBefore: Record<string, number> | null;
  split: { train: number[]; val: number[] };
}

/** A ParamStore whose weights are trainable graph inputs (full training), except `frozen` names; names `<prefix><name>`. */
class TrainableStore extends ParamStore {
  private readonly made = new Map<string, Tensor>();
  constructor(
    g: Graph,
    private readonly model: HfModel,
    source: WeightSource,
    prefix: string,
    private readonly frozen: (name: string) => boolean,
  ) {
    super(g, source, prefix);
  }
  protected override frozenWeight(name: string): boolean {
    return this.frozen(name);
  }
  // a trained weight is a float32 graph input, never its int8 quantization
  override int8(name: string) {
    return this.frozen(name) ? super.int8(name) : undefined;
  }
  override get(name: string): Tensor {
    if (this.frozen(name)) return super.get(name);
    let t = this.made.get(name);
    if (!t) {
      if (!this.model.weights.has(name)) throw new Error(`model weight "${name}" is missing`);
      t = this.graph.param(this.prefix + name, [...this.model.weights.get(name)!.shape], { trainable: true });
      this.made.set(name, t);
    }
    return t;
  }
}

/** Whether a weight is trainable under a full-training spec. */
function fullTrainable(t: EncoderTraining, name: string): boolean {
  return t.mode === 'full' && !(t.freeze ?? []).some((r) => r.test(name));
}

/**
 * Float32 bytes of the frozen weights of both encoders (all but fully trained ones: LoRA leaves the
 * base frozen) that each session of the contrastive graphs holds, for createTrainer's
 * `holdFrozenOnce` (docs/engine.md#training-memory); undefined with int8 weights (small, and
 * MatMulNBits needs them prepacked).
 */
export function contrastiveFrozenFloat32Bytes(
  text: { model: HfModel; training: EncoderTraining },
  image: { model: HfModel; training: EncoderTraining },
  weights?: WeightPrecision,
): number | undefined {
  if (weights === 'int8') return undefined;
  let n = 0;
  for (const e of [text, image]) for (const [name, ref] of e.model.weights) if (!fullTrainable(e.training, name)) n += numel(ref.shape);
  return 4 * n;
}

/** The frozen weights of the text and the image encoder as the contrastive graphs hold them (an adapter merged only when frozen). */
function contrastiveFrozenWeights(o: Pick<ContrastiveOptions, 'text' | 'image'>): string {
  const id = (e: { modelDir: string; training: EncoderTraining }) =>
    frozenWeightsId(e.modelDir, e.training.mode === 'frozen' ? e.training.adapterDir : null);
  return combinedWeights([id(o.text), id(o.image)]);
}

interface LoraPlan {
  modules: LoraModuleSpec[];
  adapter: PeftAdapter | null;
  r: number;
  alpha: number;
  targets: string[];
  dropout: number;
}

function planLora(model: HfModel, t: Extract<EncoderTraining, { mode: 'lora' }>, side: 'text' | 'image'): LoraPlan {
  if (t.adapterDir) {
    const adapter = readPeftAdapter(t.adapterDir, { family: model.config.family });
    const c = adapter.config;
    return {
      modules: loraModulesOf(adapter),
      adapter,
      r: c.r,
      alpha: c.loraAlpha,
      targets: typeof c.targetModules === 'string' ? [c.targetModules] : c.targetModules,
      dropout: t.dropout ?? c.loraDropout,
    };
  }
  const r = t.r ?? DEFAULT_LORA.r;
  const alpha = t.alpha ?? DEFAULT_LORA.alpha;
  const targets = t.targets ?? [...(side === 'text' ? DEFAULT_LORA.textTargets : DEFAULT_LORA.imageTargets)];
  const config = parseLoraConfig(peftConfigDict({ r, loraAlpha: alpha, targetModules: targets, fanInFanOut: side === 'text' }));
  const modules = loraModulesFor(model, config);
  if (!modules.length) throw new Error(`LoRA targets ${JSON.stringify(targets)} match no module of ${model.dir}`);
  return { modules, adapter: null, r, alpha, targets, dropout: t.dropout ?? DEFAULT_LORA.dropout };
}

/** PEFT's initial values: A ~ kaiming_uniform(a=√5) = U(±1/√in), B = 0; or the adapter's values. */
function loraInit(plan: LoraPlan, prefix: string, seed: number, into: Map<string, Float32Array>): void {
  const rand = seededRandom(seed);
  for (const m of plan.modules) {
    const a = plan.adapter?.modules.get(m.module);
    if (a) {
      into.set(`${prefix}${m.module}.lora_A`, toFloat32(a.A).slice());
      into.set(`${prefix}${m.module}.lora_B`, toFloat32(a.B).slice());
    } else {
      const bound = 1 / Math.sqrt(m.inFeatures);
      into.set(
        `${prefix}${m.module}.lora_A`,
        Float32Array.from({ length: m.r * m.inFeatures }, () => (2 * rand() - 1) * bound),
      );
      into.set(`${prefix}${m.module}.lora_B`, new Float32Array(m.outFeatures * m.r));
    }
  }
}

/** The dropout seed input the trainer feeds (created by the build context on first use). */
function dropoutSeed(ctx: { graph: Graph; dropout(x: Tensor, rate: number): Tensor }): Tensor {
  ctx.dropout(ctx.graph.constant([0], 'float32', [1]), 0.5);
  const node = ctx.graph.nodes.find((n) => n.leaf?.kind === 'input' && n.leaf.name === DROPOUT_SEED);
  if (!node) throw new Error('no dropout seed input');
  return node.outputs[0]!;
}

export interface ContrastivePlan {
  setup: TrainingSetup;
  initial: Map<string, Float32Array>;
  text: { model: HfModel; lora: LoraPlan | null };
  image: { model: HfModel; lora: LoraPlan | null };
}

/** Builds the training setup and the initial values of every trainable tensor. */
export function contrastivePlan(
  o: Pick<ContrastiveOptions, 'text' | 'image' | 'heads' | 'trainHeads' | 'data' | 'seed' | 'workDir' | 'weights'> & {
    batchSize?: number;
  },
): ContrastivePlan {
  const text = loadHfFolder(o.text.modelDir);
  const image = loadHfFolder(o.image.modelDir);
  if (text.config.family !== 'gpt2') throw new Error(`${o.text.modelDir}: the text encoder must be GPT-2 family`);
  if (image.config.family === 'gpt2') throw new Error(`${o.image.modelDir}: the image encoder must be ViT / DINOv2`);
  const tcfg = text.config as Gpt2Config;
  const icfg = image.config as VisionConfig;
  if (o.heads.textDim !== tcfg.nEmbd || o.heads.imageDim !== icfg.hiddenSize)
    throw new Error(`heads take ${o.heads.textDim}/${o.heads.imageDim}-d features, the encoders give ${tcfg.nEmbd}/${icfg.hiddenSize}`);
  const tLora = o.text.training.mode === 'lora' ? planLora(text, o.text.training, 'text') : null;
  const iLora = o.image.training.mode === 'lora' ? planLora(image, o.image.training, 'image') : null;
  const seed = o.seed ?? 0;
  const initial = new Map<string, Float32Array>();
  const [, , H, W] = o.data.pixelShape;
  const mergedAdapter = (t: EncoderTraining) => (t.mode === 'frozen' && t.adapterDir ? { adapterDir: t.adapterDir } : {});
  // int8: the frozen matmul weights (not those trained in full); with their transposed quantization
  // (backward) wherever a gradient passes through them, i.e. unless the whole encoder is frozen
  const int8Plan = (t: EncoderTraining, list: MatmulWeight[]) =>
    o.weights === 'int8' ? { int8: { weights: list.filter((m) => !fullTrainable(t, m.name)), backward: t.mode !== 'frozen' } } : {};
  const bindFrozen = (m: HfModel, t: EncoderTraining, list: MatmulWeight[]) =>
    bindModelWeights(m, { cacheDir: o.workDir, onWarning: () => {}, ...mergedAdapter(t), ...int8Plan(t, list) }).source;
  const tFrozen = bindFrozen(text, o.text.training, gpt2MatmulWeights(tcfg));
  const iFrozen = bindFrozen(image, o.image.training, visionMatmulWeights(icfg));
  const tFull = o.text.training.mode === 'full';
  const iFull = o.image.training.mode === 'full';
  const trainHeads = o.trainHeads ?? true;

  const setup: TrainingSetup = {
    name: 'cleft-contrastive',
    // every session holds both encoders: counted for each (session-cache.ts combinedWeights)
    frozenWeights: contrastiveFrozenWeights(o),
    frozenFloat32Bytes: contrastiveFrozenFloat32Bytes(
      { model: text, training: o.text.training },
      { model: image, training: o.image.training },
      o.weights,
    ),
    build(ctx) {
      const g = ctx.graph;
      const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
      const lengths = g.input('lengths', 'int64', ['batch']);
      const px = g.input('pixel_values', 'float32', ['batch', 3, H, W]);
      const needSeed = ctx.training && ((tLora?.dropout ?? 0) > 0 || (iLora?.dropout ?? 0) > 0);
      const seedT = needSeed ? dropoutSeed(ctx) : undefined;
      const hooks = (plan: LoraPlan | null, prefix: string) =>
        plan
          ? trainableLora(g, plan.modules, {
              prefix,
              dropout: ctx.training ? plan.dropout : 0,
              ...(seedT && plan.dropout > 0 ? { seed: seedT } : {}),
            })
          : undefined;
      const tw = tFull
        ? new TrainableStore(g, text, tFrozen, 'text.', (n) => !fullTrainable(o.text.training, n))
        : new ParamStore(g, tFrozen, 'text.');
      tw.forTarget(ctx.target);
      const iw = iFull
        ? new TrainableStore(g, image, iFrozen, 'image.', (n) => !fullTrainable(o.image.training, n))
        : new ParamStore(g, iFrozen, 'image.');
      const tl = hooks(tLora, 'text.');
      const il = hooks(iLora, 'image.');
      // a large text encoder recomputes its blocks in the backward (docs/engine.md#training-memory)
      const rows = (o.batchSize ?? o.data.lengths.length) * (o.data.inputIds.length / o.data.lengths.length);
      const recompute = gpt2ActivationBytes(tcfg, rows) > CHECKPOINT_ABOVE_BYTES;
      const txt = gpt2TextEmbedding(gpt2Forward(tcfg, tw, { inputIds: ids }, tl, { recompute }), lengths);
      const img = poolImage(visionForward(icfg, iw, px, il ? { lora: il } : {}), o.image.pool);
      const hp = headParams(g, o.heads, { trainable: trainHeads });
      const out = clipHead(img, txt, hp);
      return { loss: clipLoss(out.logitsPerImage), outputs: { image_embedding: out.image, text_embedding: out.text } };
    },
  };
  if (tLora) loraInit(tLora, 'text.', seed ^ 0x7e47, initial);
  if (iLora) loraInit(iLora, 'image.', seed ^ 0x13a6e, initial);
  for (const [n, ref] of text.weights) if (fullTrainable(o.text.training, n)) initial.set(`text.${n}`, readWeightF32(ref));
  for (const [n, ref] of image.weights) if (fullTrainable(o.image.training, n)) initial.set(`image.${n}`, readWeightF32(ref));
  if (trainHeads) {
    initial.set('text_projection.weight', o.heads.textProjection.slice());
    initial.set('visual_projection.weight', o.heads.visualProjection.slice());
    initial.set('logit_scale', Float32Array.of(o.heads.logitScale));
  }
  return { setup, initial, text: { model: text, lora: tLora }, image: { model: image, lora: iLora } };
}

/** Symmetric InfoNCE and recall@k (both directions) of normalised embeddings. */
export function retrievalMetrics(img: Float32Array, txt: Float32Array, p: number, logitScale: number): Record<string, number> {
  const n = img.length / p;
  const logits = scaledCosineLogits(img, txt, p, logitScale);
  const ce = (get: (i: number, j: number) => number) => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      let m = -Infinity;
      for (let j = 0; j < n; j++) m = Math.max(m, get(i, j));
      let z = 0;
      for (let j = 0; j < n; j++) z += Math.exp(get(i, j) - m);
      s += m + Math.log(z) - get(i, i);
    }
    return s / n;
  };
  const recall = (get: (i: number, j: number) => number, k: number) => {
    let hit = 0;
    for (let i = 0; i < n; i++) {
      let rank = 0;
      for (let j = 0; j < n; j++) if (get(i, j) > get(i, i)) rank++;
      if (rank < k) hit++;
    }
    return hit / n;
  };
  const i2t = (i: number, j: number) => logits[i * n + j]!;
  const t2i = (i: number, j: number) => logits[j * n + i]!;
  return {
    loss: (ce(i2t) + ce(t2i)) / 2,
    recallAt1ImageToText: recall(i2t, 1),
    recallAt5ImageToText: recall(i2t, 5),
    recallAt1TextToImage: recall(t2i, 1),
    recallAt5TextToImage: recall(t2i, 5),
  };
}

/** Pixel rows of the pairs `rows`, [rows.length, 3, H, W]. */
function pixelRows(data: PairData, rows: readonly number[]): Float32Array {
  const src = data.pixelValues;
  if (!(src instanceof Float32Array)) return src.read(rows);
  const [, c, h, w] = data.pixelShape;
  const per = c * h * w;
  const out = new Float32Array(rows.length * per);
  rows.forEach((r, i) => out.set(src.subarray(r * per, (r + 1) * per), i * per));
  return out;
}

/** Normalised embeddings of rows through forward.onnx (for validation). */
async function embedPairs(wt: WorkflowTrainer, data: PairData, rows: readonly number[], batch: number, params?: Map<string, Float32Array>) {
  const [, c, h, w] = data.pixelShape;
  const T = data.inputIds.length / data.lengths.length;
  const img: Float32Array[] = [];
  const txt: Float32Array[] = [];
  for (let s = 0; s < rows.length; s += batch) {
    const chunk = rows.slice(s, s + batch);
    const px = pixelRows(data, chunk);
    const ids = new BigInt64Array(chunk.length * T);
    const len = new BigInt64Array(chunk.length);
    chunk.forEach((r, i) => {
      ids.set(data.inputIds.subarray(r * T, (r + 1) * T), i * T);
      len[i] = data.lengths[r]!;
    });
    const out = await wt.forward(
      {
        pixel_values: { type: 'float32', dims: [chunk.length, c, h, w], data: px },
        input_ids: { type: 'int64', dims: [chunk.length, T], data: ids },
        lengths: { type: 'int64', dims: [chunk.length], data: len },
      },
      params,
    );
    img.push(out.image_embedding!.data as Float32Array);
    txt.push(out.text_embedding!.data as Float32Array);
  }
  const cat = (xs: Float32Array[]) => {
    const o = new Float32Array(xs.reduce((a, x) => a + x.length, 0));
    let k = 0;
    for (const x of xs) {
      o.set(x, k);
      k += x.length;
    }
    return o;
  };
  return { img: cat(img), txt: cat(txt) };
}

/** A seeded random split of pairs, or of their groups when given (pairs follow their group). */
export function pairSplit(
  n: number,
  fraction: number,
  seed: number,
  groups?: readonly (string | number)[],
): { train: number[]; val: number[] } {
  if (groups && groups.length !== n) throw new Error(`groups has ${groups.length} entries for ${n} pairs`);
  return trainValSplit(new Array<number>(n).fill(0), fraction, seed, groups ?? null);
}

export async function openContrastive(o: ContrastiveOptions) {
  const device = deviceForWeights(o.device, o.weights); // int8 on a GPU is refused before anything is quantized
  const plan = contrastivePlan(o);
  const n = o.data.lengths.length;
  const [, c, h, w] = o.data.pixelShape;
  const T = o.data.inputIds.length / n;
  const split = o.split ? { train: [...o.split.train], val: [...o.split.val] } : pairSplit(n, o.valFraction ?? 0, o.seed ?? 0, o.groups);
  const tokens = arrayData(
    {
      input_ids: { data: o.data.inputIds, rowShape: [T] },
      lengths: { data: o.data.lengths, rowShape: [] },
    },
    split.train,
  );
  const data: TrainData = {
    size: tokens.size,
    batch: (indices) => ({
      ...tokens.batch(indices),
      pixel_values: {
        type: 'float32',
        dims: [indices.length, c, h, w],
        data: pixelRows(
          o.data,
          indices.map((k) => split.train[k]!),
        ),
      },
    }),
  };
  const wt = await createTrainer(plan.setup, { ...o, ...(device !== undefined ? { device } : {}) }, data, plan.initial);
  return { plan, wt, split };
}

/** Trains; returns the parameters (best on validation when there is one), adapters and heads. */
export async function trainContrastive(o: ContrastiveOptions): Promise<ContrastiveResult> {
  const { plan, wt, split } = await openContrastive(o);
  try {
    const P = o.heads.projDim;
    const logitScaleOf = (p: Map<string, Float32Array>) => p.get('logit_scale')?.[0] ?? o.heads.logitScale;
    const validation = split.val.length
      ? {
          every: o.evalEvery ?? Math.max(1, Math.ceil(o.steps / 10)),
          ...(o.patience !== undefined ? { patience: o.patience } : {}),
          evaluate: async () => {
            const e = await embedPairs(wt, o.data, split.val, o.batchSize);
            await wt.trainer.syncToHost();
            const m = retrievalMetrics(e.img, e.txt, P, logitScaleOf(wt.trainer.paramsByName()));
            const { loss, ...metrics } = m;
            return { loss: loss!, metrics };
          },
        }
      : undefined;
    const loop = await runLoop(wt.trainer, {
      steps: o.steps,
      label: 'contrastive training',
      ...(o.keep ? { keep: o.keep } : {}),
      ...(validation ? { validation } : {}),
      ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    let valMetrics: Record<string, number> | null = null;
    let valBefore: Record<string, number> | null = null;
    if (split.val.length) {
      const e = await embedPairs(wt, o.data, split.val, o.batchSize, loop.params);
      valMetrics = retrievalMetrics(e.img, e.txt, P, logitScaleOf(loop.params));
      const b = await embedPairs(wt, o.data, split.val, o.batchSize, plan.initial);
      valBefore = retrievalMetrics(b.img, b.txt, P, logitScaleOf(plan.initial));
    }
    const p = loop.params;
    const heads: Heads = {
      ...o.heads,
      textProjection: p.get('text_projection.weight') ?? o.heads.textProjection,
      visualProjection: p.get('visual_projection.weight') ?? o.heads.visualProjection,
      logitScale: p.get('logit_scale')?.[0] ?? o.heads.logitScale,
    };
    return {
      loop,
      params: p,
      heads,
      textAdapter: plan.text.lora ? adapterFrom(plan.text.lora, plan.text.model, 'text.', p) : null,
      imageAdapter: plan.image.lora ? adapterFrom(plan.image.lora, plan.image.model, 'image.', p) : null,
      validation: valMetrics,
      validationBefore: valBefore,
      split,
    };
  } finally {
    await wt.close();
  }
}

/** The trained adapter: the input adapter with new A/B values (its files' formats kept), or a new PEFT adapter. */
export function adapterFrom(plan: LoraPlan, model: HfModel, prefix: string, params: Map<string, Float32Array>): PeftAdapter {
  const get = (m: string, k: 'lora_A' | 'lora_B') => {
    const v = params.get(`${prefix}${m}.${k}`);
    if (!v) throw new Error(`no trained values for ${prefix}${m}.${k}`);
    return v;
  };
  if (plan.adapter) {
    const modules = new Map(
      [...plan.adapter.modules].map(([name, m]) => [
        name,
        {
          ...m,
          A: { dtype: 'F32' as const, shape: [...m.A.shape], data: get(name, 'lora_A') },
          B: { dtype: 'F32' as const, shape: [...m.B.shape], data: get(name, 'lora_B') },
        },
      ]),
    );
    return { ...plan.adapter, modules };
  }
  return createPeftAdapter(
    {
      r: plan.r,
      loraAlpha: plan.alpha,
      targetModules: plan.targets,
      loraDropout: plan.dropout,
      fanInFanOut: model.config.family === 'gpt2',
    },
    plan.modules.map((m) => ({
      module: m.module,
      A: { dtype: 'F32' as const, shape: [m.r, m.inFeatures], data: get(m.module, 'lora_A') },
      B: { dtype: 'F32' as const, shape: [m.outFeatures, m.r], data: get(m.module, 'lora_B') },
    })),
    model.prefix,
  );
}

/**
 * Writes `text-adapter/`, `image-adapter/` (PEFT) and `heads.safetensors` into `dir`; with full
 * training also `text/` and `image/` Hugging Face folders with the trained weights.
 */
export function exportContrastive(
  dir: string,
  r: ContrastiveResult,
  plan: { text: HfModel; image: HfModel; fullText?: boolean; fullImage?: boolean },
): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  if (r.textAdapter) {
    writePeftAdapter(path.join(dir, 'text-adapter'), r.textAdapter);
    written.push('text-adapter/');
  }
  if (r.imageAdapter) {
    writePeftAdapter(path.join(dir, 'image-adapter'), r.imageAdapter);
    written.push('image-adapter/');
  }
  writeHeads(path.join(dir, 'heads.safetensors'), r.heads);
  written.push('heads.safetensors');
  const full = (side: 'text' | 'image', model: HfModel) => {
    const raw = JSON.parse(fs.readFileSync(model.configFile, 'utf8')) as Record<string, unknown>;
    const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
    for (const [n, ref] of model.weights)
      tensors[n] = { dtype: 'F32', shape: [...ref.shape], data: r.params.get(`${side}.${n}`) ?? readWeightF32(ref) };
    writeHfFolder(path.join(dir, side), raw, tensors);
    written.push(`${side}/`);
  };
  if (plan.fullText) full('text', plan.text);
  if (plan.fullImage) full('image', plan.image);
  return written;
}
