// Pooled image features of library instances for a bundle, computed once: cached in the
// `embeddings` table per encoder identity (embeddingIdentity(bundle).image), instance and
// preprocessing hash, so classification and prompt learning never encode an image twice.
import path from 'node:path';
import type { Settings } from '../../common/contract';
import type { Db } from '../db/database';
import { prepareFiles } from '../dicom/pipeline/prepare';
import { presetSpec } from '../dicom/pipeline/spec';
import { sha256Hex, canonicalJson } from '../../native/io/hash';
import { embeddingIdentity, type CleftBundle } from '../../native/bundle/index';
import { imageFeatures, type EngineChoice } from '../../native/cleft/features';

export type Engine = EngineChoice & { cacheDir: string };

/** The engine the Settings ask for, with the library's on-disk ONNX cache. */
export function engineFromSettings(dataDir: string, settings: Settings, onWarning: (message: string) => void): Engine {
  return {
    cacheDir: path.join(dataDir, 'cache', 'onnx'),
    device: settings.executionProvider as 'auto' | 'cpu' | `cuda:${number}`,
    ...(settings.threads > 0 ? { threads: settings.threads } : {}),
    onWarning,
  };
}

export interface FeatureResult {
  /** [instances.length, imageDim] in the order given. */
  features: Float32Array;
  dim: number;
  cacheHits: number;
  /** The provider that encoded the misses ('cpu', 'cuda:0'), or null when everything was cached. */
  provider: string | null;
}

/** The bundle's preprocessing spec (the cleft preset when it has none) and its hash. */
export function bundleSpec(bundle: CleftBundle): { spec: Parameters<typeof prepareFiles>[1]; sha256: string } {
  if (bundle.preprocessing)
    return { spec: bundle.preprocessing.spec as Parameters<typeof prepareFiles>[1], sha256: bundle.preprocessing.sha256 };
  const spec = presetSpec('cleft');
  return { spec, sha256: sha256Hex(canonicalJson(spec)) };
}

export async function cachedImageFeatures(
  db: Db,
  bundle: CleftBundle,
  instances: readonly { id: number; file: string }[],
  engine: Engine,
  options: { batch?: number; signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<FeatureResult> {
  const { spec, sha256: preprocessSha } = bundleSpec(bundle);
  const identity = embeddingIdentity(bundle).image;
  const dim = bundle.heads.heads.imageDim;
  const get = db.prepare(`SELECT vector FROM embeddings WHERE model_sha256 = ? AND instance_ref = ? AND preprocess_sha256 = ?`);
  const put = db.prepare(
    `INSERT INTO embeddings (model_sha256, instance_ref, preprocess_sha256, dim, vector) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(model_sha256, instance_ref, preprocess_sha256) DO UPDATE SET vector = excluded.vector, dim = excluded.dim`,
  );
  const features = new Float32Array(instances.length * dim);
  const missing: number[] = [];
  instances.forEach((inst, i) => {
    const row = get.get(identity, inst.id, preprocessSha) as { vector: Buffer } | undefined;
    if (row && row.vector.byteLength === dim * 4) {
      features.set(
        new Float32Array(row.vector.buffer.slice(row.vector.byteOffset, row.vector.byteOffset + row.vector.byteLength)),
        i * dim,
      );
    } else missing.push(i);
  });
  let provider: string | null = null;
  const batch = options.batch ?? 16;
  for (let s = 0; s < missing.length; s += batch) {
    if (options.signal?.aborted) break;
    const part = missing.slice(s, s + batch);
    const prepared = await prepareFiles(
      part.map((i) => instances[i]!.file),
      spec,
    );
    const f = await imageFeatures(
      { modelDir: bundle.image.dir, adapterDir: bundle.image.adapter?.dir ?? null, pool: bundle.image.pooling },
      prepared.pixelValues,
      prepared.shape,
      engine,
    );
    provider = f.provider.name === 'cuda' ? `cuda:${f.provider.deviceId}` : 'cpu';
    db.transaction(() => {
      part.forEach((i, j) => {
        const row = f.features.subarray(j * dim, (j + 1) * dim);
        features.set(row, i * dim);
        put.run(identity, instances[i]!.id, preprocessSha, dim, Buffer.from(row.buffer, row.byteOffset, row.byteLength));
      });
    })();
    options.onProgress?.(Math.min(missing.length, s + batch), missing.length);
  }
  return { features, dim, cacheHits: instances.length - missing.length, provider };
}
