// Cached class text embeddings (`class_embeddings`): one [classes, dim] float32 matrix per model and
// prompt source, valid for one classEmbeddingKey. Rows are deleted with their model (foreign key).
import type { Db } from './database';

export interface ClassEmbeddingRow {
  keySha256: string;
  classNames: string[];
  dim: number;
  /** The stored bytes as they are (the caller checks their length against classes × dim). */
  matrix: Buffer;
}

export class ClassEmbeddingsRepo {
  private readonly getStmt;
  private readonly putStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare(
      `SELECT key_sha256, class_names_json, dim, matrix FROM class_embeddings WHERE model_ref = ? AND prompts_ref = ?`,
    );
    this.putStmt = db.prepare(
      `INSERT INTO class_embeddings (model_ref, prompts_ref, key_sha256, class_names_json, dim, matrix) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(model_ref, prompts_ref) DO UPDATE SET key_sha256 = excluded.key_sha256,
         class_names_json = excluded.class_names_json, dim = excluded.dim, matrix = excluded.matrix,
         created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
    );
  }

  /** The row of this model and prompt source, whatever its key (the caller compares it). */
  get(modelId: number, promptsRef: string): ClassEmbeddingRow | undefined {
    const row = this.getStmt.get(modelId, promptsRef) as
      { key_sha256: string; class_names_json: string; dim: number; matrix: Buffer } | undefined;
    if (!row) return undefined;
    let classNames: string[];
    try {
      const parsed: unknown = JSON.parse(row.class_names_json);
      classNames = Array.isArray(parsed) && parsed.every((n) => typeof n === 'string') ? parsed : [];
    } catch {
      classNames = []; // unreadable names: the caller sees a matrix that does not fit and recomputes
    }
    return { keySha256: row.key_sha256, classNames, dim: row.dim, matrix: row.matrix };
  }

  /** Stores (or replaces) the matrix of this model and prompt source. */
  put(
    modelId: number,
    promptsRef: string,
    row: { keySha256: string; classNames: readonly string[]; dim: number; matrix: Float32Array },
  ): void {
    const m = row.matrix;
    this.putStmt.run(
      modelId,
      promptsRef,
      row.keySha256,
      JSON.stringify(row.classNames),
      row.dim,
      Buffer.from(m.buffer, m.byteOffset, m.byteLength),
    );
  }

  /** Forgets every cached matrix (a cold cache: benchmarks, clearing caches); returns how many. */
  deleteAll(): number {
    return this.db.prepare(`DELETE FROM class_embeddings`).run().changes;
  }

  /** Rows stored for a model (tests and hygiene checks). */
  countOfModel(modelId: number): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM class_embeddings WHERE model_ref = ?`).get(modelId) as { n: number }).n;
  }
}
