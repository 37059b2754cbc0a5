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
 *
 * Both count the bytes that cross between the host and ORT per session (`traffic`): host feeds in,
 * host outputs out, and what stayed on the device. On the CPU provider a host feed is wrapped, not
 * copied, and every output is copied once into a new ArrayBuffer by the binding; on WebGPU each host
 * feed is uploaded and each host output downloaded. The in-thread runner can also keep outputs on the
 * device (`runDevice`, sessions loaded with `deviceOutputs`): onnxruntime-node 1.30 hands them back as
 * 'gpu-buffer' tensors that another WebGPU session takes as a feed without a host copy
 * (docs/engine.md#device-resident-training-state).
 */
import * as path from 'node:path';
import type { EngineWorker } from '../runtime/engine-worker';
import type { EngineSessionOptions } from '../runtime/session-options';
import { SessionCache } from '../runtime/session-cache';
import { fromOrtTensor, toOrtTensor, type WireFeeds, type WireTensor } from '../runtime/tensors';
import type { OrtTensor } from '../runtime/ort';
import type { SessionPlacement } from '../runtime/session-cache';
import { deviceOutputsFor } from '../runtime/session-options';

export interface SessionHandle {
  key: string;
  artifactHash: string;
  inputs: string[];
  outputs: string[];
  placement: SessionPlacement;
}

/**
 * A tensor ORT holds in GPU memory: an output a session was loaded to keep there (`deviceOutputs`).
 * Feed it to any session on the same provider; its data never comes to the host. `dispose()` frees the
 * GPU memory at once (else only when the garbage collector finalises the JS tensor).
 */
export interface DeviceTensor {
  readonly location: 'device';
  readonly type: WireTensor['type'];
  readonly dims: readonly number[];
  readonly bytes: number;
  readonly handle: OrtTensor;
  dispose(): void;
}

export type StepFeed = WireTensor | DeviceTensor;

export function isDeviceTensor(t: StepFeed | undefined): t is DeviceTensor {
  return t !== undefined && 'location' in t && t.location === 'device';
}

/** Bytes between the host and ORT for one session, summed over its runs. */
export interface SessionTraffic {
  runs: number;
  /** Bytes of host feeds: uploaded to the device (WebGPU), wrapped without a copy (CPU). */
  hostIn: number;
  /** Bytes of outputs brought to the host (one copy each). */
  hostOut: number;
  /** Bytes fed as device tensors (no host copy). */
  deviceIn: number;
  /** Bytes of outputs left on the device. */
  deviceOut: number;
}

export class TrafficCounter {
  private readonly bySession = new Map<string, SessionTraffic>();

  add(key: string, t: Omit<SessionTraffic, 'runs'>): void {
    const s = this.of(key);
    s.runs++;
    s.hostIn += t.hostIn;
    s.hostOut += t.hostOut;
    s.deviceIn += t.deviceIn;
    s.deviceOut += t.deviceOut;
  }

  /** A copy of the running totals of one session (zeros when it never ran). */
  of(key: string): SessionTraffic {
    let s = this.bySession.get(key);
    if (!s) this.bySession.set(key, (s = { runs: 0, hostIn: 0, hostOut: 0, deviceIn: 0, deviceOut: 0 }));
    return s;
  }

  snapshot(key: string): SessionTraffic {
    return { ...this.of(key) };
  }
}

export function trafficDelta(after: SessionTraffic, before: SessionTraffic): SessionTraffic {
  return {
    runs: after.runs - before.runs,
    hostIn: after.hostIn - before.hostIn,
    hostOut: after.hostOut - before.hostOut,
    deviceIn: after.deviceIn - before.deviceIn,
    deviceOut: after.deviceOut - before.deviceOut,
  };
}

export interface StepRunner {
  /** `weights`: the frozen weights the graph holds (session-cache.ts weightSessions counts its sessions). */
  load(file: string, options?: EngineSessionOptions, weights?: string): Promise<SessionHandle>;
  run(session: SessionHandle, feeds: WireFeeds): Promise<Record<string, WireTensor>>;
  /**
   * Runs with device tensors among the feeds; the session's `deviceOutputs` come back as device
   * tensors. Only where sessions live in this thread (a device tensor cannot cross to a worker).
   */
  runDevice?(session: SessionHandle, feeds: Record<string, StepFeed>): Promise<Record<string, StepFeed>>;
  release(session: SessionHandle): Promise<void>;
  readonly traffic: TrafficCounter;
}

const bytesOf = (t: { data: { byteLength: number } }) => t.data.byteLength;

function only<T>(session: SessionHandle, feeds: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const name of session.inputs) {
    const t = feeds[name];
    if (!t) throw new Error(`${name}: input of the session is not fed (fed: ${Object.keys(feeds).join(', ')})`);
    out[name] = t;
  }
  return out;
}

function deviceTensor(t: OrtTensor): DeviceTensor {
  const bytes =
    t.size *
    (t.type === 'float64' || t.type === 'int64' ? 8 : t.type === 'float16' ? 2 : t.type === 'float32' || t.type === 'int32' ? 4 : 1);
  return { location: 'device', type: t.type as WireTensor['type'], dims: [...t.dims], bytes, handle: t, dispose: () => t.dispose() };
}

export function inThreadRunner(cache = new SessionCache()): StepRunner {
  const traffic = new TrafficCounter();
  const deviceOut = new Map<string, ReadonlySet<string>>();
  async function runMixed(session: SessionHandle, feeds: Record<string, StepFeed>): Promise<Record<string, StepFeed>> {
    const entry = cache.get(session.key);
    if (!entry) throw new Error(`session ${session.key.slice(0, 12)}… was released`);
    const ortFeeds: Record<string, OrtTensor> = {};
    const t = { hostIn: 0, hostOut: 0, deviceIn: 0, deviceOut: 0 };
    for (const [name, f] of Object.entries(only(session, feeds))) {
      if (isDeviceTensor(f)) {
        ortFeeds[name] = f.handle;
        t.deviceIn += f.bytes;
      } else {
        ortFeeds[name] = toOrtTensor(f);
        t.hostIn += bytesOf(f);
      }
    }
    // Every output is fetched: with preferred output locations the 1.30 binding indexes them by
    // output position and refuses a subset ("Output count mismatch").
    const outs = await entry.session.run(ortFeeds);
    const result: Record<string, StepFeed> = {};
    for (const [name, v] of Object.entries(outs)) {
      if (v.location === 'gpu-buffer') {
        const d = deviceTensor(v);
        t.deviceOut += d.bytes;
        result[name] = d;
      } else {
        const w = fromOrtTensor(name, v);
        t.hostOut += bytesOf(w);
        result[name] = w;
      }
    }
    traffic.add(session.key, t);
    return result;
  }
  return {
    traffic,
    async load(file, options = {}, weights) {
      const { entry } = await cache.acquire({ path: path.resolve(file), ...(weights !== undefined ? { weights } : {}) }, options);
      deviceOut.set(entry.key, new Set(deviceOutputsFor(options)));
      return {
        key: entry.key,
        artifactHash: entry.artifactHash,
        placement: entry.placement,
        inputs: [...entry.session.inputNames],
        outputs: [...entry.session.outputNames],
      };
    },
    async run(session, feeds) {
      if (deviceOut.get(session.key)?.size)
        throw new Error(`session ${session.key.slice(0, 12)}… keeps outputs on the device: run it with runDevice`);
      return (await runMixed(session, feeds)) as Record<string, WireTensor>;
    },
    runDevice: runMixed,
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
  const traffic = new TrafficCounter();
  return {
    traffic,
    async load(file, options = {}, weights) {
      const info = await engine.createSession({ path: path.resolve(file), ...(weights !== undefined ? { weights } : {}) }, options);
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
      const out = await engine.run(session.key, fed);
      let hostIn = 0;
      let hostOut = 0;
      for (const t of Object.values(fed)) hostIn += bytesOf(t);
      for (const t of Object.values(out)) hostOut += bytesOf(t);
      traffic.add(session.key, { hostIn, hostOut, deviceIn: 0, deviceOut: 0 });
      return out;
    },
    async release(session) {
      await engine.releaseSession(session.key);
    },
  };
}
