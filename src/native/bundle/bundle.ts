/**
 * The CLEFT model bundle: one folder that holds everything a CLIP-style model needs, so it imports
 * and exports whole and has one identity.
 *
 * ```
 * cleft-bundle.json        manifest (formatVersion 1): parts, pooling, max text length,
 *                          preprocessing spec + sha256, learned prompt sets, size + sha256 of every file
 * text/                    Hugging Face GPT-2-family folder (config.json + model.safetensors | shards)
 * image/                   Hugging Face ViT / DINOv2 / DINOv2-with-registers folder
 * text-adapter/            optional PEFT LoRA adapter of the text encoder
 * image-adapter/           optional PEFT LoRA adapter of the image encoder
 * heads.safetensors        text_projection.weight, visual_projection.weight, logit_scale
 * tokenizer/               optional: tokenizer.json or vocab.json + merges.txt (else inside text/, or none)
 * prompts/<name>.safetensors   learned prompt contexts: tensor `ctx` (n_ctx, d)
 * ```
 *
 * `openBundle` validates the manifest, that every listed file is present with its size (and, with
 * `verify: 'full'`, its sha256), that every file a loader reads is listed, that the encoders load,
 * that adapters fit their base models and heads fit the encoders' hidden sizes. Every problem names
 * the file (and tensor) at fault. `bundleSha256` is the model identity recorded with every run: the
 * sha256 of the canonical manifest (file hashes included, names and dates excluded).
 *
 * The preprocessing spec is stored as an opaque JSON object: its schema lives in the app
 * (src/main/dicom/pipeline/spec.ts), which the engine does not import. Its sha256 is taken over the
 * canonical JSON (keys sorted at every level, no whitespace), which is exactly the pipeline's
 * `specHash` when the object is a complete (defaults filled) PreprocessSpec.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { loadHfFolder, ModelFormatError, INDEX_FILE, type HfModel, type Gpt2Config, type VitConfig, type Dinov2Config } from '../formats/hf-folder';
import { readPeftAdapter, validateAdapter, ADAPTER_CONFIG, ADAPTER_WEIGHTS, type PeftAdapter, type AdapterCheck } from '../formats/peft';
import { readHeads, validateHeads, type Heads } from '../models/heads';
import { Gpt2Tokenizer, TokenizerError } from '../formats/tokenizer';
import { readSafetensorsHeader, readTensorF32, writeSafetensors, writeFileAtomic, SafetensorsError } from '../formats/safetensors';
import { crashPoint } from '../io/crash-point';

// ---------------------------------------------------------------------------------------------
// layout

export const BUNDLE_MANIFEST = 'cleft-bundle.json';
export const BUNDLE_FORMAT_VERSION = 1;
export const BUNDLE_LAYOUT = {
  text: 'text',
  image: 'image',
  textAdapter: 'text-adapter',
  imageAdapter: 'image-adapter',
  heads: 'heads.safetensors',
  tokenizer: 'tokenizer',
  prompts: 'prompts',
  adaptors: 'adaptors',
} as const;

/** Files a GPT-2 tokenizer folder may hold (what `Gpt2Tokenizer.fromFolder` and transformers read). */
export const TOKENIZER_FILES = ['tokenizer.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'] as const;
/** The tensor of a learned prompt set file. */
export const PROMPT_CTX_TENSOR = 'ctx';

export type ImagePooling = 'cls' | 'prenorm-mean';
export type ImageFamily = 'vit' | 'dinov2' | 'dinov2_with_registers';
export type VerifyMode = 'full' | 'sizes';

// ---------------------------------------------------------------------------------------------
// errors

export interface BundleProblem {
  file: string;
  problem: string;
  tensor?: string;
}

/** A bundle that cannot be used. `problems` lists every problem found (the message shows them). */
export class BundleError extends ModelFormatError {
  readonly problems: BundleProblem[];
  constructor(problems: BundleProblem[]) {
    const first = problems[0] ?? { file: '(bundle)', problem: 'invalid bundle' };
    super(first.file, first.problem, first.tensor);
    this.problems = problems;
    this.name = 'BundleError';
    if (problems.length > 1) {
      const shown = problems.slice(0, 20).map((p) => `  ${p.file}${p.tensor !== undefined ? `: tensor "${p.tensor}"` : ''}: ${p.problem}`);
      this.message = `${problems.length} problems:\n${shown.join('\n')}${problems.length > 20 ? `\n  ... and ${problems.length - 20} more` : ''}`;
    }
  }
}

function fail(file: string, problem: string, tensor?: string): never {
  throw new BundleError([tensor === undefined ? { file, problem } : { file, problem, tensor }]);
}

/** Re-throws tokenizer and safetensors errors as ModelFormatErrors (file + problem). */
function asFormatError(e: unknown): unknown {
  if (e instanceof SafetensorsError) return new ModelFormatError(e.file, e.problem, e.tensor);
  if (e instanceof TokenizerError)
    return new ModelFormatError(e.file, e.message.startsWith(e.file + ': ') ? e.message.slice(e.file.length + 2) : e.message);
  return e;
}

// ---------------------------------------------------------------------------------------------
// hashing and canonical JSON

/** JSON with keys sorted at every level and no whitespace (stable across writers). */
export function canonicalJson(value: unknown): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(o)
          .filter((k) => o[k] !== undefined)
          .sort()
          .map((k) => [k, canon(o[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(canon(value));
}

export function sha256Hex(data: string | Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** Streams a file through sha256 (constant memory, any size). `onBytes` is called per chunk. */
export async function sha256File(file: string, onBytes?: (n: number) => void): Promise<string> {
  const h = crypto.createHash('sha256');
  const stream = fs.createReadStream(file, { highWaterMark: 4 << 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    h.update(chunk);
    onBytes?.(chunk.length);
  }
  return h.digest('hex');
}

export interface FileHash {
  /** Relative path, forward slashes. */
  path: string;
  size: number;
  sha256: string;
}

export interface HashProgress {
  file: string;
  bytesDone: number;
  bytesTotal: number;
}

/** Hashes files under `root` (relative paths), streaming, with overall progress. */
export async function hashFiles(root: string, relPaths: readonly string[], onProgress?: (p: HashProgress) => void): Promise<FileHash[]> {
  const sizes = relPaths.map((p) => fs.statSync(path.join(root, p)).size);
  const bytesTotal = sizes.reduce((a, b) => a + b, 0);
  let bytesDone = 0;
  const out: FileHash[] = [];
  for (let i = 0; i < relPaths.length; i++) {
    const rel = relPaths[i]!;
    const sha256 = await sha256File(path.join(root, rel), (n) => {
      bytesDone += n;
      onProgress?.({ file: rel, bytesDone, bytesTotal });
    });
    out.push({ path: rel, size: sizes[i]!, sha256 });
  }
  return out;
}

/** The identity of a set of files: sha256 of the canonical JSON {path: {size, sha256}}. */
export function filesSha256(files: readonly FileHash[]): string {
  return sha256Hex(canonicalJson(Object.fromEntries(files.map((f) => [f.path, { sha256: f.sha256, size: f.size }]))));
}

// ---------------------------------------------------------------------------------------------
// manifest schema

function isSafeRelPath(p: string): boolean {
  if (p.length === 0 || p.includes('\\') || p.includes('\0') || p.startsWith('/') || /^[A-Za-z]:/.test(p)) return false;
  return p.split('/').every((s) => s.length > 0 && s !== '.' && s !== '..');
}

const RelPath = z
  .string()
  .max(1024)
  .refine(isSafeRelPath, 'must be a relative path inside the bundle (forward slashes, no "." or ".." parts)');
const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 in lowercase hex');
const PosInt = z.number().int().positive();
const MetricValues = z.record(z.string(), z.number());

export const PROMPT_SET_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const PromptSetName = z
  .string()
  .regex(PROMPT_SET_NAME_RE, 'letters, digits, ".", "_" and "-", at most 64, starting with a letter or digit');

/** What a learned prompt set says about itself (stored in the manifest and in the file's metadata). */
export const PromptSetMeta = z.strictObject({
  /** The task it was learned for (e.g. "Breast density"). */
  task: z.string().min(1).max(200),
  /** Class names in the order of the logits. */
  classNames: z.array(z.string().min(1).max(200)).min(1),
  /** Number of learned context vectors (rows of `ctx`). */
  nCtx: PosInt,
  /**
   * One context per class: `ctx` is [classes, nCtx, d] in the order of classNames. Absent (not
   * false) for shared contexts, so bundles written before it existed keep their identity.
   */
  classSpecific: z.literal(true).optional(),
  /** The phrase whose token embeddings initialised ctx (null: random init). */
  initPhrase: z.string().nullable().default(null),
  /** Validation metrics before (hand-written prompts) and after learning, e.g. {accuracy, auc}. */
  metrics: z.strictObject({ before: MetricValues.nullable().default(null), after: MetricValues.nullable().default(null) }).default({
    before: null,
    after: null,
  }),
  /** Free-form training details (epochs, lr, seed, data summary). */
  training: z.record(z.string(), z.unknown()).nullable().default(null),
});
export type PromptSetMeta = z.output<typeof PromptSetMeta>;
export type PromptSetMetaInput = z.input<typeof PromptSetMeta>;

export const PromptSetEntry = PromptSetMeta.extend({
  name: PromptSetName,
  path: RelPath,
  /** Width of the ctx vectors (the text encoder's n_embd). */
  dim: PosInt,
  createdAt: z.string(),
});
export type PromptSetEntry = z.output<typeof PromptSetEntry>;

/** What a trained classification head (linear probe, optionally after the frozen-backbone Adaptor) says about itself. */
export const AdaptorMeta = z.strictObject({
  task: z.string().min(1).max(200),
  /** Class names in the order of the head's outputs. */
  classNames: z.array(z.string().min(1).max(200)).min(2),
  /** 'linear-probe': head on the CLIP image embedding; 'adaptor': head on the Adaptor's image branch output. */
  mode: z.enum(['linear-probe', 'adaptor']),
  /** Adaptor width and layers (mode 'adaptor' only). */
  adaptor: z.strictObject({ dim: PosInt, layers: z.number().int().nonnegative() }).nullable().default(null),
  /** Held-out metrics (null values: not measurable on this split; the reason is in `notes`). */
  metrics: z.record(z.string(), z.number().nullable()).default({}),
  notes: z.array(z.string()).default([]),
  training: z.record(z.string(), z.unknown()).nullable().default(null),
});
export type AdaptorMeta = z.output<typeof AdaptorMeta>;
export type AdaptorMetaInput = z.input<typeof AdaptorMeta>;

export const AdaptorEntry = AdaptorMeta.extend({
  name: PromptSetName,
  path: RelPath,
  /** Input width of the head's module: the bundle's projection dimension. */
  inputDim: PosInt,
  createdAt: z.string(),
});
export type AdaptorEntry = z.output<typeof AdaptorEntry>;

export const BundleManifest = z.strictObject({
  formatVersion: z.literal(BUNDLE_FORMAT_VERSION),
  format: z.literal('cleft-bundle'),
  name: z.string().min(1).max(200),
  description: z.string().max(10_000).default(''),
  createdAt: z.string(),
  createdBy: z.string().max(200).default(''),
  text: z.strictObject({
    /** Hugging Face GPT-2-family folder. */
    path: RelPath,
    family: z.literal('gpt2'),
    adapter: RelPath.nullable().default(null),
    /** The text embedding is the final hidden state at the first EOS after the caption. */
    pooling: z.literal('eos'),
    /** Longest token sequence (caption + EOS, or ctx + class tokens + EOS); at most n_positions. */
    maxLength: PosInt,
    /** Folder with tokenizer.json or vocab.json + merges.txt (null: token ids only). */
    tokenizer: RelPath.nullable().default(null),
  }),
  image: z.strictObject({
    path: RelPath,
    family: z.enum(['vit', 'dinov2', 'dinov2_with_registers']),
    adapter: RelPath.nullable().default(null),
    pooling: z.enum(['cls', 'prenorm-mean']),
  }),
  heads: z.strictObject({ path: RelPath, projDim: PosInt }),
  /** The image preprocessing (opaque here) and the sha256 of its canonical JSON. */
  preprocessing: z
    .strictObject({ spec: z.record(z.string(), z.unknown()), sha256: Sha256Hex })
    .nullable()
    .default(null),
  promptSets: z.array(PromptSetEntry).default([]),
  /** Trained classification heads (absent in older bundles). */
  adaptors: z.array(AdaptorEntry).default([]),
  /** Every file of the bundle except this manifest. */
  files: z.record(RelPath, z.strictObject({ size: z.number().int().nonnegative(), sha256: Sha256Hex })),
});
export type BundleManifest = z.output<typeof BundleManifest>;

function zodProblem(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Parses a manifest object (version check first, then the schema). */
export function parseBundleManifest(raw: unknown, file = BUNDLE_MANIFEST): BundleManifest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(file, 'the manifest is not a JSON object');
  const r = raw as Record<string, unknown>;
  if (r.format !== undefined && r.format !== 'cleft-bundle') fail(file, `not a CLEFT bundle manifest (format ${JSON.stringify(r.format)})`);
  if (typeof r.formatVersion === 'number' && r.formatVersion > BUNDLE_FORMAT_VERSION)
    fail(
      file,
      `written by a newer CLEFT Studio (formatVersion ${r.formatVersion}; this version reads ${BUNDLE_FORMAT_VERSION}): update the app`,
    );
  const res = BundleManifest.safeParse(raw);
  if (!res.success) fail(file, `invalid manifest: ${zodProblem(res.error)}`);
  const m = res.data;
  const names = new Set<string>();
  for (const p of m.promptSets) {
    if (names.has(p.name)) fail(file, `invalid manifest: prompt set "${p.name}" is listed twice`);
    names.add(p.name);
  }
  const adaptorNames = new Set<string>();
  for (const a of m.adaptors) {
    if (adaptorNames.has(a.name)) fail(file, `invalid manifest: adaptor "${a.name}" is listed twice`);
    adaptorNames.add(a.name);
  }
  if (m.preprocessing && sha256Hex(canonicalJson(m.preprocessing.spec)) !== m.preprocessing.sha256)
    fail(file, 'invalid manifest: preprocessing.sha256 is not the sha256 of the canonical preprocessing spec');
  return m;
}

/** The model identity: sha256 of the canonical manifest without name, description and dates. */
export function manifestSha256(m: BundleManifest): string {
  return sha256Hex(canonicalJson(identityView(m)));
}

/**
 * The identity of what the bundle was built from (encoders, adapters, heads, preprocessing), without
 * the prompt sets and adaptors learned into it since: those are additions, each checked against
 * its own hash in the manifest, so saving one is not a change of the model a library imported.
 */
export function manifestBaseSha256(m: BundleManifest): string {
  const added = new Set([...m.promptSets.map((p) => p.path), ...m.adaptors.map((a) => a.path)]);
  const base = {
    ...m,
    promptSets: [],
    adaptors: [],
    files: Object.fromEntries(Object.entries(m.files).filter(([rel]) => !added.has(rel))),
  };
  return sha256Hex(canonicalJson(identityView(base)));
}

function identityView(m: BundleManifest): Record<string, unknown> {
  return {
    formatVersion: m.formatVersion,
    format: m.format,
    text: m.text,
    image: m.image,
    heads: m.heads,
    preprocessing: m.preprocessing,
    promptSets: m.promptSets.map(({ createdAt: _c, ...rest }) => rest),
    // only when present, so bundles without adaptors keep the identity they had before adaptors existed
    ...(m.adaptors.length ? { adaptors: m.adaptors.map(({ createdAt: _c, ...rest }) => rest) } : {}),
    files: m.files,
  };
}

// ---------------------------------------------------------------------------------------------
// the opened bundle

export interface BundleAdapter {
  dir: string;
  adapter: PeftAdapter;
  check: AdapterCheck;
}

export interface BundlePromptSet extends PromptSetEntry {
  /** Absolute path of the safetensors file. */
  file: string;
}

export interface BundleAdaptor extends AdaptorEntry {
  /** Absolute path of the safetensors file. */
  file: string;
}

export interface CleftBundle {
  /** Absolute folder. */
  dir: string;
  manifestFile: string;
  manifest: BundleManifest;
  /** `bundleSha256`: the identity recorded with runs. */
  sha256: string;
  /** The identity without learned prompt sets and adaptors (`manifestBaseSha256`). */
  baseSha256: string;
  text: {
    dir: string;
    model: HfModel;
    config: Gpt2Config;
    adapter: BundleAdapter | null;
    pooling: 'eos';
    maxLength: number;
    /** Absolute tokenizer folder (null: the bundle takes token ids only). */
    tokenizerDir: string | null;
  };
  image: {
    dir: string;
    model: HfModel;
    config: VitConfig | Dinov2Config;
    adapter: BundleAdapter | null;
    pooling: ImagePooling;
  };
  heads: { file: string; heads: Heads };
  preprocessing: { spec: Record<string, unknown>; sha256: string } | null;
  promptSets: BundlePromptSet[];
  adaptors: BundleAdaptor[];
  /** Every file (manifest excluded) with its absolute path. */
  files: (FileHash & { abs: string })[];
  /** Total bytes of the files. */
  byteSize: number;
  /** How the files were checked when opening. */
  verified: VerifyMode;
  /** Non-fatal notes (adapter notes, no tokenizer, unlisted files outside the parts). */
  warnings: string[];
}

export interface OpenBundleOptions {
  /** 'full' (default): sizes and sha256 of every file; 'sizes': presence and sizes only. */
  verify?: VerifyMode;
  /** Build the tokenizer to check it (default true; about 0.1 s for GPT-2's 50k merges). */
  checkTokenizer?: boolean;
  onProgress?: (p: HashProgress) => void;
}

/** Files in `dir` (recursive, relative, forward slashes), dotfiles skipped. */
function walkFiles(root: string, sub = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, sub), { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const rel = sub ? `${sub}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walkFiles(root, rel));
    else out.push(rel);
  }
  return out;
}

const toRel = (root: string, abs: string) => path.relative(root, abs).split(path.sep).join('/');
const inside = (rel: string, folder: string) => rel === folder || rel.startsWith(folder + '/');

/** Files an HF folder's loader reads (config, weights, shard index), relative to the folder. */
export function hfModelFiles(model: HfModel): string[] {
  const files = [path.basename(model.configFile), ...model.files.map((f) => toRel(model.dir, f))];
  if (model.sharded) files.push(INDEX_FILE);
  return files;
}

/** Tokenizer files present in a folder (relative names). */
export function tokenizerFilesIn(dir: string): string[] {
  const present = TOKENIZER_FILES.filter((f) => fs.existsSync(path.join(dir, f)));
  const usable = present.includes('tokenizer.json') || (present.includes('vocab.json') && present.includes('merges.txt'));
  return usable ? [...present] : [];
}

/** Opens and validates a bundle folder. Throws `BundleError` / `ModelFormatError` naming the file. */
export async function openBundle(dir: string, options: OpenBundleOptions = {}): Promise<CleftBundle> {
  const verify = options.verify ?? 'full';
  const root = path.resolve(dir);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) fail(root, 'not a folder');
  const manifestFile = path.join(root, BUNDLE_MANIFEST);
  if (!fs.existsSync(manifestFile)) fail(manifestFile, `missing ${BUNDLE_MANIFEST}: not a CLEFT bundle`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  } catch (e) {
    fail(manifestFile, `invalid JSON: ${(e as Error).message}`);
  }
  const manifest = parseBundleManifest(raw, manifestFile);
  const abs = (rel: string) => path.join(root, ...rel.split('/'));
  const warnings: string[] = [];

  // 1. references point at listed files
  const listed = Object.keys(manifest.files);
  const listedSet = new Set(listed);
  const refDir = (field: string, rel: string | null) => {
    if (rel !== null && !listed.some((f) => inside(f, rel) && f !== rel))
      fail(manifestFile, `${field} "${rel}" has no files listed under it in "files"`);
  };
  refDir('text.path', manifest.text.path);
  refDir('image.path', manifest.image.path);
  refDir('text.adapter', manifest.text.adapter);
  refDir('image.adapter', manifest.image.adapter);
  refDir('text.tokenizer', manifest.text.tokenizer);
  const refFile = (field: string, rel: string) => {
    if (!listedSet.has(rel)) fail(manifestFile, `${field} "${rel}" is not listed in "files"`);
  };
  refFile('heads.path', manifest.heads.path);
  manifest.promptSets.forEach((p, i) => refFile(`promptSets.${i}.path`, p.path));
  manifest.adaptors.forEach((a, i) => refFile(`adaptors.${i}.path`, a.path));
  if (listedSet.has(BUNDLE_MANIFEST)) fail(manifestFile, `"files" must not list ${BUNDLE_MANIFEST} itself`);

  // 2. presence, containment, sizes, hashes (every problem collected)
  const problems: BundleProblem[] = [];
  const realRoot = fs.realpathSync(root);
  const files: CleftBundle['files'] = [];
  for (const rel of listed) {
    const f = abs(rel);
    const want = manifest.files[rel]!;
    let st: fs.Stats;
    try {
      st = fs.statSync(f);
    } catch {
      problems.push({ file: f, problem: `missing (listed in ${BUNDLE_MANIFEST})` });
      continue;
    }
    const real = fs.realpathSync(f);
    if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
      problems.push({ file: f, problem: `resolves to ${real}, outside the bundle (symbolic link)` });
      continue;
    }
    if (!st.isFile()) problems.push({ file: f, problem: 'is not a regular file' });
    else if (st.size !== want.size) problems.push({ file: f, problem: `size ${st.size} bytes, the manifest says ${want.size}` });
    else files.push({ path: rel, size: want.size, sha256: want.sha256, abs: f });
  }
  if (problems.length) throw new BundleError(problems);
  if (verify === 'full') {
    const hashes = await hashFiles(
      root,
      files.map((f) => f.path),
      options.onProgress,
    );
    for (const h of hashes)
      if (h.sha256 !== manifest.files[h.path]!.sha256)
        problems.push({
          file: abs(h.path),
          problem: `sha256 mismatch: ${h.sha256}, the manifest says ${manifest.files[h.path]!.sha256} (modified or corrupt)`,
        });
    if (problems.length) throw new BundleError(problems);
  }

  // 3. unlisted files: an error inside the parts (a loader could read them), a warning elsewhere
  const partDirs = [manifest.text.path, manifest.image.path, manifest.text.adapter, manifest.image.adapter, manifest.text.tokenizer].filter(
    (p): p is string => p !== null,
  );
  for (const rel of walkFiles(root)) {
    if (rel === BUNDLE_MANIFEST || listedSet.has(rel)) continue;
    if (partDirs.some((d) => inside(rel, d)))
      problems.push({ file: abs(rel), problem: `not listed in ${BUNDLE_MANIFEST} but inside a model part` });
    else warnings.push(`${rel}: not listed in ${BUNDLE_MANIFEST} (ignored)`);
  }
  if (problems.length) throw new BundleError(problems);

  const mustBeListed = (what: string, folderRel: string, names: readonly string[]) => {
    for (const n of names) {
      const rel = `${folderRel}/${n}`;
      if (!listedSet.has(rel)) fail(abs(rel), `read by the ${what} loader but not listed in ${BUNDLE_MANIFEST}`);
    }
  };

  // 4. encoders
  const loadPart = (what: string, rel: string): HfModel => {
    try {
      const model = loadHfFolder(abs(rel));
      mustBeListed(what, rel, hfModelFiles(model));
      return model;
    } catch (e) {
      throw asFormatError(e);
    }
  };
  const textModel = loadPart('text encoder', manifest.text.path);
  if (textModel.config.family !== 'gpt2')
    fail(textModel.configFile, `the text encoder must be GPT-2-family, this is ${textModel.config.family}`);
  const textConfig = textModel.config;
  const imageModel = loadPart('image encoder', manifest.image.path);
  if (imageModel.config.family === 'gpt2') fail(imageModel.configFile, 'the image encoder must be ViT or DINOv2, this is gpt2');
  if (imageModel.config.family !== manifest.image.family)
    fail(imageModel.configFile, `is ${imageModel.config.family}, the manifest says image.family "${manifest.image.family}"`);
  const imageConfig = imageModel.config;
  if (manifest.text.maxLength > textConfig.nPositions)
    fail(manifestFile, `text.maxLength ${manifest.text.maxLength} exceeds the text encoder's n_positions ${textConfig.nPositions}`);

  // 5. adapters
  const loadAdapter = (what: string, rel: string | null, model: HfModel): BundleAdapter | null => {
    if (rel === null) return null;
    try {
      mustBeListed(what, rel, [ADAPTER_CONFIG, ADAPTER_WEIGHTS]);
      const adapter = readPeftAdapter(abs(rel), { family: model.config.family });
      const check = validateAdapter(adapter, model);
      for (const w of check.warnings) warnings.push(`${rel}: ${w}`);
      return { dir: abs(rel), adapter, check };
    } catch (e) {
      throw asFormatError(e);
    }
  };
  const textAdapter = loadAdapter('text adapter', manifest.text.adapter, textModel);
  const imageAdapter = loadAdapter('image adapter', manifest.image.adapter, imageModel);

  // 6. heads
  const headsFile = abs(manifest.heads.path);
  let heads: Heads;
  try {
    heads = readHeads(headsFile);
    validateHeads(heads, textConfig.nEmbd, imageConfig.hiddenSize, headsFile);
  } catch (e) {
    throw asFormatError(e);
  }
  if (heads.projDim !== manifest.heads.projDim)
    fail(headsFile, `projects to ${heads.projDim} dimensions, the manifest says heads.projDim ${manifest.heads.projDim}`);

  // 7. tokenizer
  let tokenizerDir: string | null = null;
  if (manifest.text.tokenizer !== null) {
    tokenizerDir = abs(manifest.text.tokenizer);
    const present = tokenizerFilesIn(tokenizerDir);
    if (present.length === 0) fail(tokenizerDir, 'no tokenizer.json, and no vocab.json + merges.txt');
    mustBeListed('tokenizer', manifest.text.tokenizer, present);
    if (options.checkTokenizer ?? true)
      warnings.push(...checkTokenizer(tokenizerDir, textConfig).map((w) => `${manifest.text.tokenizer}: ${w}`));
  } else warnings.push('no tokenizer: the bundle embeds token ids, not text');

  // 8. prompt sets
  const promptSets: BundlePromptSet[] = [];
  for (const p of manifest.promptSets) {
    const file = abs(p.path);
    checkPromptFile(file, p, textConfig.nEmbd);
    if (p.nCtx + 2 > manifest.text.maxLength)
      warnings.push(
        `prompt set "${p.name}": ${p.nCtx} context vectors leave no room for class tokens within maxLength ${manifest.text.maxLength}`,
      );
    promptSets.push({ ...p, file });
  }
  const adaptors: BundleAdaptor[] = manifest.adaptors.map((a) => ({ ...a, file: abs(a.path) }));

  return {
    dir: root,
    manifestFile,
    manifest,
    sha256: manifestSha256(manifest),
    baseSha256: manifestBaseSha256(manifest),
    text: {
      dir: abs(manifest.text.path),
      model: textModel,
      config: textConfig,
      adapter: textAdapter,
      pooling: 'eos',
      maxLength: manifest.text.maxLength,
      tokenizerDir,
    },
    image: {
      dir: abs(manifest.image.path),
      model: imageModel,
      config: imageConfig,
      adapter: imageAdapter,
      pooling: manifest.image.pooling,
    },
    heads: { file: headsFile, heads },
    preprocessing: manifest.preprocessing,
    promptSets,
    adaptors,
    files,
    byteSize: files.reduce((a, f) => a + f.size, 0),
    verified: verify,
    warnings,
  };
}

/** Builds the tokenizer of `dir` and checks it fits the text encoder; returns warnings. */
function checkTokenizer(dir: string, config: Gpt2Config): string[] {
  let tok: Gpt2Tokenizer;
  try {
    tok = Gpt2Tokenizer.fromFolder(dir);
  } catch (e) {
    throw asFormatError(e);
  }
  if (tok.eosTokenId >= config.vocabSize)
    fail(
      dir,
      `the tokenizer's EOS token id ${tok.eosTokenId} is outside the text encoder's vocabulary (vocab_size ${config.vocabSize}): not this model's tokenizer`,
    );
  return tok.eosTokenId !== config.eosTokenId
    ? [`EOS token id ${tok.eosTokenId} differs from the text config's eos_token_id ${config.eosTokenId}`]
    : [];
}

/** The shape of a prompt set's `ctx`: [nCtx, d], or [classes, nCtx, d] when class-specific. */
export function promptCtxShape(p: {
  nCtx: number;
  dim: number;
  classNames: readonly string[];
  classSpecific?: true | undefined;
}): number[] {
  return p.classSpecific ? [p.classNames.length, p.nCtx, p.dim] : [p.nCtx, p.dim];
}

function checkPromptFile(
  file: string,
  p: { name: string; nCtx: number; dim: number; classNames: readonly string[]; classSpecific?: true | undefined },
  textDim: number,
): void {
  let h;
  try {
    h = readSafetensorsHeader(file);
  } catch (e) {
    throw asFormatError(e);
  }
  const t = h.tensors.get(PROMPT_CTX_TENSOR);
  if (!t) fail(file, `missing tensor (prompt set "${p.name}")`, PROMPT_CTX_TENSOR);
  if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') fail(file, `dtype ${t.dtype}, expected F32`, PROMPT_CTX_TENSOR);
  const want = promptCtxShape(p);
  if (t.shape.length !== want.length || t.shape.some((v, i) => v !== want[i]))
    fail(file, `shape [${t.shape.join(', ')}], the manifest says [${want.join(', ')}]`, PROMPT_CTX_TENSOR);
  if (p.dim !== textDim) fail(file, `${p.dim}-d context vectors, the text encoder's embeddings are ${textDim}-d`, PROMPT_CTX_TENSOR);
}

/** The model identity used in run records (sha256 of the canonical manifest with file hashes). */
export function bundleSha256(bundle: CleftBundle | BundleManifest): string {
  return manifestSha256('manifest' in bundle ? bundle.manifest : bundle);
}

/**
 * Identities of what determines each embedding (for caches): the encoder's and adapter's files,
 * pooling and, for images, the preprocessing; for text, the tokenizer and max length. Heads and
 * prompt sets are not part of them, so adding a prompt set keeps cached embeddings valid.
 */
export function embeddingIdentity(bundle: CleftBundle): { text: string; image: string } {
  const m = bundle.manifest;
  const under = (folder: string | null) =>
    folder === null
      ? null
      : Object.fromEntries(
          Object.entries(m.files)
            .filter(([p]) => inside(p, folder))
            .map(([p, f]) => [p.slice(folder.length + 1), f]),
        );
  return {
    text: sha256Hex(
      canonicalJson({
        side: 'text',
        family: m.text.family,
        pooling: m.text.pooling,
        maxLength: m.text.maxLength,
        model: under(m.text.path),
        adapter: under(m.text.adapter),
        tokenizer: under(m.text.tokenizer),
      }),
    ),
    image: sha256Hex(
      canonicalJson({
        side: 'image',
        family: m.image.family,
        pooling: m.image.pooling,
        preprocessing: m.preprocessing?.sha256 ?? null,
        model: under(m.image.path),
        adapter: under(m.image.adapter),
      }),
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// creating

export interface BundleParts {
  /** Default: the output folder's name. */
  name?: string;
  description?: string;
  /** Hugging Face GPT-2-family folder. */
  textModel: string;
  /** Hugging Face ViT / DINOv2 / DINOv2-with-registers folder. */
  imageModel: string;
  textAdapter?: string | null;
  imageAdapter?: string | null;
  /** heads.safetensors */
  heads: string;
  /** Tokenizer folder; default: the text model folder's tokenizer files when it has them. */
  tokenizer?: string | null;
  /** Default 'cls'. */
  imagePooling?: ImagePooling;
  /** Default: the text encoder's n_positions. */
  maxTextLength?: number;
  /** Opaque preprocessing spec (its sha256 is computed here). */
  preprocessing?: Record<string, unknown> | null;
  /** Written into the manifest (e.g. "CLEFT Studio 0.1.0"). */
  createdBy?: string;
}

export interface CreateBundleOptions {
  /** Replace an existing bundle at `dir` (a non-bundle folder with files is never replaced). */
  overwrite?: boolean;
  /** 'copy' (default; copy-on-write clones where the file system can) or 'hardlink' (falls back to copy). */
  link?: 'copy' | 'hardlink';
  onProgress?: (p: HashProgress) => void;
}

async function placeFile(src: string, dst: string, link: 'copy' | 'hardlink'): Promise<void> {
  await fs.promises.mkdir(path.dirname(dst), { recursive: true });
  if (link === 'hardlink') {
    try {
      await fs.promises.link(await fs.promises.realpath(src), dst);
      return;
    } catch {
      /* other device or not permitted: copy */
    }
  }
  await fs.promises.copyFile(src, dst, fs.constants.COPYFILE_FICLONE);
}

function tempSibling(dir: string, tag: string): string {
  return path.join(path.dirname(dir), `.${path.basename(dir)}.${tag}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
}

/** Moves a finished temp folder to `dir` (replacing an existing bundle only when allowed). */
async function commitFolder(tmp: string, dir: string, overwrite: boolean): Promise<void> {
  let old: string | null = null;
  if (fs.existsSync(dir)) {
    const entries = fs.readdirSync(dir);
    if (entries.length === 0) fs.rmdirSync(dir);
    else if (!overwrite) fail(dir, 'already exists (pass overwrite to replace a bundle)');
    else if (!entries.includes(BUNDLE_MANIFEST)) fail(dir, `exists and is not a CLEFT bundle (no ${BUNDLE_MANIFEST}): not replacing it`);
    else {
      old = tempSibling(dir, 'old');
      fs.renameSync(dir, old);
    }
  }
  try {
    fs.renameSync(tmp, dir);
  } catch (e) {
    if (old) fs.renameSync(old, dir);
    throw e;
  }
  if (old) await fs.promises.rm(old, { recursive: true, force: true });
}

function writeManifest(file: string, m: BundleManifest): void {
  const sorted = {
    ...m,
    files: Object.fromEntries(
      Object.keys(m.files)
        .sort()
        .map((k) => [k, m.files[k]!]),
    ),
  };
  writeFileAtomic(file, [Buffer.from(JSON.stringify(sorted, null, 2) + '\n', 'utf8')]);
}

/**
 * Builds a bundle from its parts: validates them first (errors name the source files), copies them
 * into a temporary folder beside `dir`, hashes the copies, writes the manifest, validates the result
 * and renames it into place. Returns the opened bundle.
 */
export async function createBundle(dir: string, parts: BundleParts, options: CreateBundleOptions = {}): Promise<CleftBundle> {
  const out = path.resolve(dir);
  const link = options.link ?? 'copy';
  // validate the parts where they are
  const load = (what: string, p: string) => {
    try {
      return loadHfFolder(p);
    } catch (e) {
      const err = asFormatError(e);
      if (err instanceof ModelFormatError) throw new ModelFormatError(err.file, `${what}: ${err.problem}`, err.tensor);
      throw err;
    }
  };
  const textModel = load('text model', parts.textModel);
  if (textModel.config.family !== 'gpt2')
    fail(textModel.configFile, `the text model must be GPT-2-family, this is ${textModel.config.family}`);
  const imageModel = load('image model', parts.imageModel);
  if (imageModel.config.family === 'gpt2') fail(imageModel.configFile, 'the image model must be ViT or DINOv2, this is gpt2');
  const check = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      throw asFormatError(e);
    }
  };
  const textConfig = textModel.config as Gpt2Config;
  const imageConfig = imageModel.config as VitConfig | Dinov2Config;
  const textAdapterDir = parts.textAdapter ? path.resolve(parts.textAdapter) : null;
  const imageAdapterDir = parts.imageAdapter ? path.resolve(parts.imageAdapter) : null;
  if (textAdapterDir) check(() => void validateAdapter(readPeftAdapter(textAdapterDir, { family: 'gpt2' }), textModel));
  if (imageAdapterDir) check(() => void validateAdapter(readPeftAdapter(imageAdapterDir, { family: imageConfig.family }), imageModel));
  let heads!: Heads;
  check(() => {
    heads = readHeads(parts.heads);
    validateHeads(heads, textConfig.nEmbd, imageConfig.hiddenSize);
  });
  const maxLength = parts.maxTextLength ?? textConfig.nPositions;
  if (!Number.isInteger(maxLength) || maxLength < 2 || maxLength > textConfig.nPositions)
    fail(textModel.configFile, `max text length ${maxLength} must be an integer in [2, n_positions ${textConfig.nPositions}]`);
  let tokenizerSrc: { dir: string; files: string[]; into: string } | null = null;
  if (parts.tokenizer) {
    const tdir = path.resolve(parts.tokenizer);
    const files = tokenizerFilesIn(tdir);
    if (files.length === 0) fail(tdir, 'no tokenizer.json, and no vocab.json + merges.txt');
    checkTokenizer(tdir, textConfig);
    tokenizerSrc = { dir: tdir, files, into: BUNDLE_LAYOUT.tokenizer };
  } else if (parts.tokenizer === undefined) {
    const files = tokenizerFilesIn(textModel.dir);
    if (files.length) {
      checkTokenizer(textModel.dir, textConfig);
      tokenizerSrc = { dir: textModel.dir, files, into: BUNDLE_LAYOUT.text };
    }
  }

  // plan: [source, bundle-relative destination]
  const plan: [string, string][] = [];
  const addFolder = (srcDir: string, names: readonly string[], into: string) => {
    for (const n of names) plan.push([path.join(srcDir, n), `${into}/${n}`]);
  };
  addFolder(textModel.dir, hfModelFiles(textModel), BUNDLE_LAYOUT.text);
  addFolder(imageModel.dir, hfModelFiles(imageModel), BUNDLE_LAYOUT.image);
  if (textAdapterDir) addFolder(textAdapterDir, [ADAPTER_CONFIG, ADAPTER_WEIGHTS], BUNDLE_LAYOUT.textAdapter);
  if (imageAdapterDir) addFolder(imageAdapterDir, [ADAPTER_CONFIG, ADAPTER_WEIGHTS], BUNDLE_LAYOUT.imageAdapter);
  if (tokenizerSrc) addFolder(tokenizerSrc.dir, tokenizerSrc.files, tokenizerSrc.into);
  plan.push([path.resolve(parts.heads), BUNDLE_LAYOUT.heads]);
  const seen = new Set<string>();
  const uniquePlan = plan.filter(([, rel]) => (seen.has(rel) ? false : (seen.add(rel), true)));

  const preprocessing = parts.preprocessing ? { spec: parts.preprocessing, sha256: sha256Hex(canonicalJson(parts.preprocessing)) } : null;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = tempSibling(out, 'partial');
  fs.mkdirSync(tmp);
  try {
    for (const [src, rel] of uniquePlan) await placeFile(src, path.join(tmp, ...rel.split('/')), link);
    const hashes = await hashFiles(
      tmp,
      uniquePlan.map(([, rel]) => rel),
      options.onProgress,
    );
    const manifest = BundleManifest.parse({
      formatVersion: BUNDLE_FORMAT_VERSION,
      format: 'cleft-bundle',
      name: parts.name ?? path.basename(out),
      description: parts.description ?? '',
      createdAt: new Date().toISOString(),
      createdBy: parts.createdBy ?? '',
      text: {
        path: BUNDLE_LAYOUT.text,
        family: 'gpt2',
        adapter: textAdapterDir ? BUNDLE_LAYOUT.textAdapter : null,
        pooling: 'eos',
        maxLength,
        tokenizer: tokenizerSrc ? tokenizerSrc.into : null,
      },
      image: {
        path: BUNDLE_LAYOUT.image,
        family: imageConfig.family,
        adapter: imageAdapterDir ? BUNDLE_LAYOUT.imageAdapter : null,
        pooling: parts.imagePooling ?? 'cls',
      },
      heads: { path: BUNDLE_LAYOUT.heads, projDim: heads.projDim },
      preprocessing,
      promptSets: [],
      adaptors: [],
      files: Object.fromEntries(hashes.map((h) => [h.path, { size: h.size, sha256: h.sha256 }])),
    });
    writeManifest(path.join(tmp, BUNDLE_MANIFEST), manifest);
    await openBundle(tmp, { verify: 'sizes' }); // the assembled bundle is valid as a whole
    await commitFolder(tmp, out, options.overwrite ?? false);
  } catch (e) {
    await fs.promises.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return openBundle(out, { verify: 'sizes' });
}

// ---------------------------------------------------------------------------------------------
// exporting

/**
 * Copies the whole bundle (manifest and listed files, nothing else) to `destDir` atomically and
 * re-verifies the copy in full; the copy has the same `bundleSha256`.
 */
export async function exportBundle(
  bundle: CleftBundle | string,
  destDir: string,
  options: { overwrite?: boolean; onProgress?: (p: HashProgress) => void } = {},
): Promise<CleftBundle> {
  const src = typeof bundle === 'string' ? await openBundle(bundle, { verify: 'sizes' }) : bundle;
  const out = path.resolve(destDir);
  if (out === src.dir || out.startsWith(src.dir + path.sep)) fail(out, `cannot export a bundle into itself (${src.dir})`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = tempSibling(out, 'partial');
  fs.mkdirSync(tmp);
  try {
    await fs.promises.copyFile(src.manifestFile, path.join(tmp, BUNDLE_MANIFEST));
    for (const f of src.files) await placeFile(f.abs, path.join(tmp, ...f.path.split('/')), 'copy');
    const copy = await openBundle(tmp, { verify: 'full', ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
    if (copy.sha256 !== src.sha256) fail(tmp, `the copy's identity ${copy.sha256} differs from the source's ${src.sha256}`);
    await commitFolder(tmp, out, options.overwrite ?? false);
  } catch (e) {
    await fs.promises.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return openBundle(out, { verify: 'sizes' });
}

// ---------------------------------------------------------------------------------------------
// learned prompt sets

/** Whether a process with this id exists (EPERM: it does, owned by someone else). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The lock file names its holder's process id: a lock left by a killed process is taken over at
 * once (a resumed job must not wait for it to age), one held by a live process after 2 minutes.
 */
function withManifestLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(root, `.${BUNDLE_MANIFEST}.lock`);
  const take = (): boolean => {
    try {
      const fd = fs.openSync(lock, 'wx');
      try {
        fs.writeSync(fd, String(process.pid));
      } finally {
        fs.closeSync(fd);
      }
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        const holder = Number.parseInt(fs.readFileSync(lock, 'utf8'), 10);
        const dead = Number.isInteger(holder) && holder > 0 && holder !== process.pid && !processAlive(holder);
        if (dead || Date.now() - fs.statSync(lock).mtimeMs > 120_000) fs.rmSync(lock, { force: true }); // stale
      } catch {
        /* gone meanwhile */
      }
      return false;
    }
  };
  return (async () => {
    const deadline = Date.now() + 30_000;
    while (!take()) {
      if (Date.now() > deadline) fail(lock, 'another process is changing this bundle (remove the lock file if none is)');
      await new Promise((r) => setTimeout(r, 50));
    }
    try {
      return await fn();
    } finally {
      fs.rmSync(lock, { force: true });
    }
  })();
}

export interface SaveOptions {
  /** Overwrite an entry of the same name. */
  replace?: boolean;
  /**
   * The saving job's own id for this save, recorded as `training.saveId`: saving again with the
   * same id (a job resumed after a kill mid-save) finds its entry and changes nothing.
   */
  saveId?: string;
}

function withSaveId<M extends { training?: Record<string, unknown> | null | undefined }>(meta: M, saveId: string | undefined): M {
  return saveId === undefined ? meta : { ...meta, training: { ...(meta.training ?? {}), saveId } };
}

/** Whether an entry is the one a save with this id wrote. */
function isSameSave(entry: { training: Record<string, unknown> | null }, saveId: string | undefined): boolean {
  return saveId !== undefined && entry.training?.saveId === saveId;
}

/**
 * Adds (or with `replace`, replaces) a learned prompt set: writes `prompts/<name>.safetensors` with
 * tensor `ctx` [n_ctx, d] (or [classes, n_ctx, d], class-specific) (F32) and the metadata, then updates the manifest (entry + file hash)
 * atomically. Changes `bundleSha256` (the prompt sets are part of the model); `baseSha256` and
 * `embeddingIdentity` stay. With `saveId`, an entry that save already wrote is kept as it is (see
 * SaveOptions). Returns the re-opened bundle.
 */
export async function addPromptSet(
  bundle: CleftBundle,
  name: string,
  ctx: { data: Float32Array; shape: readonly [number, number] | readonly number[] },
  meta: PromptSetMetaInput,
  options: SaveOptions = {},
): Promise<CleftBundle> {
  if (!PROMPT_SET_NAME_RE.test(name))
    throw new Error(`prompt set name "${name}": letters, digits, ".", "_" and "-", at most 64, starting with a letter or digit`);
  const parsed = PromptSetMeta.safeParse(withSaveId(meta, options.saveId));
  if (!parsed.success) throw new Error(`prompt set "${name}": invalid metadata: ${zodProblem(parsed.error)}`);
  const dim = bundle.text.config.nEmbd;
  // a [classes, nCtx, d] context is class-specific whether or not the metadata says so
  const m = { ...parsed.data, ...(ctx.shape.length === 3 ? { classSpecific: true as const } : {}) };
  const shape = promptCtxShape({ ...m, dim });
  if (ctx.shape.length !== shape.length || ctx.shape.some((v, i) => v !== shape[i]))
    throw new Error(
      `prompt set "${name}": ctx must be [${m.classSpecific ? `classes ${m.classNames.length}, ` : ''}nCtx ${m.nCtx}, ${dim}] (the text encoder's width), got [${ctx.shape.join(', ')}]`,
    );
  const size = shape.reduce((a, b) => a * b, 1);
  if (ctx.data.length !== size) throw new Error(`prompt set "${name}": ctx has ${ctx.data.length} values, expected ${size}`);
  for (let i = 0; i < ctx.data.length; i++)
    if (!Number.isFinite(ctx.data[i]!)) throw new Error(`prompt set "${name}": ctx has a non-finite value at ${i}`);
  const rel = `${BUNDLE_LAYOUT.prompts}/${name}.safetensors`;
  return withManifestLock(bundle.dir, async () => {
    const current = parseBundleManifest(JSON.parse(fs.readFileSync(bundle.manifestFile, 'utf8')), bundle.manifestFile);
    const existing = current.promptSets.find((p) => p.name === name);
    if (existing && isSameSave(existing, options.saveId)) return openBundle(bundle.dir, { verify: 'sizes' });
    if (existing && !options.replace) fail(bundle.manifestFile, `already has a prompt set "${name}" (pass replace to overwrite it)`);
    const entry: PromptSetEntry = { ...m, name, path: rel, dim, createdAt: new Date().toISOString() };
    const file = path.join(bundle.dir, ...rel.split('/'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const { path: _p, createdAt: _c, ...fileMeta } = entry;
    writeSafetensors(
      file,
      { [PROMPT_CTX_TENSOR]: { dtype: 'F32', shape, data: ctx.data } },
      {
        format: 'pt',
        cleft_prompt_set: JSON.stringify(fileMeta),
      },
    );
    crashPoint('bundle.entry-file-written');
    const [h] = await hashFiles(bundle.dir, [rel]);
    const next: BundleManifest = {
      ...current,
      promptSets: [...current.promptSets.filter((p) => p.name !== name), entry],
      files: { ...current.files, [rel]: { size: h!.size, sha256: h!.sha256 } },
    };
    writeManifest(bundle.manifestFile, BundleManifest.parse(next));
    crashPoint('bundle.manifest-written');
    return openBundle(bundle.dir, { verify: 'sizes' });
  });
}

/** Reads a learned prompt set's context vectors (F32) and metadata. */
export function readPromptSet(bundle: CleftBundle, name: string): { entry: BundlePromptSet; ctx: Float32Array; shape: number[] } {
  const entry = bundle.promptSets.find((p) => p.name === name);
  if (!entry) throw new Error(`${bundle.dir}: no prompt set "${name}" (has: ${bundle.promptSets.map((p) => p.name).join(', ') || 'none'})`);
  let ctx: Float32Array;
  try {
    ctx = readTensorF32(entry.file, PROMPT_CTX_TENSOR);
  } catch (e) {
    throw asFormatError(e);
  }
  return { entry, ctx, shape: promptCtxShape(entry) };
}

// ---------------------------------------------------------------------------------------------
// trained classification heads (linear probe / Adaptor)

/**
 * Adds (or with `replace`, replaces) a trained head: writes `adaptors/<name>.safetensors` with the
 * given F32 tensors (the probe's `weight` [K, D] and `bias` [K], and in 'adaptor' mode the image
 * branch `adaptor.image.*`) and the metadata, then updates the manifest atomically, like prompt sets.
 */
export async function addAdaptor(
  bundle: CleftBundle,
  name: string,
  tensors: Record<string, { shape: number[]; data: Float32Array }>,
  meta: AdaptorMetaInput,
  options: SaveOptions = {},
): Promise<CleftBundle> {
  if (!PROMPT_SET_NAME_RE.test(name))
    throw new Error(`adaptor name "${name}": letters, digits, ".", "_" and "-", at most 64, starting with a letter or digit`);
  const parsed = AdaptorMeta.safeParse(withSaveId(meta, options.saveId));
  if (!parsed.success) throw new Error(`adaptor "${name}": invalid metadata: ${zodProblem(parsed.error)}`);
  const m = parsed.data;
  const w = tensors.weight;
  const b = tensors.bias;
  if (!w || !b || w.shape.length !== 2 || w.shape[0] !== m.classNames.length || b.shape[0] !== m.classNames.length)
    throw new Error(`adaptor "${name}": needs weight [${m.classNames.length}, D] and bias [${m.classNames.length}]`);
  for (const [t, v] of Object.entries(tensors)) {
    if (v.data.length !== v.shape.reduce((a, x) => a * x, 1)) throw new Error(`adaptor "${name}": ${t} has the wrong number of values`);
    if (!v.data.every(Number.isFinite)) throw new Error(`adaptor "${name}": ${t} has a non-finite value`);
  }
  const inputDim = bundle.heads.heads.projDim;
  const rel = `${BUNDLE_LAYOUT.adaptors}/${name}.safetensors`;
  return withManifestLock(bundle.dir, async () => {
    const current = parseBundleManifest(JSON.parse(fs.readFileSync(bundle.manifestFile, 'utf8')), bundle.manifestFile);
    const existing = current.adaptors.find((a) => a.name === name);
    if (existing && isSameSave(existing, options.saveId)) return openBundle(bundle.dir, { verify: 'sizes' });
    if (existing && !options.replace) fail(bundle.manifestFile, `already has an adaptor "${name}" (pass replace to overwrite it)`);
    const entry: AdaptorEntry = { ...m, name, path: rel, inputDim, createdAt: new Date().toISOString() };
    const file = path.join(bundle.dir, ...rel.split('/'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const { path: _p, createdAt: _c, ...fileMeta } = entry;
    writeSafetensors(
      file,
      Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, { dtype: 'F32' as const, shape: v.shape, data: v.data }])),
      { format: 'pt', cleft_adaptor_head: JSON.stringify(fileMeta) },
    );
    crashPoint('bundle.entry-file-written');
    const [h] = await hashFiles(bundle.dir, [rel]);
    const next: BundleManifest = {
      ...current,
      adaptors: [...current.adaptors.filter((a) => a.name !== name), entry],
      files: { ...current.files, [rel]: { size: h!.size, sha256: h!.sha256 } },
    };
    writeManifest(bundle.manifestFile, BundleManifest.parse(next));
    crashPoint('bundle.manifest-written');
    return openBundle(bundle.dir, { verify: 'sizes' });
  });
}

/** Reads a trained head's tensors (F32) and metadata. */
export function readAdaptor(bundle: CleftBundle, name: string): { entry: BundleAdaptor; tensors: Map<string, Float32Array> } {
  const entry = bundle.adaptors.find((a) => a.name === name);
  if (!entry) throw new Error(`${bundle.dir}: no adaptor "${name}" (has: ${bundle.adaptors.map((a) => a.name).join(', ') || 'none'})`);
  const tensors = new Map<string, Float32Array>();
  try {
    const h = readSafetensorsHeader(entry.file);
    for (const t of h.tensors.keys()) tensors.set(t, readTensorF32(h, t));
  } catch (e) {
    throw asFormatError(e);
  }
  return { entry, tensors };
}
