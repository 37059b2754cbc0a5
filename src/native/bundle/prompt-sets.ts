// Learned additions edited in place: prompt sets (prompts/<name>.safetensors) and trained
// classification heads (adaptors/<name>.safetensors), each written under the manifest lock.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSafetensorsHeader, readTensorF32, writeSafetensors } from '../formats/safetensors';
import { crashPoint } from '../io/crash-point';
import { hashFiles } from '../io/hash';
import { BUNDLE_LAYOUT, PROMPT_CTX_TENSOR, asFormatError, fail } from './layout';
import {
  AdaptorMeta,
  BundleManifest,
  PROMPT_SET_NAME_RE,
  PromptSetMeta,
  parseBundleManifest,
  zodProblem,
  type AdaptorEntry,
  type AdaptorMetaInput,
  type PromptSetEntry,
  type PromptSetMetaInput,
} from './manifest';
import { openBundle, promptCtxShape, type BundleAdaptor, type BundlePromptSet, type CleftBundle } from './open';
import { withManifestLock, writeManifest } from './write';

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
