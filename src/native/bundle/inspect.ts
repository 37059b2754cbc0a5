/**
 * What is this model folder, and what is in it? `detectModelFolder` tells a CLEFT bundle, a
 * Hugging Face text (GPT-2 family) or image (ViT / DINOv2) model and a PEFT LoRA adapter apart;
 * `inspectModelFolder` summarises the architecture, parameters, dtypes, sizes and file hashes, and
 * reports problems instead of throwing (the registry refuses a folder with problems).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadHfFolder, parseModelConfig, type HfModel } from '../models/hf-model';
import { ModelFormatError, type ModelFamily } from '../formats/hf-folder';
import { readPeftAdapter, validateAdapter, ADAPTER_CONFIG, ADAPTER_WEIGHTS, type PeftAdapter } from '../formats/peft';
import { numel, SafetensorsError } from '../formats/safetensors';
import { hashFiles, filesSha256, type FileHash, type HashProgress } from '../io/hash';
import { BundleError, BUNDLE_MANIFEST } from './layout';
import { openBundle, hfModelFiles, tokenizerFilesIn, embeddingIdentity, type CleftBundle } from './open';

export type ModelFolderKind = 'bundle' | 'hf-text' | 'hf-image' | 'peft-adapter';
export const MODEL_FOLDER_KINDS: readonly ModelFolderKind[] = ['bundle', 'hf-text', 'hf-image', 'peft-adapter'];

/** Tells what a folder is from its marker files; throws ModelFormatError when it is nothing we know. */
export function detectModelFolder(dir: string): { kind: ModelFolderKind; family: ModelFamily | null } {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs)) throw new ModelFormatError(abs, 'does not exist');
  if (!fs.statSync(abs).isDirectory())
    throw new ModelFormatError(
      abs,
      abs.endsWith('.safetensors')
        ? 'is a file; models are folders (a heads file goes into a bundle: cleft bundle create --heads FILE)'
        : 'is a file, not a model folder',
    );
  if (fs.existsSync(path.join(abs, BUNDLE_MANIFEST))) return { kind: 'bundle', family: null };
  if (fs.existsSync(path.join(abs, ADAPTER_CONFIG))) return { kind: 'peft-adapter', family: null };
  const cfg = path.join(abs, 'config.json');
  if (fs.existsSync(cfg)) {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(cfg, 'utf8'));
    } catch (e) {
      throw new ModelFormatError(cfg, `invalid JSON: ${(e as Error).message}`);
    }
    const config = parseModelConfig(raw, cfg); // refuses unsupported model types by name
    return { kind: config.family === 'gpt2' ? 'hf-text' : 'hf-image', family: config.family };
  }
  const entries = fs
    .readdirSync(abs)
    .filter((f) => !f.startsWith('.'))
    .slice(0, 12);
  throw new ModelFormatError(
    abs,
    `not a model folder: no ${BUNDLE_MANIFEST} (CLEFT bundle), config.json (Hugging Face model) or ${ADAPTER_CONFIG} (PEFT adapter)` +
      (entries.length ? `; found ${entries.join(', ')}` : '; the folder is empty'),
  );
}

// ---------------------------------------------------------------------------------------------
// summaries

export interface ArchitectureSummary {
  family: ModelFamily;
  modality: 'text' | 'image';
  architectures: string[];
  layers: number;
  hiddenSize: number;
  attentionHeads: number;
  /** MLP width (n_inner, intermediate_size or DINOv2's mlp hidden size). */
  mlpSize: number;
  activation: string;
  layerNormEps: number;
  /** Text models. */
  vocabSize: number | null;
  positions: number | null;
  eosTokenId: number | null;
  /** Image models. */
  imageSize: [number, number] | null;
  patchSize: [number, number] | null;
  numPatches: number | null;
  registerTokens: number | null;
  channels: number | null;
  parameters: number;
  dtypes: string[];
  /** Bytes of the encoder weights as stored. */
  weightBytes: number;
  sharded: boolean;
  /** Stored tensors that are not part of the encoder (lm_head, pooler, ...). */
  ignoredTensors: number;
}

export function describeHfModel(model: HfModel): ArchitectureSummary {
  const c = model.config;
  const common = {
    family: c.family,
    architectures: c.architectures,
    parameters: model.numParameters,
    dtypes: [...model.dtypes],
    weightBytes: model.byteSize,
    sharded: model.sharded,
    ignoredTensors: model.ignored.length,
  };
  if (c.family === 'gpt2')
    return {
      ...common,
      modality: 'text',
      layers: c.nLayer,
      hiddenSize: c.nEmbd,
      attentionHeads: c.nHead,
      mlpSize: c.nInner,
      activation: c.activation,
      layerNormEps: c.layerNormEpsilon,
      vocabSize: c.vocabSize,
      positions: c.nPositions,
      eosTokenId: c.eosTokenId,
      imageSize: null,
      patchSize: null,
      numPatches: null,
      registerTokens: null,
      channels: null,
    };
  return {
    ...common,
    modality: 'image',
    layers: c.numHiddenLayers,
    hiddenSize: c.hiddenSize,
    attentionHeads: c.numAttentionHeads,
    mlpSize: c.family === 'vit' ? c.intermediateSize : c.mlpHiddenSize,
    activation: c.activation,
    layerNormEps: c.layerNormEps,
    vocabSize: null,
    positions: null,
    eosTokenId: null,
    imageSize: c.imageSize,
    patchSize: c.patchSize,
    numPatches: c.numPatches,
    registerTokens: c.family === 'vit' ? 0 : c.numRegisterTokens,
    channels: c.numChannels,
  };
}

export interface AdapterSummary {
  r: number;
  alpha: number;
  /** alpha / r (or / sqrt(r) with rsLoRA) of the first module. */
  scale: number;
  dropout: number;
  targetModules: string[] | string;
  modules: number;
  parameters: number;
  dtypes: string[];
  useRslora: boolean;
  /** `base_model_name_or_path` from the config. */
  baseModel: string | null;
  /** Which encoder it adapts, from its module names. */
  modality: 'text' | 'image' | null;
  /** The base model folder it was checked against (null: not checked). */
  checkedAgainst: string | null;
}

/** Which encoder an adapter's module names belong to. */
export function adapterModality(adapter: PeftAdapter): 'text' | 'image' | null {
  const names = [...adapter.modules.keys()];
  if (names.length && names.every((n) => /^h\.\d+\./.test(n))) return 'text';
  if (names.length && names.every((n) => /^encoder\.layer\.\d+\./.test(n))) return 'image';
  return null;
}

export function describeAdapter(adapter: PeftAdapter, checkedAgainst: string | null = null): AdapterSummary {
  const mods = [...adapter.modules.values()];
  const first = mods[0];
  return {
    r: adapter.config.r,
    alpha: adapter.config.loraAlpha,
    scale: first ? first.scale : adapter.config.loraAlpha / adapter.config.r,
    dropout: adapter.config.loraDropout,
    targetModules: adapter.config.targetModules,
    modules: mods.length,
    parameters: mods.reduce((a, m) => a + numel(m.A.shape) + numel(m.B.shape), 0),
    dtypes: [...new Set(mods.flatMap((m) => [m.A.dtype, m.B.dtype]))],
    useRslora: adapter.config.useRslora,
    baseModel: adapter.config.baseModelNameOrPath,
    modality: adapterModality(adapter),
    checkedAgainst,
  };
}

export interface BundleSummary {
  name: string;
  description: string;
  createdAt: string;
  text: ArchitectureSummary;
  image: ArchitectureSummary;
  textAdapter: AdapterSummary | null;
  imageAdapter: AdapterSummary | null;
  heads: { projDim: number; textDim: number; imageDim: number; logitScale: number; parameters: number };
  imagePooling: 'cls' | 'prenorm-mean';
  textPooling: 'eos';
  maxTextLength: number;
  /** Bundle-relative tokenizer folder (null: token ids only). */
  tokenizer: string | null;
  preprocessing: { sha256: string; spec: Record<string, unknown> } | null;
  promptSets: {
    name: string;
    task: string;
    classNames: string[];
    nCtx: number;
    initPhrase: string | null;
    metrics: { before: Record<string, number> | null; after: Record<string, number> | null };
  }[];
  /** Trained classification heads (linear probe / Adaptor) with their held-out metrics. */
  adaptors: {
    name: string;
    task: string;
    classNames: string[];
    mode: 'linear-probe' | 'adaptor';
    metrics: Record<string, number | null>;
  }[];
  embeddingIdentity: { text: string; image: string };
}

export function describeBundle(b: CleftBundle): BundleSummary {
  const m = b.manifest;
  const h = b.heads.heads;
  return {
    name: m.name,
    description: m.description,
    createdAt: m.createdAt,
    text: describeHfModel(b.text.model),
    image: describeHfModel(b.image.model),
    textAdapter: b.text.adapter ? describeAdapter(b.text.adapter.adapter, b.text.dir) : null,
    imageAdapter: b.image.adapter ? describeAdapter(b.image.adapter.adapter, b.image.dir) : null,
    heads: {
      projDim: h.projDim,
      textDim: h.textDim,
      imageDim: h.imageDim,
      logitScale: h.logitScale,
      parameters: h.projDim * (h.textDim + h.imageDim) + 1,
    },
    imagePooling: m.image.pooling,
    textPooling: m.text.pooling,
    maxTextLength: m.text.maxLength,
    tokenizer: m.text.tokenizer,
    preprocessing: m.preprocessing,
    promptSets: m.promptSets.map((p) => ({
      name: p.name,
      task: p.task,
      classNames: p.classNames,
      nCtx: p.nCtx,
      initPhrase: p.initPhrase,
      metrics: p.metrics,
    })),
    adaptors: m.adaptors.map((a) => ({ name: a.name, task: a.task, classNames: a.classNames, mode: a.mode, metrics: a.metrics })),
    embeddingIdentity: embeddingIdentity(b),
  };
}

// ---------------------------------------------------------------------------------------------
// inspection

export interface ModelInspection {
  path: string;
  kind: ModelFolderKind | null;
  family: ModelFamily | null;
  architecture: ArchitectureSummary | null;
  adapter: AdapterSummary | null;
  bundle: BundleSummary | null;
  parameters: number;
  dtypes: string[];
  /** Bytes of the model's files. */
  byteSize: number;
  /** The files that make up the model (relative), with sha256 when hashed ('' otherwise). */
  files: FileHash[];
  /** Identity: bundleSha256 for bundles, the sha256 of the file list otherwise (null when not hashed or broken). */
  sha256: string | null;
  /** Why the folder cannot be used (empty: usable). */
  problems: string[];
  warnings: string[];
}

export interface InspectOptions {
  /** Hash the files (default true; for bundles this is `verify: 'full'`). */
  hash?: boolean;
  /** Base model folder to check a PEFT adapter against (default: the parent folder if it is one). */
  adapterBase?: string;
  onProgress?: (p: HashProgress) => void;
}

/**
 * The files that make up a (loadable) model folder, relative: what an import copies. For HF folders
 * only what the loaders read (config, safetensors weights, shard index, tokenizer files), so
 * duplicates such as pytorch_model.bin are left behind.
 */
export function modelFolderFiles(dir: string, kind: Exclude<ModelFolderKind, 'bundle'>, model?: HfModel): string[] {
  if (kind === 'peft-adapter') return [ADAPTER_CONFIG, ADAPTER_WEIGHTS];
  const m = model ?? loadHfFolder(dir);
  const files = hfModelFiles(m);
  if (kind === 'hf-text') for (const f of tokenizerFilesIn(m.dir)) if (!files.includes(f)) files.push(f);
  return files;
}

function problemText(e: unknown): string[] {
  if (e instanceof BundleError && e.problems.length > 1)
    return e.problems.map((p) => `${p.file}${p.tensor !== undefined ? `: tensor "${p.tensor}"` : ''}: ${p.problem}`);
  if (e instanceof ModelFormatError || e instanceof SafetensorsError) return [e.message];
  return [e instanceof Error ? e.message : String(e)];
}

/** Inspects any model folder without a database. Format problems are reported, not thrown. */
export async function inspectModelFolder(dir: string, options: InspectOptions = {}): Promise<ModelInspection> {
  const abs = path.resolve(dir);
  const hash = options.hash ?? true;
  const result: ModelInspection = {
    path: abs,
    kind: null,
    family: null,
    architecture: null,
    adapter: null,
    bundle: null,
    parameters: 0,
    dtypes: [],
    byteSize: 0,
    files: [],
    sha256: null,
    problems: [],
    warnings: [],
  };
  let detected;
  try {
    detected = detectModelFolder(abs);
  } catch (e) {
    result.problems.push(...problemText(e));
    return result;
  }
  result.kind = detected.kind;
  result.family = detected.family;

  if (detected.kind === 'bundle') {
    try {
      const b = await openBundle(abs, {
        verify: hash ? 'full' : 'sizes',
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
      const s = describeBundle(b);
      result.bundle = s;
      result.parameters =
        s.text.parameters +
        s.image.parameters +
        (s.textAdapter?.parameters ?? 0) +
        (s.imageAdapter?.parameters ?? 0) +
        s.heads.parameters +
        s.promptSets.reduce((a, p) => a + p.nCtx * s.text.hiddenSize, 0);
      result.dtypes = [...new Set([...s.text.dtypes, ...s.image.dtypes])];
      result.files = b.files.map(({ path: p, size, sha256 }) => ({ path: p, size, sha256 }));
      result.byteSize = b.byteSize;
      result.sha256 = b.sha256;
      result.warnings.push(...b.warnings);
      if (!hash) result.warnings.push('file hashes not checked (sizes only)');
    } catch (e) {
      result.problems.push(...problemText(e));
      await listLooseFiles(abs, result);
    }
    return result;
  }

  let relFiles: string[];
  try {
    if (detected.kind === 'peft-adapter') {
      const adapter = readPeftAdapter(abs);
      let checkedAgainst: string | null = null;
      const base = options.adapterBase ?? path.dirname(abs);
      if (options.adapterBase !== undefined || fs.existsSync(path.join(base, 'config.json'))) {
        try {
          const model = loadHfFolder(base);
          const typed = readPeftAdapter(abs, { family: model.config.family });
          const check = validateAdapter(typed, model);
          result.warnings.push(...check.warnings);
          checkedAgainst = model.dir;
        } catch (e) {
          if (options.adapterBase !== undefined) throw e;
          result.warnings.push(`not checked against the parent folder: ${problemText(e)[0]}`);
        }
      }
      if (checkedAgainst === null && options.adapterBase === undefined)
        result.warnings.push('no base model checked (the adapter is validated on its own; its shapes are checked when it is used)');
      result.adapter = describeAdapter(adapter, checkedAgainst);
      result.parameters = result.adapter.parameters;
      result.dtypes = result.adapter.dtypes;
      relFiles = modelFolderFiles(abs, 'peft-adapter');
    } else {
      const model = loadHfFolder(abs);
      result.architecture = describeHfModel(model);
      result.parameters = model.numParameters;
      result.dtypes = [...model.dtypes];
      if (model.ignored.length)
        result.warnings.push(
          `${model.ignored.length} tensor(s) not part of the encoder (ignored): ${model.ignored.slice(0, 5).join(', ')}${model.ignored.length > 5 ? ', ...' : ''}`,
        );
      if (model.dtypes.includes('BF16')) result.warnings.push('BF16 weights: converted to F32 once, on first use');
      relFiles = modelFolderFiles(abs, detected.kind, model);
      if (detected.kind === 'hf-text' && tokenizerFilesIn(abs).length === 0)
        result.warnings.push('no tokenizer files (tokenizer.json or vocab.json + merges.txt): text must be given as token ids');
    }
  } catch (e) {
    result.problems.push(...problemText(e));
    await listLooseFiles(abs, result);
    return result;
  }
  result.byteSize = relFiles.reduce((a, f) => a + fs.statSync(path.join(abs, f)).size, 0);
  if (hash) {
    result.files = await hashFiles(abs, relFiles, options.onProgress);
    result.sha256 = filesSha256(result.files);
  } else result.files = relFiles.map((f) => ({ path: f, size: fs.statSync(path.join(abs, f)).size, sha256: '' }));
  return result;
}

/** For a broken folder: list its top-level files (sizes only) so the user sees what is there. */
async function listLooseFiles(abs: string, result: ModelInspection): Promise<void> {
  try {
    const names = fs.readdirSync(abs, { withFileTypes: true }).filter((e) => e.isFile() && !e.name.startsWith('.'));
    result.files = names.map((e) => ({ path: e.name, size: fs.statSync(path.join(abs, e.name)).size, sha256: '' }));
    result.byteSize = result.files.reduce((a, f) => a + f.size, 0);
  } catch {
    /* unreadable: problems already say why */
  }
}
