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
 * `weights` names the frozen weights the graph holds (frozenWeightsId, or `combinedWeights` of
 * several), for `weightSessions`.
 */
export type ModelSource = ({ path: string } | { bytes: Uint8Array }) & { weights?: string };

// Sessions alive in this thread per frozen weights (every SessionCache of the thread counts). With
// bf16 weights cast at session creation or prepacked MatMul weights, each such session holds its
// own float32 copy of the weights (10.4 GB for the 2.7B text encoder): these counters say how many
// copies a workflow held at once, without measuring memory (docs/engine.md#training-memory).
const holders = new Map<string, { live: number; peak: number }>();

/** Sessions over the frozen weights `weights` alive now, and the most alive at once since the last reset. */
export function weightSessions(weights: string): { live: number; peak: number } {
  const h = holders.get(weights);
  return h ? { ...h } : { live: 0, peak: 0 };
}

// NUL cannot occur in a path, so it cannot occur in a frozenWeightsId either.
const WEIGHTS_SEPARATOR = '\0';

/**
 * The `weights` of a graph holding several frozen weights (the contrastive graphs: the text and the
 * image encoder): its sessions count for each of them in `weightSessions`, and `releaseWeights` of
 * any of them releases them.
 */
export function combinedWeights(ids: readonly string[]): string {
  return ids.join(WEIGHTS_SEPARATOR);
}

const weightIds = (weights: string): string[] => weights.split(WEIGHTS_SEPARATOR);

/** Starts the peaks again from the sessions alive now. */
export function resetWeightSessionPeaks(): void {
  for (const h of holders.values()) h.peak = h.live;
}

function countHolder(weights: string | undefined, delta: 1 | -1): void {
  if (weights === undefined) return;
  for (const id of weightIds(weights)) {
    const h = holders.get(id) ?? { live: 0, peak: 0 };
    h.live += delta;
    h.peak = Math.max(h.peak, h.live);
    holders.set(id, h);
  }
}

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
  /** Sum of the sessions' estimated resident bytes. */
  bytes: number;
  /** Sessions released by the idle timeout or the memory budget so far. */
  evictions: number;
}

/**
 * When kept sessions are let go. A session of a 2.7B text encoder holds ~10 GB and takes tens of
 * seconds to create: kept warm it answers in seconds, kept forever it starves everything else.
 */
export interface SessionCachePolicy {
  /** Release a session unused for this long (ms); 0 or Infinity: never. Default never (the engine's cache: 10 minutes). */
  idleMs?: number;
  /**
   * Least recently used sessions beyond this many estimated bytes are released (the one just
   * created and those running stay); 0 or Infinity: no budget. Default none.
   */
  budgetBytes?: number;
  /** At most this many sessions (LRU beyond). Default unlimited. */
  maxEntries?: number;
  /** Clock in ms (tests inject one; default Date.now). */
  now?: () => number;
  /**
   * Estimated resident bytes of a new session. Default: the process RSS growth while it was created
   * (folded and prepacked weights are anonymous memory; memory-mapped F32 weights count as they are
   * touched), at least the model file's size.
   */
  sizeOf?: (created: { rssGrowth: number; modelBytes: number }) => number;
  /**
   * Told after sessions were released on the cache's own account (idle timeout, memory budget), so
   * a host can say so (the job worker reports its engine's stats). Kept across configure.
   */
  onEvicted?: (keys: string[]) => void;
}

export const DEFAULT_SESSION_IDLE_MS = 10 * 60_000;

interface Slot {
  entry: CachedSession;
  /** The frozen weights the session holds (ModelSource.weights). */
  weights: string | undefined;
  bytes: number;
  lastUsed: number;
  running: number;
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
  private readonly entries = new Map<string, Slot>();
  // In-flight creations, so two concurrent requests for one model create one session.
  private readonly pending = new Map<string, Promise<CachedSession>>();
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private policy: Required<Omit<SessionCachePolicy, 'sizeOf' | 'onEvicted'>> & Pick<SessionCachePolicy, 'sizeOf' | 'onEvicted'>;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** @param policy idle release and memory budget (a number: maxEntries, as before). */
  constructor(policy: SessionCachePolicy | number = {}) {
    this.policy = SessionCache.resolve(typeof policy === 'number' ? { maxEntries: policy } : policy);
  }

  private static resolve(p: SessionCachePolicy) {
    const never = (v: number | undefined, d: number) => (v === undefined ? d : v > 0 ? v : Number.POSITIVE_INFINITY);
    return {
      idleMs: never(p.idleMs, Number.POSITIVE_INFINITY),
      budgetBytes: never(p.budgetBytes, Number.POSITIVE_INFINITY),
      maxEntries: never(p.maxEntries, Number.POSITIVE_INFINITY),
      now: p.now ?? Date.now,
      ...(p.sizeOf ? { sizeOf: p.sizeOf } : {}),
      ...(p.onEvicted ? { onEvicted: p.onEvicted } : {}),
    };
  }

  /** Changes the policy (the settings changed) and applies it at once. */
  async configure(policy: SessionCachePolicy): Promise<void> {
    const sizeOf = policy.sizeOf ?? this.policy.sizeOf;
    const onEvicted = policy.onEvicted ?? this.policy.onEvicted;
    this.policy = SessionCache.resolve({
      ...policy,
      now: policy.now ?? this.policy.now,
      ...(sizeOf ? { sizeOf } : {}),
      ...(onEvicted ? { onEvicted } : {}),
    });
    await this.sweep();
  }

  async acquire(source: ModelSource, options: EngineSessionOptions = {}): Promise<{ entry: CachedSession; hit: boolean }> {
    const bytes = 'bytes' in source ? source.bytes : await readFile(source.path);
    const artifactHash = sha256Hex(bytes);
    const modelDir = 'path' in source ? path.dirname(path.resolve(source.path)) : undefined;
    const key = sessionKey(artifactHash, options, modelDir);

    const existing = this.entries.get(key);
    if (existing) {
      this.hits++;
      this.touch(key, existing);
      return { entry: existing.entry, hit: true };
    }
    const inFlight = this.pending.get(key);
    if (inFlight) {
      this.hits++;
      return { entry: await inFlight, hit: true };
    }

    this.misses++;
    let size = 0;
    const creation = (async (): Promise<CachedSession> => {
      const rss0 = process.memoryUsage.rss();
      const { session, placement } = await createPlaced(source, options);
      const created = { rssGrowth: Math.max(0, process.memoryUsage.rss() - rss0), modelBytes: bytes.length };
      size = this.policy.sizeOf ? this.policy.sizeOf(created) : Math.max(created.rssGrowth, created.modelBytes);
      return { key, artifactHash, session, options, placement };
    })();
    this.pending.set(key, creation);
    try {
      const entry = await creation;
      this.entries.set(key, { entry, weights: source.weights, bytes: size, lastUsed: this.policy.now(), running: 0 });
      countHolder(source.weights, 1);
      await this.evict(key);
      this.schedule();
      return { entry, hit: false };
    } finally {
      this.pending.delete(key);
    }
  }

  get(key: string): CachedSession | undefined {
    return this.entries.get(key)?.entry;
  }

  /**
   * Runs `fn` with the session of `key`, which counts as used now and cannot be released while
   * `fn` runs (an idle sweep or the budget skips it).
   */
  async use<T>(key: string, fn: (entry: CachedSession) => Promise<T>): Promise<T> {
    const slot = this.entries.get(key);
    if (!slot) throw new Error(`No session with key ${key.slice(0, 12)}…: create it first (or it was released)`);
    this.touch(key, slot);
    slot.running++;
    try {
      return await fn(slot.entry);
    } finally {
      slot.running--;
      slot.lastUsed = this.policy.now();
      this.schedule();
    }
  }

  async release(key: string): Promise<boolean> {
    const slot = this.entries.get(key);
    if (!slot) return false;
    this.entries.delete(key);
    countHolder(slot.weights, -1);
    await slot.entry.session.release();
    return true;
  }

  /**
   * Releases the sessions over the frozen weights `weights` (ModelSource.weights) that are not
   * running, e.g. warm inference sessions before a training creates its own; returns their keys.
   * A session over `combinedWeights` counts as over each of them.
   */
  async releaseWeights(weights: string): Promise<string[]> {
    const over = (s: string | undefined) => s !== undefined && weightIds(s).includes(weights);
    const keys = [...this.entries].filter(([, s]) => over(s.weights) && s.running === 0).map(([k]) => k);
    for (const k of keys) await this.release(k);
    return keys;
  }

  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const s of all) countHolder(s.weights, -1);
    await Promise.all(all.map((s) => s.entry.session.release()));
  }

  stats(): SessionCacheStats {
    let bytes = 0;
    for (const s of this.entries.values()) bytes += s.bytes;
    return { hits: this.hits, misses: this.misses, size: this.entries.size, bytes, evictions: this.evictions };
  }

  /** Keys from least to most recently used. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** Releases the sessions idle for at least idleMs (by the policy's clock); returns their keys. */
  async sweep(): Promise<string[]> {
    const now = this.policy.now();
    const idle = [...this.entries].filter(([, s]) => s.running === 0 && now - s.lastUsed >= this.policy.idleMs).map(([k]) => k);
    const released: string[] = [];
    for (const k of idle) if (await this.release(k)) released.push(k);
    this.evictions += released.length;
    await this.evict();
    this.schedule();
    if (released.length > 0) this.policy.onEvicted?.(released);
    return idle;
  }

  private touch(key: string, slot: Slot): void {
    slot.lastUsed = this.policy.now();
    this.entries.delete(key); // re-insert: Map order doubles as LRU order
    this.entries.set(key, slot);
  }

  /**
   * LRU release beyond maxEntries and budgetBytes, sparing `keep`, the most recently used session
   * (a model larger than the budget still runs) and running ones.
   */
  private async evict(keep?: string): Promise<void> {
    const over = () => {
      const { bytes, size } = this.stats();
      return size > this.policy.maxEntries || bytes > this.policy.budgetBytes;
    };
    const newest = [...this.entries.keys()].at(-1);
    const released: string[] = [];
    for (const [k, s] of [...this.entries]) {
      if (!over()) break;
      if (k === keep || k === newest || s.running > 0) continue;
      if (await this.release(k)) released.push(k);
    }
    this.evictions += released.length;
    if (released.length > 0) this.policy.onEvicted?.(released);
  }

  /** A real timer for the next idle expiry; unref'd so a kept session never keeps a process alive. */
  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!Number.isFinite(this.policy.idleMs) || this.entries.size === 0) return;
    let next = Number.POSITIVE_INFINITY;
    for (const s of this.entries.values()) if (s.running === 0) next = Math.min(next, s.lastUsed + this.policy.idleMs);
    if (!Number.isFinite(next)) return;
    this.timer = setTimeout(() => void this.sweep(), Math.max(0, next - this.policy.now()) + 10);
    this.timer.unref?.();
  }
}
