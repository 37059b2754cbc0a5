// Where a registered model's folder is stored: relative to the library (forward slashes) when it
// is inside it, so a library copied or moved elsewhere uses its own copies of models and writes
// (prompt sets, adaptors) only inside itself; absolute when it lives elsewhere (registered in place).
import path from 'node:path';
import type { Db } from './database';

/** The library folder of an open database: the folder of its file. */
export function libraryDir(db: Db): string {
  return path.dirname(path.resolve(db.name));
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** The form of `folder` to store in `models.path`. */
export function storedModelPath(dataDir: string, folder: string): string {
  const abs = path.resolve(folder);
  const root = path.resolve(dataDir);
  return isInside(abs, root) ? path.relative(root, abs).split(path.sep).join('/') : abs;
}

/** The folder a stored `models.path` names, for the library at `dataDir`. */
export function resolveModelPath(dataDir: string, stored: string): string {
  return path.isAbsolute(stored) ? stored : path.resolve(dataDir, ...stored.split('/'));
}

/**
 * Migration step: absolute folders inside a library become relative. "Inside" means inside this
 * library, or inside the library the database was copied from (known by the registry's own copies
 * under its models/ folder), so a library copied before this version also stops using the original.
 */
export function relativiseModelPaths(db: Db): void {
  const rows = db.prepare(`SELECT id, path, manifest_json FROM models`).all() as { id: number; path: string; manifest_json: string }[];
  const roots = new Set([libraryDir(db)]);
  for (const r of rows) {
    if (!path.isAbsolute(r.path) || path.basename(path.dirname(r.path)) !== 'models') continue;
    let copied = false;
    try {
      copied = (JSON.parse(r.manifest_json) as { copied?: unknown }).copied === true;
    } catch {
      /* an unreadable manifest proves nothing */
    }
    // the registry's copies and the LoRA job's bundles are made under <library>/models
    if (copied || /^lora-job\d+-/.test(path.basename(r.path))) roots.add(path.dirname(path.dirname(r.path)));
  }
  const update = db.prepare(`UPDATE models SET path = ? WHERE id = ?`);
  for (const r of rows) {
    if (!path.isAbsolute(r.path)) continue;
    const root = [...roots].find((d) => isInside(r.path, d));
    if (root) update.run(storedModelPath(root, r.path), r.id);
  }
  // prompt_sets.path: the file inside its bundle (prompts/<name>.safetensors), not an absolute path
  db.prepare(
    `UPDATE prompt_sets SET path = 'prompts/' || name || '.safetensors'
     WHERE kind = 'learned' AND path IS NOT NULL AND path LIKE '%prompts_' || name || '.safetensors'`,
  ).run();
}
