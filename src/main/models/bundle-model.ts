// The library's model record of a CLEFT bundle folder, as a run names its model: the one registered
// at that folder, else one with the same content (sha256), else the folder registered now (in
// place, not copied). Shared by `cleft classify --study` and `cleft runs merge`.
import path from 'node:path';
import type { Db } from '../db/database';
import { ModelsRepo } from '../db/models-repo';
import type { CleftBundle } from '../../native/bundle/index';
import { importModel, listModels, type ModelRecord } from './registry';

/** The model registered at the bundle's folder, else one with the same content; undefined if none. */
export function registeredModelOfBundle(db: Db, bundle: CleftBundle): ModelRecord | undefined {
  const dir = path.resolve(bundle.dir);
  const bundles = listModels(db, { kind: 'bundle' });
  return bundles.find((m) => path.resolve(m.path) === dir) ?? bundles.find((m) => m.sha256 === bundle.sha256);
}

export async function libraryModelOfBundle(
  db: Db,
  dataDir: string,
  bundle: CleftBundle,
): Promise<{ model: ModelRecord; registered: boolean }> {
  const here = registeredModelOfBundle(db, bundle);
  if (here) return { model: here, registered: false };
  const dir = path.resolve(bundle.dir);
  const repo = new ModelsRepo(db);
  const name = bundle.manifest.name;
  // Another model may already carry the bundle's name: tell them apart by content.
  const free = repo.idByName(name) === null ? name : `${name} (${bundle.sha256.slice(0, 12)})`;
  return { model: await importModel(db, dataDir, dir, { copy: false, name: free }), registered: true };
}
