// Opening a bundle: every check `openBundle` makes, in the order it makes them (see layout.ts for
// the folder and what the checks guarantee), and the identities derived from an opened bundle.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadHfFolder, type HfModel } from '../models/hf-model';
import { INDEX_FILE } from '../formats/hf-folder';
import { type Gpt2Config } from '../models/gpt2';
import { type VitConfig, type Dinov2Config } from '../models/vit';
import { readPeftAdapter, validateAdapter, ADAPTER_CONFIG, ADAPTER_WEIGHTS, type PeftAdapter, type AdapterCheck } from '../formats/peft';
import { readSafetensorsHeader } from '../formats/safetensors';
import { Gpt2Tokenizer } from '../formats/tokenizer';
import { canonicalJson, hashFiles, sha256Hex, type FileHash, type HashProgress } from '../io/hash';
import { readHeads, validateHeads, type Heads } from '../models/heads';
import type { ImagePooling } from '../models/vit';
import {
  BUNDLE_MANIFEST,
  BundleError,
  PROMPT_CTX_TENSOR,
  TOKENIZER_FILES,
  asFormatError,
  fail,
  type BundleProblem,
  type VerifyMode,
} from './layout';
import {
  manifestBaseSha256,
  manifestSha256,
  parseBundleManifest,
  type AdaptorEntry,
  type BundleManifest,
  type PromptSetEntry,
} from './manifest';

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
export const inside = (rel: string, folder: string) => rel === folder || rel.startsWith(folder + '/');

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
  const b = readManifest(dir);
  checkReferences(b);
  const files = await checkFiles(b, verify, options.onProgress);
  checkUnlisted(b);
  const { manifest, abs } = b;
  const { textModel, textConfig, imageModel, imageConfig } = loadEncoders(b);
  const textAdapter = loadAdapter(b, 'text adapter', manifest.text.adapter, textModel);
  const imageAdapter = loadAdapter(b, 'image adapter', manifest.image.adapter, imageModel);
  const heads = loadHeads(b, textConfig, imageConfig);
  const tokenizerDir = checkTokenizerPart(b, textConfig, options.checkTokenizer ?? true);
  const promptSets = checkPromptSets(b, textConfig);
  const adaptors: BundleAdaptor[] = manifest.adaptors.map((a) => ({ ...a, file: abs(a.path) }));

  return {
    dir: b.root,
    manifestFile: b.manifestFile,
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
    heads,
    preprocessing: manifest.preprocessing,
    promptSets,
    adaptors,
    files,
    byteSize: files.reduce((a, f) => a + f.size, 0),
    verified: verify,
    warnings: b.warnings,
  };
}

/** What the steps of openBundle share: the folder, its parsed manifest and the warnings so far. */
interface Opening {
  root: string;
  manifestFile: string;
  manifest: BundleManifest;
  /** Absolute path of a bundle-relative one. */
  abs: (rel: string) => string;
  listedSet: Set<string>;
  warnings: string[];
}

/** 0. The folder has a manifest that parses. */
function readManifest(dir: string): Opening {
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
  return {
    root,
    manifestFile,
    manifest,
    abs: (rel: string) => path.join(root, ...rel.split('/')),
    listedSet: new Set(Object.keys(manifest.files)),
    warnings: [],
  };
}

/** 1. References point at listed files. */
function checkReferences({ manifest, manifestFile, listedSet }: Opening): void {
  const listed = [...listedSet];
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
}

/** 2. Presence, containment, sizes and (verify 'full') hashes; every problem collected. */
async function checkFiles(
  { root, manifest, abs, listedSet }: Opening,
  verify: VerifyMode,
  onProgress: ((p: HashProgress) => void) | undefined,
): Promise<CleftBundle['files']> {
  const problems: BundleProblem[] = [];
  const realRoot = fs.realpathSync(root);
  const files: CleftBundle['files'] = [];
  for (const rel of listedSet) {
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
      onProgress,
    );
    for (const h of hashes)
      if (h.sha256 !== manifest.files[h.path]!.sha256)
        problems.push({
          file: abs(h.path),
          problem: `sha256 mismatch: ${h.sha256}, the manifest says ${manifest.files[h.path]!.sha256} (modified or corrupt)`,
        });
    if (problems.length) throw new BundleError(problems);
  }
  return files;
}

/** 3. Unlisted files: an error inside the parts (a loader could read them), a warning elsewhere. */
function checkUnlisted({ root, manifest, abs, listedSet, warnings }: Opening): void {
  const problems: BundleProblem[] = [];
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
}

/** Every file a loader reads must be listed (and so hashed). */
function mustBeListed({ abs, listedSet }: Opening, what: string, folderRel: string, names: readonly string[]): void {
  for (const n of names) {
    const rel = `${folderRel}/${n}`;
    if (!listedSet.has(rel)) fail(abs(rel), `read by the ${what} loader but not listed in ${BUNDLE_MANIFEST}`);
  }
}

/** 4. The encoders load and are of the families the manifest says. */
function loadEncoders(b: Opening): {
  textModel: HfModel;
  textConfig: Gpt2Config;
  imageModel: HfModel;
  imageConfig: VitConfig | Dinov2Config;
} {
  const { manifest, manifestFile, abs } = b;
  const loadPart = (what: string, rel: string): HfModel => {
    try {
      const model = loadHfFolder(abs(rel));
      mustBeListed(b, what, rel, hfModelFiles(model));
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
  return { textModel, textConfig, imageModel, imageConfig };
}

/** 5. An adapter fits its base model. */
function loadAdapter(b: Opening, what: string, rel: string | null, model: HfModel): BundleAdapter | null {
  if (rel === null) return null;
  try {
    mustBeListed(b, what, rel, [ADAPTER_CONFIG, ADAPTER_WEIGHTS]);
    const adapter = readPeftAdapter(b.abs(rel), { family: model.config.family });
    const check = validateAdapter(adapter, model);
    for (const w of check.warnings) b.warnings.push(`${rel}: ${w}`);
    return { dir: b.abs(rel), adapter, check };
  } catch (e) {
    throw asFormatError(e);
  }
}

/** 6. The heads fit both encoders' widths and the manifest's projection size. */
function loadHeads({ manifest, abs }: Opening, textConfig: Gpt2Config, imageConfig: VitConfig | Dinov2Config): CleftBundle['heads'] {
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
  return { file: headsFile, heads };
}

/** 7. The tokenizer (if any) is complete, listed and, when built, fits the text encoder. */
function checkTokenizerPart(b: Opening, textConfig: Gpt2Config, build: boolean): string | null {
  const { manifest, abs, warnings } = b;
  if (manifest.text.tokenizer === null) {
    warnings.push('no tokenizer: the bundle embeds token ids, not text');
    return null;
  }
  const tokenizerDir = abs(manifest.text.tokenizer);
  const present = tokenizerFilesIn(tokenizerDir);
  if (present.length === 0) fail(tokenizerDir, 'no tokenizer.json, and no vocab.json + merges.txt');
  mustBeListed(b, 'tokenizer', manifest.text.tokenizer, present);
  if (build) warnings.push(...checkTokenizer(tokenizerDir, textConfig).map((w) => `${manifest.text.tokenizer}: ${w}`));
  return tokenizerDir;
}

/** 8. Each prompt set's file holds a context of the shape its entry says. */
function checkPromptSets({ manifest, abs, warnings }: Opening, textConfig: Gpt2Config): BundlePromptSet[] {
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
  return promptSets;
}

/** Builds the tokenizer of `dir` and checks it fits the text encoder; returns warnings. */
export function checkTokenizer(dir: string, config: Gpt2Config): string[] {
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
