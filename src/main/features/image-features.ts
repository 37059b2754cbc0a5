// Pooled image features of library instances for a bundle, computed once: cached in the
// `embeddings` table per encoder identity (embeddingIdentity(bundle).image), instance and
// preprocessing hash, so classification and prompt learning never encode an image twice.
import path from 'node:path';
import type { Settings } from '../../common/contract';
import type { Db } from '../db/database';
import { EmbeddingsRepo } from '../db/embeddings-repo';
import { prepareFiles } from '../dicom/pipeline/prepare';
import { presetSpec } from '../dicom/pipeline/spec';
import { sha256Hex, canonicalJson } from '../../native/io/hash';
import { embeddingIdentity, type CleftBundle } from '../../native/bundle/index';
import { imageFeatures, type EngineChoice } from '../../native/cleft/features';
import { precisionIdentity } from '../../native/cleft/zero-shot';
import { providerLabel, type ProviderChoice } from '../../native/runtime/providers';
import type { SessionKeepPolicy } from '../../native/runtime/protocol';

export type Engine = EngineChoice & { cacheDir: string };

/** The engine the Settings ask for, with the library's on-disk ONNX cache. */
export function engineFromSettings(dataDir: string, settings: Settings, onWarning: (message: string) => void): Engine {
  return {
    cacheDir: path.join(dataDir, 'cache', 'onnx'),
    device: settings.executionProvider as ProviderChoice,
    ...(settings.threads > 0 ? { threads: settings.threads } : {}),
    sessionPolicy: sessionPolicyOf(settings),
    onWarning,
  };
}

/** The engine's kept-session policy the Settings ask for. */
export function sessionPolicyOf(settings: Settings): SessionKeepPolicy {
  return { idleMs: settings.sessionIdleMinutes * 60_000, budgetBytes: settings.sessionMemoryMb * 2 ** 20 };
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
  // int8 features are cached under an identity of their own (precisionIdentity)
  const identity = precisionIdentity(embeddingIdentity(bundle).image, engine.weights);
  const dim = bundle.heads.heads.imageDim;
  const cache = new EmbeddingsRepo(db);
  const features = new Float32Array(instances.length * dim);
  const missing: number[] = [];
  instances.forEach((inst, i) => {
    const vector = cache.get({ encoder: identity, instanceId: inst.id, preprocessSha256: preprocessSha });
    if (vector && vector.byteLength === dim * 4) {
      features.set(new Float32Array(vector.buffer.slice(vector.byteOffset, vector.byteOffset + vector.byteLength)), i * dim);
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
    provider = providerLabel(f.provider);
    cache.putAll(
      part.map((i, j) => {
        const vector = f.features.subarray(j * dim, (j + 1) * dim);
        features.set(vector, i * dim);
        return { encoder: identity, instanceId: instances[i]!.id, preprocessSha256: preprocessSha, vector };
      }),
    );
    options.onProgress?.(Math.min(missing.length, s + batch), missing.length);
  }
  return { features, dim, cacheHits: instances.length - missing.length, provider };
}
