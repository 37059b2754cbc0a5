// Sessions keyed by what they compute: sha256 of the .onnx bytes, plus the execution provider and
// options. Creating a session parses the graph, optimises it and (on CPU) prepacks weights: seconds
// for a real model, so a job that asks for the same artifact again must get the same session.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ort, type OrtSession, type OrtSessionOptions } from './ort';
import { CONFIG_DISABLE_CPU_FALLBACK, providerLabel } from './providers';
import { canonicalOptions, toOrtSessionOptions, type EngineSessionOptions } from './session-options';

/**
 * A model to load. Prefer `path` for artifacts with external data: ORT resolves external weight
 * files relative to the model's directory and memory-maps them; from bytes it has no directory.
 */
export type ModelSource = { path: string } | { bytes: Uint8Array };

/** Where a session's nodes run: what a run record states per graph. */
export interface SessionPlacement {
  /** The provider the session was created with: "cpu", "webgpu" or "cuda:N". */
  provider: string;
  /**
   * true: every node runs on `provider`. false: ORT placed some nodes on the CPU EP because
   * `provider` has no kernel for them (WebGPU; docs/engine.md lists them per graph). null: not
   * checked (CUDA).
   */
  allNodesOnProvider: boolean | null;
}

// ORT's message when disable_cpu_ep_fallback meets a node the EP cannot take.
const CPU_FALLBACK_REFUSED = /fallback to CPU EP has been explicitly disabled/;

/**
 * Creates a session. On WebGPU it first insists on every node being on the GPU (ORT's
 * session.disable_cpu_ep_fallback); if ORT refuses, it creates the session with ORT's CPU fallback
 * and says so, so the record is true either way.
 */
async function createPlaced(
  source: ModelSource,
  options: EngineSessionOptions,
): Promise<{ session: OrtSession; placement: SessionPlacement }> {
  const provider = options.provider ?? { name: 'cpu', choice: 'cpu' };
  const create = (o: OrtSessionOptions) =>
    'path' in source ? ort.InferenceSession.create(path.resolve(source.path), o) : ort.InferenceSession.create(source.bytes, o);
  const base = toOrtSessionOptions(options);
  const label = providerLabel(provider);
  if (provider.name !== 'webgpu' || base.extra?.[CONFIG_DISABLE_CPU_FALLBACK] !== undefined)
    return { session: await create(base), placement: { provider: label, allNodesOnProvider: provider.name === 'cpu' ? true : null } };
  try {
    // Fatal-only logging for the attempt: ORT would print its refusal as an error line.
    const strict = { ...base, logSeverityLevel: 4 as const, extra: { ...(base.extra ?? {}), [CONFIG_DISABLE_CPU_FALLBACK]: '1' } };
    return { session: await create(strict), placement: { provider: label, allNodesOnProvider: true } };
  } catch (err) {
    if (!CPU_FALLBACK_REFUSED.test(err instanceof Error ? err.message : String(err))) throw err;
    return { session: await create(base), placement: { provider: label, allNodesOnProvider: false } };
  }
}

export interface CachedSession {
  /** Cache key: sha256 over artifact hash, options and (for path sources) the model directory. */
  readonly key: string;
  /** sha256 of the .onnx bytes. */
  readonly artifactHash: string;
  readonly session: OrtSession;
  readonly options: EngineSessionOptions;
  readonly placement: SessionPlacement;
}

export interface SessionCacheStats {
  hits: number;
  misses: number;
  size: number;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The cache key. A path source also keys on its directory: two identical .onnx files next to
 * different external weight files are different models.
 */
export function sessionKey(artifactHash: string, options: EngineSessionOptions, modelDir?: string): string {
  return createHash('sha256')
    .update(artifactHash)
    .update('\0')
    .update(canonicalOptions(options))
    .update('\0')
    .update(modelDir ?? '')
    .digest('hex');
}

export class SessionCache {
  private readonly entries = new Map<string, CachedSession>();
  // In-flight creations, so two concurrent requests for one model create one session.
  private readonly pending = new Map<string, Promise<CachedSession>>();
  private hits = 0;
  private misses = 0;

  /** @param maxEntries least recently used sessions beyond this are released. */
  constructor(private readonly maxEntries = Number.POSITIVE_INFINITY) {}

  async acquire(source: ModelSource, options: EngineSessionOptions = {}): Promise<{ entry: CachedSession; hit: boolean }> {
    const bytes = 'bytes' in source ? source.bytes : await readFile(source.path);
    const artifactHash = sha256Hex(bytes);
    const modelDir = 'path' in source ? path.dirname(path.resolve(source.path)) : undefined;
    const key = sessionKey(artifactHash, options, modelDir);

    const existing = this.entries.get(key);
    if (existing) {
      this.hits++;
      this.entries.delete(key); // re-insert: Map order doubles as LRU order
      this.entries.set(key, existing);
      return { entry: existing, hit: true };
    }
    const inFlight = this.pending.get(key);
    if (inFlight) {
      this.hits++;
      return { entry: await inFlight, hit: true };
    }

    this.misses++;
    const creation = (async (): Promise<CachedSession> => {
      const { session, placement } = await createPlaced(source, options);
      return { key, artifactHash, session, options, placement };
    })();
    this.pending.set(key, creation);
    try {
      const entry = await creation;
      this.entries.set(key, entry);
      await this.evict();
      return { entry, hit: false };
    } finally {
      this.pending.delete(key);
    }
  }

  get(key: string): CachedSession | undefined {
    return this.entries.get(key);
  }

  async release(key: string): Promise<boolean> {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.entries.delete(key);
    await entry.session.release();
    return true;
  }

  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => e.session.release()));
  }

  stats(): SessionCacheStats {
    return { hits: this.hits, misses: this.misses, size: this.entries.size };
  }

  private async evict(): Promise<void> {
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) return;
      await this.release(oldest);
    }
  }
}
