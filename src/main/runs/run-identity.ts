// What names a classification run's model and prompts in its record: the hashes of the bundle's
// adapters, learned prompt set and trained head, the run's name and the hash of its selection.
// One definition shared by the classify job and by `cleft runs merge`, so a run merged from
// shards is recorded exactly as one the library ran itself.
import crypto from 'node:crypto';
import path from 'node:path';
import { filesSha256 } from '../../native/io/hash';
import type { CleftBundle } from '../../native/bundle/index';

/** The sha256 of one file of the bundle, from its manifest ('' when the manifest does not list it). */
export function bundleFileHash(bundle: CleftBundle, rel: string): string {
  return bundle.files.find((f) => f.path === rel)?.sha256 ?? '';
}

/** The prompt set's file hash from the bundle manifest, or null for the task's templates. */
export function promptSetHash(bundle: CleftBundle, name: string | null): string | null {
  if (!name) return null;
  const entry = bundle.promptSets.find((p) => p.name === name);
  if (!entry)
    throw new Error(`the bundle has no prompt set "${name}" (it has: ${bundle.promptSets.map((p) => p.name).join(', ') || 'none'})`);
  return bundle.files.find((f) => f.path === entry.path)?.sha256 ?? null;
}

/** Hash over each adapter's files (the bundle hash covers them too; this names them apart). */
export function adapterHashes(bundle: CleftBundle): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, adapter] of [
    ['text', bundle.text.adapter],
    ['image', bundle.image.adapter],
  ] as const) {
    if (!adapter) continue;
    const rel = path.relative(bundle.dir, adapter.dir).split(path.sep).join('/');
    out[name] = filesSha256(bundle.files.filter((f) => f.path.startsWith(`${rel}/`)));
  }
  return out;
}

/** The run's name as the Predictions page lists it. */
export function classifyRunName(task: string, model: string, promptSet: string | null, adaptor: string | null): string {
  if (adaptor) return `${task} · ${model} · adaptor ${adaptor}`;
  if (promptSet) return `${task} · ${model} · prompts ${promptSet}`;
  return `${task} · ${model}`;
}

/** The hash of the studies a run covers (library ids, order-free). */
export function selectionSha256(studyIds: readonly number[]): string {
  return crypto
    .createHash('sha256')
    .update(JSON.stringify([...studyIds].sort((a, b) => a - b)))
    .digest('hex');
}
