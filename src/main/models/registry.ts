// The model registry: the `models` table over folders the user brought. Importing detects what a
// folder is (CLEFT bundle, Hugging Face GPT-2-family text model, ViT/DINOv2 image model, PEFT LoRA
// adapter), refuses it with the file/tensor/problem when it is broken, optionally copies it under
// <dataDir>/models/<sha-prefix>-<name>/ and records it with its identity (sha256).
//
// `manifest_json` holds a RegistryManifest (below): the files with their hashes as imported, the
// architecture summary (so listing needs no disk access) and, for bundles, the bundle manifest.
import fs from 'node:fs';
import path from 'node:path';
import { CleftError } from '../../common/errors';
import type { Db } from '../db/database';
import { libraryDir, resolveModelPath, storedModelPath } from '../db/model-paths';
import { ModelsRepo, type StoredModelRow } from '../db/models-repo';
import { PromptSetsRepo } from '../db/prompt-sets-repo';
import { makePrivate } from '../data-dir';
import { PreprocessSpec, canonicalSpecJson, presetSpec } from '../dicom/pipeline/spec';
import { ModelFormatError } from '../../native/formats/hf-folder';
import { pruneOnnxCache } from '../../native/formats/onnx-cache';
import { hashFiles, filesSha256, type FileHash, type HashProgress } from '../../native/io/hash';
import {
  openBundle,
  parseBundleManifest,
  manifestBaseSha256,
  BUNDLE_MANIFEST,
  exportBundle,
  createBundle,
  type BundleManifest,
} from '../../native/bundle/index';
import {
  inspectModelFolder,
  type ModelFolderKind,
  type ModelInspection,
  type ArchitectureSummary,
  type AdapterSummary,
  type BundleSummary,
} from '../../native/bundle/inspect';

export const MODELS_DIR = 'models';
export type ModelKind = ModelFolderKind;

export interface ModelSummary {
  /** gpt2, vit, dinov2, dinov2_with_registers; for a bundle "gpt2 + vit"; for an adapter the adapted modality. */
  family: string | null;
  /** One line for lists: "GPT-2 12 layers, 768-d, 124.4M parameters". */
  description: string;
  parameters: number;
  byteSize: number;
  dtypes: string[];
  /** A bundle's encoders that carry LoRA adapters (none: a base bundle). */
  adapters?: ('text' | 'image')[];
}

/** What `models.manifest_json` holds. */
export interface RegistryManifest {
  formatVersion: 1;
  kind: ModelKind;
  /** The folder it was imported from. */
  source: string;
  /** Whether `path` is a copy under <dataDir>/models. */
  copied: boolean;
  files: Record<string, { size: number; sha256: string }>;
  summary: ModelSummary;
  architecture: ArchitectureSummary | null;
  adapter: AdapterSummary | null;
  bundle: BundleSummary | null;
  /** The bundle's own manifest (cleft-bundle.json), for bundles. */
  bundleManifest: BundleManifest | null;
  warnings: string[];
}

export interface ModelRecord {
  id: number;
  name: string;
  kind: ModelKind;
  /** Absolute folder. */
  path: string;
  /** Identity: bundleSha256 for bundles, the sha256 of the file list otherwise. */
  sha256: string;
  createdAt: string;
  /** The folder is the registry's own copy (deleting the model removes it). */
  copied: boolean;
  source: string;
  summary: ModelSummary;
}

interface ModelRow extends StoredModelRow {
  /** The folder, resolved against the library (see db/model-paths.ts). */
  path: string;
  /** `models.path` as stored: relative inside the library. */
  stored_path: string;
}

const fmtCount = (n: number) =>
  n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);

function describeArch(a: ArchitectureSummary): string {
  const base = `${a.family} ${a.layers} layers, ${a.hiddenSize}-d, ${a.attentionHeads} heads`;
  if (a.modality === 'text') return `${base}, vocab ${a.vocabSize}, ${a.positions} positions`;
  const reg = a.registerTokens ? `, ${a.registerTokens} registers` : '';
  return `${base}, ${a.imageSize![0]}x${a.imageSize![1]} patch ${a.patchSize![0]}${reg}`;
}

/** The encoders of a bundle that carry LoRA adapters. */
function bundleAdapters(b: BundleSummary): ('text' | 'image')[] {
  return [...(b.textAdapter ? ['text' as const] : []), ...(b.imageAdapter ? ['image' as const] : [])];
}

/** The one-line summary of an inspection. */
export function summarize(i: ModelInspection): ModelSummary {
  let family: string | null = i.family;
  let description = '';
  let adapters: ('text' | 'image')[] | undefined;
  if (i.bundle) {
    const b = i.bundle;
    adapters = bundleAdapters(b);
    family = `${b.text.family} + ${b.image.family}`;
    const ad = [b.textAdapter && 'text LoRA', b.imageAdapter && 'image LoRA'].filter(Boolean).join(', ');
    description =
      `bundle: ${b.text.family} ${b.text.layers}L/${b.text.hiddenSize}-d + ${b.image.family} ${b.image.layers}L/${b.image.hiddenSize}-d` +
      `${ad ? ` with ${ad}` : ''}, proj ${b.heads.projDim}, ${b.imagePooling} pooling` +
      (b.promptSets.length ? `, ${b.promptSets.length} prompt set(s)` : '');
  } else if (i.architecture) description = describeArch(i.architecture);
  else if (i.adapter) {
    const a = i.adapter;
    family = a.modality;
    description = `LoRA r=${a.r} alpha=${a.alpha} on ${typeof a.targetModules === 'string' ? a.targetModules : a.targetModules.join(', ')} (${a.modules} modules${a.modality ? `, ${a.modality} encoder` : ''})`;
  }
  return {
    family,
    description: `${description}; ${fmtCount(i.parameters)} parameters`,
    parameters: i.parameters,
    byteSize: i.byteSize,
    dtypes: i.dtypes,
    ...(adapters ? { adapters } : {}),
  };
}

function parseManifest(row: ModelRow): RegistryManifest {
  return JSON.parse(row.manifest_json) as RegistryManifest;
}

function toRecord(row: ModelRow): ModelRecord {
  const m = parseManifest(row);
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as ModelKind,
    path: row.path,
    sha256: row.sha256,
    createdAt: row.created_at,
    copied: m.copied,
    source: m.source,
    // Derived from the bundle's summary, so records stored before the field existed say it too.
    summary: m.bundle ? { ...m.summary, adapters: bundleAdapters(m.bundle) } : m.summary,
  };
}

export function listModels(db: Db, filter: { kind?: ModelKind } = {}): ModelRecord[] {
  return new ModelsRepo(db).list(filter.kind).map((r) => toRecord(resolved(db, r)));
}

/** The row with its folder resolved against the library the database is in. */
function resolved(db: Db, row: StoredModelRow): ModelRow {
  return { ...row, stored_path: row.path, path: resolveModelPath(libraryDir(db), row.path) };
}

function getRow(db: Db, id: number): ModelRow {
  const row = new ModelsRepo(db).get(id);
  if (!row) throw new CleftError('not_found', `no model with id ${id}`);
  return resolved(db, row);
}

export function getModel(db: Db, id: number): ModelRecord {
  return toRecord(getRow(db, id));
}

/** The stored manifest (files with hashes as imported, summaries, the bundle manifest). */
export function getModelManifest(db: Db, id: number): RegistryManifest {
  return parseManifest(getRow(db, id));
}

function slug(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 60);
  return s || 'model';
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

export interface ImportModelOptions {
  /** Default: the bundle's name, else the folder's name. */
  name?: string;
  /** Copy into <dataDir>/models (true) or register the folder where it is (false). */
  copy: boolean;
  /** Base model folder to check a PEFT adapter against (default: its parent folder when that is a model). */
  adapterBase?: string;
  onProgress?: (p: HashProgress & { phase: 'hash' | 'copy' }) => void;
}

function refuse(source: string, problems: string[]): never {
  throw new CleftError(
    'invalid_input',
    problems.length === 1 ? `cannot import ${source}: ${problems[0]}` : `cannot import ${source}:\n  ${problems.join('\n  ')}`,
    problems.map((p) => ({ path: source, message: p })),
  );
}

/**
 * Validates and records a model folder; with `copy`, copies exactly the files that make up the
 * model under <dataDir>/models/<sha256 prefix>-<name>/ and verifies the copy. Refuses broken folders
 * (invalid_input, naming file, tensor and problem) and models already registered (conflict).
 */
export async function importModel(db: Db, dataDir: string, sourceDir: string, options: ImportModelOptions): Promise<ModelRecord> {
  const source = path.resolve(sourceDir);
  const progress = options.onProgress;
  const inspection = await inspectModelFolder(source, {
    hash: true,
    ...(options.adapterBase ? { adapterBase: options.adapterBase } : {}),
    ...(progress ? { onProgress: (p: HashProgress) => progress({ ...p, phase: 'hash' }) } : {}),
  });
  if (inspection.problems.length || !inspection.kind || !inspection.sha256)
    refuse(source, inspection.problems.length ? inspection.problems : ['not a model folder']);
  const kind = inspection.kind;
  const sha256 = inspection.sha256;
  const name = (options.name ?? inspection.bundle?.name ?? path.basename(source)).trim();
  if (name.length === 0 || name.length > 120) throw new CleftError('invalid_input', `model name must be 1-120 characters, got "${name}"`);

  const models = new ModelsRepo(db);
  const dup = models.bySha256(sha256, kind);
  if (dup)
    throw new CleftError('conflict', `this ${kind} is already registered as #${dup.id} "${dup.name}" (same sha256 ${sha256.slice(0, 12)})`);
  const sameName = models.idByName(name);
  if (sameName !== null) throw new CleftError('conflict', `a model named "${name}" already exists (#${sameName}); choose another name`);

  let target = source;
  const modelsRoot = path.resolve(dataDir, MODELS_DIR);
  if (options.copy) {
    target = path.join(modelsRoot, `${sha256.slice(0, 12)}-${slug(name)}`);
    if (fs.existsSync(target))
      throw new CleftError('conflict', `${target} already exists (a copy left behind?): remove it or import under another name`);
    fs.mkdirSync(modelsRoot, { recursive: true });
    try {
      await copyModelFolder(source, target, kind, inspection.files, progress);
      makePrivate(target);
    } catch (e) {
      fs.rmSync(target, { recursive: true, force: true });
      throw e instanceof CleftError
        ? e
        : new CleftError('internal', `copying ${source} to ${target} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  const manifest: RegistryManifest = {
    formatVersion: 1,
    kind,
    source,
    copied: options.copy,
    files: Object.fromEntries(inspection.files.map((f) => [f.path, { size: f.size, sha256: f.sha256 }])),
    summary: summarize(inspection),
    architecture: inspection.architecture,
    adapter: inspection.adapter,
    bundle: inspection.bundle,
    bundleManifest: kind === 'bundle' ? (await openBundle(target, { verify: 'sizes' })).manifest : null,
    warnings: inspection.warnings,
  };
  try {
    const id = models.insert({ name, kind, path: storedModelPath(libraryDir(db), target), manifestJson: JSON.stringify(manifest), sha256 });
    return getModel(db, id);
  } catch (e) {
    if (options.copy) fs.rmSync(target, { recursive: true, force: true });
    throw e;
  }
}

/** Copies a model's files into `target` (atomically: temp folder + rename) and checks the copy's hashes. */
async function copyModelFolder(
  source: string,
  target: string,
  kind: ModelKind,
  files: readonly FileHash[],
  progress: ImportModelOptions['onProgress'],
): Promise<void> {
  const onProgress = progress ? (p: HashProgress) => progress({ ...p, phase: 'copy' }) : undefined;
  if (kind === 'bundle') {
    await exportBundle(source, target, onProgress ? { onProgress } : {}); // copies and re-verifies in full
    return;
  }
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.partial-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    for (const f of files) {
      const dst = path.join(tmp, ...f.path.split('/'));
      await fs.promises.mkdir(path.dirname(dst), { recursive: true });
      await fs.promises.copyFile(path.join(source, ...f.path.split('/')), dst, fs.constants.COPYFILE_FICLONE);
    }
    const copied = await hashFiles(
      tmp,
      files.map((f) => f.path),
      onProgress,
    );
    if (filesSha256(copied) !== filesSha256(files)) {
      const bad = copied.filter((c, i) => c.sha256 !== files[i]!.sha256).map((c) => c.path);
      throw new CleftError('internal', `the copy differs from ${source} (${bad.join(', ')}): was it modified during the import?`);
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

export interface ModelDetails {
  model: ModelRecord;
  inspection: ModelInspection;
}

/**
 * Re-inspects a registered model where it lives: architecture summary, parameters, dtypes, sizes,
 * files with hashes, and problems, including files changed or missing since the import.
 */
export async function inspectModel(db: Db, id: number, options: { hash?: boolean } = {}): Promise<ModelDetails> {
  const row = getRow(db, id);
  const model = toRecord(row);
  const stored = parseManifest(row);
  const hash = options.hash ?? true;
  const inspection = await inspectModelFolder(row.path, { hash });
  if (!fs.existsSync(row.path)) return { model, inspection: { ...inspection, problems: [`${row.path}: the model folder is gone`] } };
  if (inspection.kind && inspection.kind !== model.kind)
    inspection.problems.push(`${row.path}: is now a ${inspection.kind}, it was imported as ${model.kind}`);
  const now = new Map(inspection.files.map((f) => [f.path, f]));
  const current = model.kind === 'bundle' ? currentBundleManifest(row.path) : null;
  // Learned prompt sets and adaptors are additions, checked against their own hashes in the bundle's
  // manifest: adding, replacing or removing one is not a change of the imported model.
  const added = new Set([stored.bundleManifest, current].flatMap((m) => (m ? additionFiles(m) : [])));
  for (const [rel, f] of Object.entries(stored.files)) {
    if (added.has(rel)) continue;
    const cur = now.get(rel);
    const file = path.join(row.path, rel);
    if (!cur) {
      if (!inspection.problems.some((p) => p.includes(file))) inspection.problems.push(`${file}: missing (it was imported)`);
    } else if (cur.size !== f.size) inspection.problems.push(`${file}: size ${cur.size} bytes, it was ${f.size} when imported`);
    else if (hash && cur.sha256 && cur.sha256 !== f.sha256)
      inspection.problems.push(`${file}: sha256 changed since the import (${cur.sha256}, was ${f.sha256})`);
  }
  const sameBase =
    current !== null && stored.bundleManifest !== null && manifestBaseSha256(current) === manifestBaseSha256(stored.bundleManifest);
  if (hash && inspection.sha256 && inspection.sha256 !== row.sha256 && inspection.problems.length === 0 && !sameBase)
    inspection.problems.push(`${row.path}: identity changed since the import (${inspection.sha256}, recorded ${row.sha256})`);
  return { model, inspection };
}

/** A bundle's manifest as it is now (null when it cannot be read: the inspection says why). */
function currentBundleManifest(dir: string): BundleManifest | null {
  try {
    return parseBundleManifest(JSON.parse(fs.readFileSync(path.join(dir, BUNDLE_MANIFEST), 'utf8')));
  } catch {
    return null;
  }
}

/** The files of a bundle's learned prompt sets and adaptors. */
function additionFiles(m: BundleManifest): string[] {
  return [...m.promptSets.map((p) => p.path), ...m.adaptors.map((a) => a.path)];
}

/**
 * Removes a model from the registry; its folder is deleted only when it is the registry's own copy
 * (inside <dataDir>/models). Prompt sets recorded for it go with it, and so does the library's choice
 * of its active prompt sets (ids can be reused by the next import); predictions keep their
 * model_sha256 and lose the link. The app and `cleft models delete` both come here.
 */
export function deleteModel(db: Db, dataDir: string, id: number): { deleted: number; removedFolder: string | null } {
  const row = getRow(db, id);
  const models = new ModelsRepo(db);
  db.transaction(() => {
    models.delete(id);
    new PromptSetsRepo(db).forgetModel(id);
  }).immediate();
  const modelsRoot = path.resolve(dataDir, MODELS_DIR);
  const folder = path.resolve(row.path);
  if (isInside(folder, modelsRoot) && fs.existsSync(folder)) {
    if (!models.pathInUse(row.stored_path)) {
      fs.rmSync(folder, { recursive: true, force: true });
      // The ONNX cache hard-links weight files: drop the deleted model's links and artifacts, or its
      // bytes stay on disk.
      pruneOnnxCache(path.join(dataDir, 'cache', 'onnx'));
      return { deleted: id, removedFolder: folder };
    }
  }
  return { deleted: id, removedFolder: null };
}

/**
 * After a registered bundle changed (a prompt set added), records its new identity and manifest,
 * and in the same transaction runs `register` (the rows that name what was added), so a kill
 * leaves either all of them or none. Returns the updated record and what `register` returned.
 */
export async function refreshBundleRecord(db: Db, id: number): Promise<ModelRecord>;
export async function refreshBundleRecord<T>(
  db: Db,
  id: number,
  register: (model: ModelRecord) => T,
): Promise<{ model: ModelRecord; registered: T }>;
export async function refreshBundleRecord<T>(
  db: Db,
  id: number,
  register?: (model: ModelRecord) => T,
): Promise<ModelRecord | { model: ModelRecord; registered: T }> {
  const row = getRow(db, id);
  if (row.kind !== 'bundle') throw new CleftError('invalid_input', `model #${id} is a ${row.kind}, not a bundle`);
  const inspection = await inspectModelFolder(row.path, { hash: true });
  if (inspection.problems.length || !inspection.sha256) refuse(row.path, inspection.problems);
  const old = parseManifest(row);
  const manifest: RegistryManifest = {
    ...old,
    files: Object.fromEntries(inspection.files.map((f) => [f.path, { size: f.size, sha256: f.sha256 }])),
    summary: summarize(inspection),
    bundle: inspection.bundle,
    bundleManifest: (await openBundle(row.path, { verify: 'sizes' })).manifest,
    warnings: inspection.warnings,
  };
  const sha256 = inspection.sha256;
  return db
    .transaction(() => {
      new ModelsRepo(db).updateManifest(id, JSON.stringify(manifest), sha256);
      const model = getModel(db, id);
      return register ? { model, registered: register(model) } : model;
    })
    .immediate();
}

/**
 * The preprocessing to record in a new bundle, as a complete PreprocessSpec (defaults filled) so the
 * bundle's preprocessing sha256 equals the pipeline's `specHash`: a preset at the image model's
 * input size (config `image_size`, or `imageSize`), or a given spec. 'none' records nothing.
 */
export function bundlePreprocessing(
  source: { preset: 'cleft' | 'voi' | 'none'; imageModelDir: string; imageSize?: number } | { spec: unknown },
): Record<string, unknown> | null {
  if ('spec' in source) {
    const parsed = PreprocessSpec.safeParse(source.spec);
    if (!parsed.success)
      throw new CleftError(
        'invalid_input',
        `not a preprocessing spec: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      );
    return JSON.parse(canonicalSpecJson(parsed.data)) as Record<string, unknown>;
  }
  if (source.preset === 'none') return null;
  let size = source.imageSize;
  if (size === undefined) {
    const cfgFile = path.join(source.imageModelDir, 'config.json');
    let s: unknown = 224;
    try {
      s = (JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as { image_size?: unknown }).image_size ?? 224;
    } catch {
      /* the bundle's own validation reports a missing or broken config */
    }
    size = Array.isArray(s) ? Number(s[0]) : Number(s);
    if (!Number.isInteger(size) || size <= 0) size = 224;
  }
  const spec = { ...presetSpec(source.preset), size, padLongSide: Math.max(size, 256) };
  return JSON.parse(canonicalSpecJson(spec)) as Record<string, unknown>;
}

/** Format errors (file, tensor, problem) become invalid_input for the contract; others pass through. */
function asCleftError(e: unknown): unknown {
  if (e instanceof ModelFormatError) return new CleftError('invalid_input', e.message);
  return e;
}

/** Exports a registered bundle whole to `destDir` (verified copy, same identity). */
export async function exportModelBundle(db: Db, id: number, destDir: string, overwrite = false): Promise<{ dir: string; sha256: string }> {
  const row = getRow(db, id);
  if (row.kind !== 'bundle') throw new CleftError('invalid_input', `model #${id} is a ${row.kind}; only bundles export whole`);
  try {
    const b = await exportBundle(row.path, destDir, { overwrite });
    return { dir: b.dir, sha256: b.sha256 };
  } catch (e) {
    throw asCleftError(e);
  }
}

export interface CreateBundleRequest {
  output: string;
  name?: string;
  description?: string;
  textModel: string;
  imageModel: string;
  textAdapter?: string;
  imageAdapter?: string;
  heads: string;
  tokenizer?: string;
  imagePooling?: 'cls' | 'prenorm-mean';
  maxTextLength?: number;
  /** Preprocessing preset at the image model's size (default 'cleft'), unless `preprocessSpec` is given. */
  preset?: 'cleft' | 'voi' | 'none';
  preprocessSpec?: unknown;
  imageSize?: number;
  overwrite?: boolean;
  /** 'copy' (default) or 'hardlink' the parts. */
  link?: 'copy' | 'hardlink';
  /** Register the new bundle where it is (needs `db`). Default true. */
  register?: boolean;
  createdBy?: string;
  onProgress?: (p: HashProgress) => void;
}

/**
 * Assembles a bundle at `output` (see createBundle) with the preprocessing recorded as a complete
 * pipeline spec, and registers it in place. Format problems are `invalid_input` naming the file.
 */
export async function createModelBundle(
  db: Db | null,
  dataDir: string,
  req: CreateBundleRequest,
): Promise<{ dir: string; sha256: string; warnings: string[]; model: ModelRecord | null }> {
  const preprocessing =
    req.preprocessSpec !== undefined
      ? bundlePreprocessing({ spec: req.preprocessSpec })
      : bundlePreprocessing({
          preset: req.preset ?? 'cleft',
          imageModelDir: req.imageModel,
          ...(req.imageSize ? { imageSize: req.imageSize } : {}),
        });
  let b;
  try {
    b = await createBundle(
      req.output,
      {
        ...(req.name ? { name: req.name } : {}),
        ...(req.description ? { description: req.description } : {}),
        textModel: req.textModel,
        imageModel: req.imageModel,
        textAdapter: req.textAdapter ?? null,
        imageAdapter: req.imageAdapter ?? null,
        heads: req.heads,
        ...(req.tokenizer ? { tokenizer: req.tokenizer } : {}),
        imagePooling: req.imagePooling ?? 'cls',
        ...(req.maxTextLength ? { maxTextLength: req.maxTextLength } : {}),
        preprocessing,
        ...(req.createdBy ? { createdBy: req.createdBy } : {}),
      },
      { overwrite: req.overwrite ?? false, link: req.link ?? 'copy', ...(req.onProgress ? { onProgress: req.onProgress } : {}) },
    );
  } catch (e) {
    throw asCleftError(e);
  }
  const model =
    db && (req.register ?? true) ? await importModel(db, dataDir, b.dir, { copy: false, ...(req.name ? { name: req.name } : {}) }) : null;
  return { dir: b.dir, sha256: b.sha256, warnings: b.warnings, model };
}
