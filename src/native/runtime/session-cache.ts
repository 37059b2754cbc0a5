// Sessions keyed by what they compute: sha256 of the .onnx bytes, plus the execution provider and
// options. Creating a session parses the graph, optimises it and (on CPU) prepacks weights: seconds
// for a real model, so a job that asks for the same artifact again must get the same session.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ort, type OrtSession } from './ort';
import { canonicalOptions, toOrtSessionOptions, type EngineSessionOptions } from './session-options';

/**
 * A model to load. Prefer `path` for artifacts with external data: ORT resolves external weight
 * files relative to the model's directory and memory-maps them; from bytes it has no directory.
 */
export type ModelSource = { path: string } | { bytes: Uint8Array };

export interface CachedSession {
  /** Cache key: sha256 over artifact hash, options and (for path sources) the model directory. */
  readonly key: string;
  /** sha256 of the .onnx bytes. */
  readonly artifactHash: string;
  readonly session: OrtSession;
  readonly options: EngineSessionOptions;
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
      const ortOptions = toOrtSessionOptions(options);
      const session =
        'path' in source
          ? await ort.InferenceSession.create(path.resolve(source.path), ortOptions)
          : await ort.InferenceSession.create(source.bytes, ortOptions);
      return { key, artifactHash, session, options };
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
