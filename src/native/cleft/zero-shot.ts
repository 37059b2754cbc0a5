// Zero-shot classification with a CLEFT bundle:
//
//   class embedding c = normalize(mean_t normalize(P_text · f_text(template t of c)))   (templates averaged after normalising)
//   image embedding   = normalize(P_image · f_image(pixel_values))
//   p(c | image)      = softmax_c(exp(logit_scale) · cos(image, c))
//
// With a learned prompt set, class c's text is [ctx ; tokens of class name c ; EOS] instead.
// Per-view probabilities are combined per breast and per exam by `combineViews` (mean).
//
// Pure functions in, Float32Arrays out, so the job layer can cache features (keys below) and call
// the cheap head math on cached values.
import { embeddingIdentity, readPromptSet, type CleftBundle } from '../bundle/index';
import type { Heads } from '../models/heads';
import { Gpt2Tokenizer } from '../formats/tokenizer';
import { combineViews, type ViewProbabilities } from './aggregate';
import { loadAdaptorHead } from './adaptor';
import { imageFeatures, promptFeatures, textFeatures, type EngineChoice } from './features';
import { l2NormalizeRows, projectAndNormalizeRows, scaledCosineLogits, softmaxRows } from './math';
import { classNamesForPromptLearning, promptsSha256, type TaskSpec } from './tasks';
import { canonicalJson, sha256Hex } from '../io/hash';
import type { ResolvedProvider } from '../runtime/providers';
import type { WeightPrecision } from '../../common/precision';
import { INT8_BLOCK_RULE } from '../graph/ops/quant';

export type WorkflowEngine = EngineChoice & { cacheDir: string };

/**
 * An encoder identity for a weight precision: float32's is the identity itself (caches written
 * before the int8 path stay valid), int8's another hash, so an int8 result never answers a float32
 * request nor the reverse.
 */
export function precisionIdentity(identity: string, weights: WeightPrecision | undefined): string {
  // the block sizes are part of it: int8 results of another quantization are not these
  return weights === 'int8' ? sha256Hex(canonicalJson({ identity, weights, blocks: INT8_BLOCK_RULE })) : identity;
}

/** Cache key of a bundle's image features: embedding identity (and precision) + instance + preprocessing hash. */
export function imageFeatureKey(bundle: CleftBundle, instance: string, preprocessingSha256: string, weights?: WeightPrecision): string {
  return sha256Hex(
    canonicalJson({ model: precisionIdentity(embeddingIdentity(bundle).image, weights), instance, preprocessing: preprocessingSha256 }),
  );
}

/**
 * Version of the class-embedding formula below (tokenisation, EOS reading, template averaging,
 * projection, normalisation): bump it when that math changes, so cached class embeddings computed
 * by the old formula are not reused.
 */
export const CLASS_EMBEDDING_FORMULA = 1;

/**
 * Cache key of class text embeddings: everything they depend on and nothing else. The text side's
 * embeddingIdentity (encoder, adapter, tokenizer, max length, pooling), the heads (the text
 * projection), the formula version, and the prompts: the task's exact texts per class, or a learned
 * prompt set's context tensor bytes, shape, class texts and class names. Adding an unrelated prompt
 * set or adaptor to the bundle keeps the key; any change of model, adapter or prompt changes it, and
 * so does the weight precision (int8; float32 keeps the key it always had).
 */
export function classEmbeddingKey(bundle: CleftBundle, task: TaskSpec, promptSet?: string | null, weights?: WeightPrecision): string {
  const m = bundle.manifest;
  const prompts = promptSet ? learnedPromptsIdentity(readPromptSet(bundle, promptSet)) : { templates: promptsSha256(task) };
  return sha256Hex(
    canonicalJson({
      formula: CLASS_EMBEDDING_FORMULA,
      text: precisionIdentity(embeddingIdentity(bundle).text, weights),
      heads: { file: m.files[m.heads.path]?.sha256 ?? null, projDim: m.heads.projDim },
      prompts,
    }),
  );
}

function learnedPromptsIdentity({ entry, ctx, shape }: ReturnType<typeof readPromptSet>): Record<string, unknown> {
  return {
    ctxSha256: sha256Hex(new Uint8Array(ctx.buffer, ctx.byteOffset, ctx.byteLength)),
    shape,
    classTexts: entry.classTexts ?? entry.classNames,
    classNames: entry.classNames,
  };
}

const tokenizers = new Map<string, Gpt2Tokenizer>();
export function bundleTokenizer(bundle: CleftBundle): Gpt2Tokenizer {
  const dir = bundle.text.tokenizerDir;
  if (!dir) throw new Error(`${bundle.dir}: the bundle has no tokenizer, so prompts cannot be tokenized`);
  let t = tokenizers.get(dir);
  if (!t) tokenizers.set(dir, (t = Gpt2Tokenizer.fromFolder(dir)));
  return t;
}

/** normalize(features · visual_projectionᵀ): [n, projDim]. */
export function imageEmbeddingsFromFeatures(heads: Heads, features: Float32Array): Float32Array {
  const n = features.length / heads.imageDim;
  return projectAndNormalizeRows(features, n, heads.imageDim, heads.visualProjection, heads.projDim);
}

/**
 * Class embeddings [classes, projDim] from text features of every template: project, normalise,
 * average the templates of each class, renormalise. `templateClass[i]` = class of feature row i.
 */
export function classEmbeddingsFromFeatures(
  heads: Heads,
  features: Float32Array,
  templateClass: readonly number[],
  classes: number,
): Float32Array {
  const p = heads.projDim;
  const t = projectAndNormalizeRows(features, templateClass.length, heads.textDim, heads.textProjection, p);
  const out = new Float32Array(classes * p);
  const counts = new Array<number>(classes).fill(0);
  templateClass.forEach((c, i) => {
    counts[c]!++;
    for (let k = 0; k < p; k++) out[c * p + k] = out[c * p + k]! + t[i * p + k]!;
  });
  counts.forEach((n, c) => {
    if (n === 0) throw new Error(`class ${c} has no prompt`);
  });
  return l2NormalizeRows(out, p);
}

/** softmax(exp(logit_scale) · cos): probabilities [images][classes]. */
export function zeroShotProbabilities(imageEmb: Float32Array, classEmb: Float32Array, projDim: number, logitScale: number): number[][] {
  const k = classEmb.length / projDim;
  return softmaxRows(scaledCosineLogits(imageEmb, classEmb, projDim, logitScale), k);
}

/** Hand-written prompts: every template tokenized (EOS appended), encoded, projected, averaged per class. */
export async function taskClassEmbeddings(bundle: CleftBundle, task: TaskSpec, e: WorkflowEngine): Promise<Float32Array> {
  const tok = bundleTokenizer(bundle);
  const texts: string[] = [];
  const owner: number[] = [];
  task.classes.forEach((c, i) => c.prompts.forEach((p) => (texts.push(p), owner.push(i))));
  const enc = tok.encodeBatch(texts, { maxLength: bundle.text.maxLength, onWarning: e.onWarning ?? console.warn });
  const f = await textFeatures({ modelDir: bundle.text.dir, adapterDir: bundle.text.adapter?.dir ?? null }, enc.inputIds, enc.lengths, e);
  return classEmbeddingsFromFeatures(bundle.heads.heads, f.features, owner, task.classes.length);
}

/**
 * Token ids of class names for prompt learning: the name's tokens + EOS (the embedding is read at
 * the EOS). The name is encoded with a leading space, as it follows the context words in a sentence
 * (GPT-2's BPE has distinct tokens for " breast" and "breast"), so a context initialised from
 * "... of a patient with" reproduces the hand-written prompt's tokens exactly.
 */
export function classNameIds(tok: Gpt2Tokenizer, names: readonly string[]): number[][] {
  return names.map((n) => [...tok.encode(n.startsWith(' ') ? n : ` ${n}`), tok.eosTokenId]);
}

/** Class embeddings of a learned prompt set (ctx before each class name's tokens). */
export async function promptSetClassEmbeddings(
  bundle: CleftBundle,
  promptSet: string,
  e: WorkflowEngine,
): Promise<{ embeddings: Float32Array; classNames: string[] }> {
  const { entry, ctx, shape } = readPromptSet(bundle, promptSet);
  // The context was learned in front of these tokens: anything else would be another prompt.
  const texts = entry.classTexts ?? entry.classNames;
  if (texts.length !== entry.classNames.length)
    throw new Error(`prompt set "${promptSet}": ${texts.length} class texts for ${entry.classNames.length} classes`);
  const ids = classNameIds(bundleTokenizer(bundle), texts);
  const f = await promptFeatures({ modelDir: bundle.text.dir, adapterDir: bundle.text.adapter?.dir ?? null }, ctx, shape, ids, e);
  const h = bundle.heads.heads;
  return {
    embeddings: projectAndNormalizeRows(f.features, ids.length, h.textDim, h.textProjection, h.projDim),
    classNames: entry.classNames,
  };
}

/** Pooled image features of a bundle (cache these: `imageFeatureKey`). */
export async function bundleImageFeatures(
  bundle: CleftBundle,
  pixelValues: Float32Array,
  shape: readonly [number, number, number, number],
  e: WorkflowEngine,
): Promise<Float32Array> {
  const r = await imageFeatures(
    { modelDir: bundle.image.dir, adapterDir: bundle.image.adapter?.dir ?? null, pool: bundle.image.pooling },
    pixelValues,
    shape,
    e,
  );
  return r.features;
}

export interface ZeroShotInput {
  bundle: CleftBundle;
  task: TaskSpec;
  /** Learned prompt set of the bundle to use instead of the task's templates. */
  promptSet?: string | null;
  /** A trained head of the bundle (linear probe / Adaptor) to use instead of text embeddings. */
  adaptor?: string | null;
  /** Either pixel values [B, 3, H, W] (features are computed) or cached pooled features [B, d]. */
  pixelValues?: Float32Array;
  shape?: readonly [number, number, number, number];
  imageFeatures?: Float32Array;
  /** Cached class embeddings [classes, projDim] (skip the text encoder). */
  classEmbeddings?: Float32Array;
  /** Laterality per image for per-breast results. */
  laterality?: readonly ('L' | 'R' | null)[];
}

export interface ZeroShotResult {
  classes: string[];
  /** Per image, sums to 1. */
  probabilities: number[][];
  breast: Partial<Record<'L' | 'R', number[]>>;
  exam: number[];
  imageFeatures: Float32Array;
  classEmbeddings: Float32Array;
  model: { bundleSha256: string; promptSet: string | null; promptsSha256: string; adaptor: string | null };
  /** The execution provider that ran the image encoder (null when features came from a cache). */
  provider: ResolvedProvider | null;
}

/** One call for a set of images (typically one study's views). */
export async function zeroShot(input: ZeroShotInput, e: WorkflowEngine): Promise<ZeroShotResult> {
  const { bundle, task } = input;
  const heads = bundle.heads.heads;
  let feats = input.imageFeatures;
  let provider: ResolvedProvider | null = null;
  if (!feats) {
    if (!input.pixelValues || !input.shape) throw new Error('zeroShot: give pixelValues + shape or imageFeatures');
    const r = await imageFeatures(
      { modelDir: bundle.image.dir, adapterDir: bundle.image.adapter?.dir ?? null, pool: bundle.image.pooling },
      input.pixelValues,
      input.shape,
      e,
    );
    feats = r.features;
    provider = r.provider;
  }
  if (input.adaptor) {
    // no text side: the saved head maps image features to the task's classes
    const probabilities = loadAdaptorHead(
      bundle,
      input.adaptor,
      task.classes.map((c) => c.name),
    ).probabilities(feats);
    const combined = combineViews(probabilities.map((p, i) => ({ laterality: input.laterality?.[i] ?? null, probabilities: p })));
    return {
      classes: task.classes.map((c) => c.name),
      probabilities,
      ...combined,
      imageFeatures: feats,
      classEmbeddings: new Float32Array(0),
      model: { bundleSha256: bundle.sha256, promptSet: null, promptsSha256: promptsSha256(task), adaptor: input.adaptor },
      provider,
    };
  }
  let classEmb = input.classEmbeddings;
  if (!classEmb) {
    if (input.promptSet) classEmb = (await promptSetClassEmbeddings(bundle, input.promptSet, e)).embeddings;
    else classEmb = await taskClassEmbeddings(bundle, task, e);
  }
  if (classEmb.length !== task.classes.length * heads.projDim)
    throw new Error(`zeroShot: ${classEmb.length / heads.projDim} class embeddings for ${task.classes.length} classes`);
  const img = imageEmbeddingsFromFeatures(heads, feats);
  const probabilities = zeroShotProbabilities(img, classEmb, heads.projDim, heads.logitScale);
  const views: ViewProbabilities[] = probabilities.map((p, i) => ({ laterality: input.laterality?.[i] ?? null, probabilities: p }));
  const combined = combineViews(views);
  return {
    classes: task.classes.map((c) => c.name),
    probabilities,
    breast: combined.breast,
    exam: combined.exam,
    imageFeatures: feats,
    classEmbeddings: classEmb,
    model: { bundleSha256: bundle.sha256, promptSet: input.promptSet ?? null, promptsSha256: promptsSha256(task), adaptor: null },
    provider,
  };
}

export { classNamesForPromptLearning };
