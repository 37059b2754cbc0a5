// The `models` table as stored: one row per registered model folder (kind, identity, the registry's
// manifest as JSON). `path` is as stored (relative inside the library, see model-paths.ts); the
// registry (main/models/registry.ts) resolves it and owns what the manifest means.
import type { Db } from './database';

export interface StoredModelRow {
  id: number;
  name: string;
  kind: string;
  /** `models.path` as stored: relative inside the library. */
  path: string;
  manifest_json: string;
  sha256: string;
  created_at: string;
}

export interface NewModelRow {
  name: string;
  kind: string;
  /** As to store it (storedModelPath). */
  path: string;
  manifestJson: string;
  sha256: string;
}

export class ModelsRepo {
  constructor(private readonly db: Db) {}

  /** Every model, or those of one kind, in registration order. */
  list(kind?: string): StoredModelRow[] {
    return (
      kind
        ? this.db.prepare(`SELECT * FROM models WHERE kind = ? ORDER BY id`).all(kind)
        : this.db.prepare(`SELECT * FROM models ORDER BY id`).all()
    ) as StoredModelRow[];
  }

  get(id: number): StoredModelRow | undefined {
    return this.db.prepare(`SELECT * FROM models WHERE id = ?`).get(id) as StoredModelRow | undefined;
  }

  /** The model of this kind already registered with this identity. */
  bySha256(sha256: string, kind: string): { id: number; name: string } | undefined {
    return this.db.prepare(`SELECT id, name FROM models WHERE sha256 = ? AND kind = ?`).get(sha256, kind) as
      { id: number; name: string } | undefined;
  }

  /** The model registered under this name (names are unique), or null. */
  idByName(name: string): number | null {
    const row = this.db.prepare(`SELECT id FROM models WHERE name = ?`).get(name) as { id: number } | undefined;
    return row?.id ?? null;
  }

  /** Whether any model is stored at this `models.path` (a registry copy may back two records). */
  pathInUse(storedPath: string): boolean {
    return this.db.prepare(`SELECT 1 FROM models WHERE path = ?`).get(storedPath) !== undefined;
  }

  insert(row: NewModelRow): number {
    const info = this.db
      .prepare(`INSERT INTO models (name, kind, path, manifest_json, sha256) VALUES (?, ?, ?, ?, ?)`)
      .run(row.name, row.kind, row.path, row.manifestJson, row.sha256);
    return Number(info.lastInsertRowid);
  }

  /** A changed model's new manifest and identity (a bundle that gained a prompt set or adaptor). */
  updateManifest(id: number, manifestJson: string, sha256: string): void {
    this.db.prepare(`UPDATE models SET manifest_json = ?, sha256 = ? WHERE id = ?`).run(manifestJson, sha256, id);
  }

  delete(id: number): void {
    this.db.prepare(`DELETE FROM models WHERE id = ?`).run(id);
  }
}
