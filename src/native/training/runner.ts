/**
 * How the trainer runs its graphs. Two implementations of one small interface:
 *
 * - `inThreadRunner()`: ORT sessions in the current thread through the runtime's `SessionCache`. This is
 *   what engine work uses when it already runs in a worker thread or an Electron utility process (the
 *   job system's case): no extra hop, and trainable views are fed without copying.
 * - `engineWorkerRunner(engine)`: through an `EngineWorker` (the caller stays responsive, e.g. a CLI on
 *   the main thread). Feeds are copied into the worker; views are sliced first so a structured clone
 *   never copies a whole backing buffer.
 *
 * Feeds a session does not declare are dropped (a graph that does not use `step` or `dropout_seed` has
 * no such input), so callers can always pass the full set.
 */
import * as path from 'node:path';
import type { EngineWorker } from '../runtime/engine-worker';
import type { EngineSessionOptions } from '../runtime/session-options';
import { SessionCache } from '../runtime/session-cache';
import { fromOrtTensor, toOrtTensor, type WireFeeds, type WireTensor } from '../runtime/tensors';
import type { OrtTensor } from '../runtime/ort';
import type { SessionPlacement } from '../runtime/session-cache';

export interface SessionHandle {
  key: string;
  artifactHash: string;
  inputs: string[];
  outputs: string[];
  placement: SessionPlacement;
}

export interface StepRunner {
  load(file: string, options?: EngineSessionOptions): Promise<SessionHandle>;
  run(session: SessionHandle, feeds: WireFeeds): Promise<Record<string, WireTensor>>;
  release(session: SessionHandle): Promise<void>;
}

function only(session: SessionHandle, feeds: WireFeeds): WireFeeds {
  const out: WireFeeds = {};
  for (const name of session.inputs) {
    const t = feeds[name];
    if (!t) throw new Error(`${name}: input of the session is not fed (fed: ${Object.keys(feeds).join(', ')})`);
    out[name] = t;
  }
  return out;
}

export function inThreadRunner(cache = new SessionCache()): StepRunner {
  return {
    async load(file, options = {}) {
      const { entry } = await cache.acquire({ path: path.resolve(file) }, options);
      return {
        key: entry.key,
        artifactHash: entry.artifactHash,
        placement: entry.placement,
        inputs: [...entry.session.inputNames],
        outputs: [...entry.session.outputNames],
      };
    },
    async run(session, feeds) {
      const entry = cache.get(session.key);
      if (!entry) throw new Error(`session ${session.key.slice(0, 12)}… was released`);
      const ortFeeds: Record<string, OrtTensor> = {};
      for (const [name, t] of Object.entries(only(session, feeds))) ortFeeds[name] = toOrtTensor(t);
      const outs = await entry.session.run(ortFeeds);
      const result: Record<string, WireTensor> = {};
      for (const [name, v] of Object.entries(outs)) result[name] = fromOrtTensor(name, v);
      return result;
    },
    async release(session) {
      await cache.release(session.key);
    },
  };
}

function compact(t: WireTensor): WireTensor {
  const d = t.data;
  if (d.byteOffset === 0 && d.byteLength === d.buffer.byteLength) return t;
  return { ...t, data: d.slice() } as WireTensor;
}

export function engineWorkerRunner(engine: EngineWorker): StepRunner {
  return {
    async load(file, options = {}) {
      const info = await engine.createSession({ path: path.resolve(file) }, options);
      return {
        key: info.key,
        artifactHash: info.artifactHash,
        placement: info.placement,
        inputs: info.inputs.map((i) => i.name),
        outputs: info.outputs.map((o) => o.name),
      };
    },
    async run(session, feeds) {
      const fed: WireFeeds = {};
      for (const [name, t] of Object.entries(only(session, feeds))) fed[name] = compact(t);
      return engine.run(session.key, fed);
    },
    async release(session) {
      await engine.releaseSession(session.key);
    },
  };
}
