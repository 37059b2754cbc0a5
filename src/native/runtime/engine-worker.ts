// EngineWorker: the host side of an engine worker. Every ORT call (model load, run) is synchronous
// native work that blocks its thread for as long as it computes, so the engine lives in a worker and
// callers get promises. This module must not load ORT itself.
import {
  EngineError,
  type EngineOp,
  type EngineOps,
  type EngineRequest,
  type EngineResponse,
  type SessionInfo,
  type SessionKeepPolicy,
} from './protocol';
import type { ProviderChoice, ResolvedProvider } from './providers';
import type { ModelSource, SessionCacheStats } from './session-cache';
import type { EngineSessionOptions } from './session-options';
import { isTypeScript, startThread } from './start-thread';
import { transferListOf, type WireFeeds, type WireTensor } from './tensors';
import { workerThreadHostTransport, type HostTransport } from './transport';

export interface EngineWorkerStartOptions {
  /**
   * The worker entry module. Default: engine-worker-entry beside this file, `.ts` when running from
   * sources (then tsx is registered inside the worker first) and `.js` in a bundle. A bundler that
   * moves files (electron-vite: `import entry from './engine-worker-entry?modulePath'`) passes it here.
   */
  entry?: URL | string;
  /** Extra Node flags for the worker. */
  execArgv?: string[];
  name?: string;
}

export interface RunOptions {
  /** Output names to compute (default: all). */
  fetches?: string[];
  /**
   * Move the input buffers to the worker instead of copying them. Faster for large batches, but the
   * caller's typed arrays become detached (length 0) afterwards.
   */
  transferInputs?: boolean;
}

type Transport = HostTransport<EngineRequest, EngineResponse>;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** The default entry: engine-worker-entry.ts beside this file from sources, .js in a bundle. */
export function defaultWorkerEntry(): URL {
  const here = import.meta.url;
  const fromSources = isTypeScript(new URL(here).pathname);
  return new URL(`./engine-worker-entry.${fromSources ? 'ts' : 'js'}`, here);
}

export class EngineWorker {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;

  constructor(private readonly transport: Transport) {
    transport.onMessage((res) => this.settle(res));
    transport.onFailure((err) => this.fail(err));
  }

  /** Spawns a worker_threads engine worker. */
  static start(options: EngineWorkerStartOptions = {}): EngineWorker {
    const worker = startThread(options.entry ?? defaultWorkerEntry(), {
      execArgv: options.execArgv ?? [],
      name: options.name ?? 'cleft-engine',
    });
    return new EngineWorker(workerThreadHostTransport(worker));
  }

  resolveProvider(choice: ProviderChoice): Promise<ResolvedProvider> {
    return this.call('resolveProvider', { choice });
  }

  /** Loads a model (or returns the cached session for the same artifact and options). */
  createSession(source: ModelSource, options: EngineSessionOptions = {}): Promise<SessionInfo> {
    return this.call('createSession', { source, options });
  }

  run(key: string, feeds: WireFeeds, options: RunOptions = {}): Promise<Record<string, WireTensor>> {
    const transfer = options.transferInputs === true ? transferListOf(Object.values(feeds)) : [];
    const args: EngineOps['run']['args'] = options.fetches ? { key, feeds, fetches: options.fetches } : { key, feeds };
    return this.call('run', args, transfer);
  }

  releaseSession(key: string): Promise<boolean> {
    return this.call('releaseSession', { key });
  }

  /** How long unused sessions stay and how many bytes of them the worker keeps (the settings). */
  configureCache(policy: SessionKeepPolicy): Promise<SessionCacheStats> {
    return this.call('configureCache', { policy });
  }

  stats(): Promise<SessionCacheStats & { ortVersion: string }> {
    return this.call('stats', {});
  }

  /** Stops the worker; sessions die with it. Pending calls are rejected. */
  async close(): Promise<void> {
    this.fail(new Error('Engine worker closed'));
    await this.transport.close();
  }

  private call<K extends EngineOp>(op: K, args: EngineOps[K]['args'], transfer: ArrayBuffer[] = []): Promise<EngineOps[K]['result']> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        this.transport.send({ id, op, args } as EngineRequest, transfer);
      } catch (err) {
        this.pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  private settle(res: EngineResponse): void {
    const p = this.pending.get(res.id);
    if (!p) return;
    this.pending.delete(res.id);
    if (res.ok) p.resolve(res.result);
    else p.reject(new EngineError(res.error.name, res.error.message, res.error.stack));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
