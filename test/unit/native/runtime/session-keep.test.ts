// Warm sessions: the engine keeps sessions between calls, releases those unused for idleMs and the
// least recently used beyond the memory budget. Real (small) ORT sessions; an injected clock and a
// size estimate (the model's bytes) make every step a state, not a duration.
import { describe, expect, it } from 'vitest';
import { ort } from '../../../../src/native/runtime/ort';
import { SessionCache } from '../../../../src/native/runtime/session-cache';
import { createEngineHandlers } from '../../../../src/native/runtime/engine-server';
import { sessionPolicyOf } from '../../../../src/main/features/image-features';
import { DEFAULT_SETTINGS } from '../../../../src/main/db/settings-repo';
import { addConstModel } from './helpers/onnx-min';

const model = (n: number, v: number) => addConstModel(new Float32Array(n).fill(v));
const A = model(1000, 1);
const B = model(2000, 2);
const C = model(3000, 3);

function clocked(policy: { idleMs?: number; budgetBytes?: number }) {
  let t = 0;
  const cache = new SessionCache({ ...policy, now: () => t, sizeOf: ({ modelBytes }) => modelBytes });
  return { cache, at: (ms: number) => void (t = ms) };
}

const run = (cache: SessionCache, key: string, n: number) =>
  cache.use(key, (e) => e.session.run({ x: new ort.Tensor('float32', new Float32Array(n), [1, n]) }));

describe('kept sessions: idle release', () => {
  it('releases only the sessions unused for idleMs; a run counts as a use', async () => {
    const { cache, at } = clocked({ idleMs: 10_000 });
    const a = (await cache.acquire({ bytes: A })).entry.key;
    at(5_000);
    const b = (await cache.acquire({ bytes: B })).entry.key;
    at(9_999);
    expect(await cache.sweep()).toEqual([]);
    at(10_000);
    expect(await cache.sweep()).toEqual([a]);
    expect(cache.keys()).toEqual([b]);
    at(14_000);
    await run(cache, b, 2000); // used at 14 s: kept until 24 s
    at(20_000);
    expect(await cache.sweep()).toEqual([]);
    at(24_000);
    expect(await cache.sweep()).toEqual([b]);
    expect(cache.stats()).toMatchObject({ size: 0, evictions: 2, bytes: 0 });
    // a released model is simply created again
    expect((await cache.acquire({ bytes: A })).hit).toBe(false);
    await cache.clear();
  });

  it('never releases a session while it runs', async () => {
    const { cache, at } = clocked({ idleMs: 1_000 });
    const a = (await cache.acquire({ bytes: A })).entry.key;
    let swept: string[] | undefined;
    await cache.use(a, async () => {
      at(60_000);
      swept = await cache.sweep();
    });
    expect(swept).toEqual([]);
    expect(cache.keys()).toEqual([a]); // used until 60 s
    at(61_000);
    expect(await cache.sweep()).toEqual([a]);
  });

  it('idleMs 0 keeps sessions until the cache is cleared', async () => {
    const { cache, at } = clocked({ idleMs: 0 });
    await cache.acquire({ bytes: A });
    at(1e12);
    expect(await cache.sweep()).toEqual([]);
    expect(cache.stats().size).toBe(1);
    await cache.clear();
  });
});

describe('kept sessions: memory budget', () => {
  it('releases least recently used sessions beyond the budget, never the one just created', async () => {
    const sizes = await (async () => {
      const { cache } = clocked({});
      const s = [A, B, C].map(async (m) => (await cache.acquire({ bytes: m })).entry.key);
      await Promise.all(s);
      return cache.stats().bytes;
    })();
    expect(sizes).toBe(A.length + B.length + C.length);

    const { cache, at } = clocked({ budgetBytes: A.length + C.length });
    const a = (await cache.acquire({ bytes: A })).entry.key;
    at(1);
    const b = (await cache.acquire({ bytes: B })).entry.key;
    expect(cache.keys()).toEqual([a, b]); // A + B fit
    at(2);
    expect((await cache.acquire({ bytes: A })).hit).toBe(true); // A is now the most recent
    at(3);
    const c = (await cache.acquire({ bytes: C })).entry.key; // A + B + C do not fit: B (LRU) goes
    expect(cache.keys()).toEqual([a, c]);
    expect(cache.stats()).toMatchObject({ size: 2, bytes: A.length + C.length, evictions: 1 });

    // a lower budget (the setting changed) applies at once; the most recent stays even alone over it
    await cache.configure({ budgetBytes: 1, idleMs: 0 });
    expect(cache.keys()).toEqual([c]);
    expect(cache.stats().evictions).toBe(2);
    await cache.clear();
  });
});

describe('the engine applies the settings', () => {
  it('configureCache sets the policy of the engine handlers; a released session cannot run', async () => {
    let t = 0;
    const cache = new SessionCache({ idleMs: 0, now: () => t, sizeOf: ({ modelBytes }) => modelBytes });
    const h = createEngineHandlers(cache);
    const s = await h.createSession({ source: { bytes: A }, options: {} });
    const feeds = { x: { type: 'float32' as const, dims: [1, 1000], data: new Float32Array(1000) } };
    expect((await h.run({ key: s.key, feeds })).y!.dims).toEqual([1, 1000]);
    const policy = sessionPolicyOf({ ...DEFAULT_SETTINGS, sessionIdleMinutes: 2, sessionMemoryMb: 0 });
    expect(policy).toEqual({ idleMs: 120_000, budgetBytes: 0 });
    expect(await h.configureCache({ policy })).toMatchObject({ size: 1 });
    t = 120_000;
    expect(await cache.sweep()).toEqual([s.key]);
    await expect(h.run({ key: s.key, feeds })).rejects.toThrow(/No session with key/);
    expect(sessionPolicyOf(DEFAULT_SETTINGS)).toEqual({ idleMs: 600_000, budgetBytes: 0 });
  });
});

describe('kept sessions: the host hears of releases', () => {
  it('onEvicted names the sessions released by idle time and by the budget, and survives configure', async () => {
    let t = 0;
    const told: string[][] = [];
    const cache = new SessionCache({
      idleMs: 10_000,
      now: () => t,
      sizeOf: ({ modelBytes }) => modelBytes,
      onEvicted: (k) => told.push(k),
    });
    const a = (await cache.acquire({ bytes: A })).entry.key;
    const b = (await cache.acquire({ bytes: B })).entry.key;
    // a budget smaller than both: the least recently used goes, the newest stays
    await cache.configure({ idleMs: 10_000, budgetBytes: 1 });
    expect(told).toEqual([[a]]);
    t = 10_000;
    await cache.sweep();
    expect(told).toEqual([[a], [b]]);
    expect(cache.stats()).toMatchObject({ size: 0, evictions: 2 });
    await cache.release((await cache.acquire({ bytes: C })).entry.key); // released by the caller: not an eviction
    expect(told).toHaveLength(2);
    await cache.clear();
  });
});
