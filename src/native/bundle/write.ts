// Writing bundles: create from parts and export, both assembled in a temporary sibling folder and
// renamed into place (commitFolder), and the manifest lock that serialises in-place edits.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadHfFolder } from '../models/hf-model';
import { ModelFormatError } from '../formats/hf-folder';
import { type Gpt2Config } from '../models/gpt2';
import { type VitConfig, type Dinov2Config } from '../models/vit';
import { readPeftAdapter, validateAdapter, ADAPTER_CONFIG, ADAPTER_WEIGHTS } from '../formats/peft';
import { writeFileAtomic } from '../formats/safetensors';
import { canonicalJson, hashFiles, sha256Hex, type HashProgress } from '../io/hash';
import { readHeads, validateHeads, type Heads } from '../models/heads';
import type { ImagePooling } from '../models/vit';
import { BUNDLE_FORMAT_VERSION, BUNDLE_LAYOUT, BUNDLE_MANIFEST, asFormatError, fail } from './layout';
import { BundleManifest } from './manifest';
import { checkTokenizer, hfModelFiles, openBundle, tokenizerFilesIn, type CleftBundle } from './open';

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
  /** How the model was trained (the manifest's `training`, e.g. `{split: {trainStudies, valStudies, ...}}`). */
  training?: Record<string, unknown>;
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

export function writeManifest(file: string, m: BundleManifest): void {
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
      ...(parts.training ? { training: parts.training } : {}),
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
// the manifest lock (in-place edits: prompt sets and adaptors)

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
export function withManifestLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
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
