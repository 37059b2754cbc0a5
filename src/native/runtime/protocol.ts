// The typed messages between an engine host and its worker. One table (EngineOps) defines each
// operation's arguments and result; requests, responses and the client's method types derive from it.
import type { ProviderChoice, ResolvedProvider } from './providers';
import type { ModelSource, SessionCacheStats, SessionPlacement } from './session-cache';

/** The serialisable part of SessionCachePolicy (what a setting can say). */
export interface SessionKeepPolicy {
  /** Release sessions unused this long; 0: never. */
  idleMs: number;
  /** Release least recently used sessions beyond this many estimated bytes; 0: no budget. */
  budgetBytes: number;
}
import type { EngineSessionOptions } from './session-options';
import type { WireFeeds, WireTensor } from './tensors';

export interface TensorInfo {
  name: string;
  /** ORT type name ('float32', 'int64', ...) or undefined for non-tensor values. */
  type?: string;
  /** Fixed sizes and symbolic names (e.g. ['batch', 768]). */
  shape?: (number | string)[];
}

export interface SessionInfo {
  /** Cache key; pass it to run/releaseSession. */
  key: string;
  artifactHash: string;
  cacheHit: boolean;
  /** The provider that runs this session and whether every node is on it. */
  placement: SessionPlacement;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

export interface EngineOps {
  resolveProvider: { args: { choice: ProviderChoice }; result: ResolvedProvider };
  createSession: {
    args: { source: ModelSource; options: EngineSessionOptions };
    result: SessionInfo;
  };
  run: {
    args: { key: string; feeds: WireFeeds; fetches?: string[] };
    result: Record<string, WireTensor>;
  };
  releaseSession: { args: { key: string }; result: boolean };
  configureCache: { args: { policy: SessionKeepPolicy }; result: SessionCacheStats };
  stats: { args: Record<string, never>; result: SessionCacheStats & { ortVersion: string } };
}
export type EngineOp = keyof EngineOps;

export type EngineRequest = {
  [K in EngineOp]: { id: number; op: K; args: EngineOps[K]['args'] };
}[EngineOp];

/** An error as it crosses the boundary (Error objects lose their class and fields in a clone). */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
}

export type EngineResponse = { id: number; ok: true; result: EngineOps[EngineOp]['result'] } | { id: number; ok: false; error: WireError };

export function toWireError(err: unknown): WireError {
  if (err instanceof Error) {
    return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  }
  return { name: 'Error', message: String(err) };
}

/** An error raised inside the engine worker, re-created on the host side. */
export class EngineError extends Error {
  constructor(
    readonly remoteName: string,
    message: string,
    readonly remoteStack?: string,
  ) {
    super(message);
    this.name = remoteName === 'Error' ? 'EngineError' : remoteName;
  }
}
