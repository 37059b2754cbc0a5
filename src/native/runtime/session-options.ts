// Session options the engine uses, as plain serialisable data (they cross the worker boundary and
// are part of the session-cache key), and their translation into ORT's SessionOptions.
//
// Config entries: onnxruntime-node 1.30 does honour `SessionOptions.extra` although its typings say
// "WebAssembly only". The binding flattens nested objects with '.' and requires string values, so
// `{ session: { disable_prepacking: '1' } }` and `{ 'session.disable_prepacking': '1' }` both become
// the config entry `session.disable_prepacking=1` (checked in ORT's verbose "Session Options" trace).
// Keys: onnxruntime/core/session/onnxruntime_session_options_config_keys.h.
import type { OrtSessionOptions } from './ort';
import { executionProvidersFor, providerLabel, type ResolvedProvider } from './providers';

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'layout' | 'all';

export interface EngineSessionOptions {
  /** Threads inside one op (MLAS matmul etc.). Default: ORT's choice (number of physical cores). */
  intraOpNumThreads?: number;
  /** Threads across independent ops; only used with executionMode 'parallel'. */
  interOpNumThreads?: number;
  graphOptimizationLevel?: GraphOptimizationLevel;
  /**
   * Sessions share memory-mapped weights (external data pointing into a .safetensors file): disables
   * weight prepacking, which would otherwise give every session its own repacked copy of every
   * MatMul weight and defeat the sharing. Costs some MatMul speed; leave off for a lone session.
   */
  sharedWeights?: boolean;
  /** Dimension values fixed at load time (e.g. { batch: 8 }): lets ORT plan memory statically. */
  freeDimensionOverrides?: Record<string, number>;
  /** Raw ORT config entries, e.g. { 'session.intra_op.allow_spinning': '0' }. */
  configEntries?: Record<string, string>;
  /** Where the session runs. Resolve it first with resolveExecutionProvider. Default: CPU. */
  provider?: ResolvedProvider;
  /**
   * Outputs left in GPU memory (ORT's preferredOutputLocation 'gpu-buffer'): a device tensor that the
   * next session takes as a feed without a host copy (docs/engine.md#device-resident-training-state).
   * WebGPU only: onnxruntime-node 1.30 binds 'gpu-buffer' to the WebGPU allocator, so elsewhere it is
   * ignored here and every output comes to the host.
   */
  deviceOutputs?: readonly string[];
}

export const CONFIG_DISABLE_PREPACKING = 'session.disable_prepacking';

/** Config entries after applying the typed switches (sharedWeights). */
export function configEntriesFor(o: EngineSessionOptions): Record<string, string> {
  const entries: Record<string, string> = { ...(o.configEntries ?? {}) };
  if (o.sharedWeights === true) entries[CONFIG_DISABLE_PREPACKING] = '1';
  return entries;
}

export function toOrtSessionOptions(o: EngineSessionOptions): OrtSessionOptions {
  const provider: ResolvedProvider = o.provider ?? { name: 'cpu', choice: 'cpu' };
  const opts: OrtSessionOptions = { executionProviders: executionProvidersFor(provider) };
  // Assign only what was given: ORT's defaults stay ORT's defaults.
  if (o.intraOpNumThreads !== undefined) opts.intraOpNumThreads = o.intraOpNumThreads;
  if (o.interOpNumThreads !== undefined) opts.interOpNumThreads = o.interOpNumThreads;
  if (o.graphOptimizationLevel !== undefined) opts.graphOptimizationLevel = o.graphOptimizationLevel;
  if (o.freeDimensionOverrides !== undefined) opts.freeDimensionOverrides = o.freeDimensionOverrides;
  const extra = configEntriesFor(o);
  if (Object.keys(extra).length > 0) opts.extra = extra;
  const device = deviceOutputsFor(o);
  if (device.length > 0) opts.preferredOutputLocation = Object.fromEntries(device.map((n) => [n, 'gpu-buffer' as const]));
  return opts;
}

/** The outputs that stay on the device: `deviceOutputs` on the WebGPU provider, else none. */
export function deviceOutputsFor(o: EngineSessionOptions): string[] {
  return o.provider?.name === 'webgpu' ? [...new Set(o.deviceOutputs ?? [])].sort() : [];
}

/**
 * A canonical string of everything that changes what a session computes or how: part of the cache
 * key. The provider's `choice`/`fallbackReason` are bookkeeping, not behaviour, and are left out.
 */
export function canonicalOptions(o: EngineSessionOptions): string {
  const provider = o.provider ?? { name: 'cpu', choice: 'cpu' };
  return stableStringify({
    ep: providerLabel(provider),
    intra: o.intraOpNumThreads ?? null,
    inter: o.interOpNumThreads ?? null,
    opt: o.graphOptimizationLevel ?? null,
    dims: o.freeDimensionOverrides ?? null,
    config: configEntriesFor(o),
    ...(deviceOutputsFor(o).length > 0 ? { device: deviceOutputsFor(o) } : {}),
  });
}

function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`).join(',')}}`;
}
