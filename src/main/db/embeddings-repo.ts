// Cached pooled image features (`embeddings`): one float32 vector per encoder identity, instance
// and preprocessing hash, so no image is encoded twice for the same model input.
import type { Db } from './database';

export interface EmbeddingKey {
  /** The image encoder's identity (embeddingIdentity(bundle).image). */
  encoder: string;
  instanceId: number;
  preprocessSha256: string;
}

export class EmbeddingsRepo {
  private readonly getStmt;
  private readonly putStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare(`SELECT vector FROM embeddings WHERE model_sha256 = ? AND instance_ref = ? AND preprocess_sha256 = ?`);
    this.putStmt = db.prepare(
      `INSERT INTO embeddings (model_sha256, instance_ref, preprocess_sha256, dim, vector) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(model_sha256, instance_ref, preprocess_sha256) DO UPDATE SET vector = excluded.vector, dim = excluded.dim`,
    );
  }

  /** The stored vector's bytes, or undefined when this image was never encoded for this key. */
  get(key: EmbeddingKey): Buffer | undefined {
    const row = this.getStmt.get(key.encoder, key.instanceId, key.preprocessSha256) as { vector: Buffer } | undefined;
    return row?.vector;
  }

  /** Stores (or replaces) vectors, all in one transaction. */
  putAll(rows: readonly (EmbeddingKey & { vector: Float32Array })[]): void {
    this.db
      .transaction(() => {
        for (const r of rows)
          this.putStmt.run(
            r.encoder,
            r.instanceId,
            r.preprocessSha256,
            r.vector.length,
            Buffer.from(r.vector.buffer, r.vector.byteOffset, r.vector.byteLength),
          );
      })
      .immediate();
  }
}
