import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ort } from '../../../../src/native/runtime/ort';
import { SessionCache, sha256Hex } from '../../../../src/native/runtime/session-cache';
import { canonicalOptions, toOrtSessionOptions } from '../../../../src/native/runtime/session-options';
import { addConstModel } from './helpers/onnx-min';

const modelA = addConstModel(new Float32Array([1, 2, 3]));
const modelB = addConstModel(new Float32Array([10, 20, 30]));

describe('SessionCache', () => {
  it('hits for the same bytes and options, misses otherwise', async () => {
    const cache = new SessionCache();
    const first = await cache.acquire({ bytes: modelA }, { intraOpNumThreads: 1 });
    expect(first.hit).toBe(false);
    expect(first.entry.artifactHash).toBe(sha256Hex(modelA));

    const again = await cache.acquire({ bytes: modelA.slice() }, { intraOpNumThreads: 1 });
    expect(again.hit).toBe(true);
    expect(again.entry.session).toBe(first.entry.session);
    expect(again.entry.key).toBe(first.entry.key);

    const otherOptions = await cache.acquire({ bytes: modelA }, { intraOpNumThreads: 2 });
    expect(otherOptions.hit).toBe(false);
    expect(otherOptions.entry.key).not.toBe(first.entry.key);

    const otherBytes = await cache.acquire({ bytes: modelB }, { intraOpNumThreads: 1 });
    expect(otherBytes.hit).toBe(false);

    expect(cache.stats()).toMatchObject({ hits: 1, misses: 3, size: 3 });
    await cache.clear();
    expect(cache.stats().size).toBe(0);
  });

  it('creates one session for concurrent requests of one model', async () => {
    const cache = new SessionCache();
    const [a, b] = await Promise.all([cache.acquire({ bytes: modelA }), cache.acquire({ bytes: modelA })]);
    expect(a.entry.session).toBe(b.entry.session);
    expect([a.hit, b.hit].sort()).toEqual([false, true]);
    await cache.clear();
  });

  it('keys path sources on their directory too (external data is resolved beside the model)', async () => {
    const d1 = mkdtempSync(path.join(tmpdir(), 'cleft-rt-'));
    const d2 = mkdtempSync(path.join(tmpdir(), 'cleft-rt-'));
    for (const d of [d1, d2]) writeFileSync(path.join(d, 'forward.onnx'), modelA);
    const cache = new SessionCache();
    const a = await cache.acquire({ path: path.join(d1, 'forward.onnx') });
    const a2 = await cache.acquire({ path: path.join(d1, 'forward.onnx') });
    const b = await cache.acquire({ path: path.join(d2, 'forward.onnx') });
    expect(a2.hit).toBe(true);
    expect(b.hit).toBe(false);
    expect(a.entry.artifactHash).toBe(b.entry.artifactHash);
    expect(a.entry.key).not.toBe(b.entry.key);
    await cache.clear();
  });

  it('releases the least recently used session beyond maxEntries', async () => {
    const cache = new SessionCache(1);
    const a = await cache.acquire({ bytes: modelA });
    await cache.acquire({ bytes: modelB });
    expect(cache.get(a.entry.key)).toBeUndefined();
    expect(cache.stats().size).toBe(1);
    await cache.clear();
  });

  it('does not cache failures', async () => {
    const cache = new SessionCache();
    const bad = new Uint8Array([0xff, 0xff, 0xff]);
    await expect(cache.acquire({ bytes: bad })).rejects.toThrow(/protobuf parsing failed/);
    await expect(cache.acquire({ bytes: bad })).rejects.toThrow(/protobuf parsing failed/);
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 2, size: 0 });
  });
});

describe('session options', () => {
  it('sharedWeights becomes the session.disable_prepacking config entry', () => {
    const o = toOrtSessionOptions({ sharedWeights: true, intraOpNumThreads: 2, graphOptimizationLevel: 'all' });
    expect(o).toEqual({
      executionProviders: ['cpu'],
      intraOpNumThreads: 2,
      graphOptimizationLevel: 'all',
      extra: { 'session.disable_prepacking': '1' },
    });
  });

  it('passes options ORT accepts (the binding validates extra values are strings)', async () => {
    const o = toOrtSessionOptions({
      sharedWeights: true,
      intraOpNumThreads: 1,
      configEntries: { 'session.intra_op.allow_spinning': '0' },
    });
    const s = await ort.InferenceSession.create(modelA, o);
    await s.release();
  });

  it('canonical options ignore key order and provider bookkeeping', () => {
    expect(canonicalOptions({ configEntries: { a: '1', b: '2' }, intraOpNumThreads: 2 })).toBe(
      canonicalOptions({ intraOpNumThreads: 2, configEntries: { b: '2', a: '1' } }),
    );
    expect(canonicalOptions({ provider: { name: 'cpu', choice: 'auto', fallbackReason: 'x' } })).toBe(canonicalOptions({}));
    expect(canonicalOptions({ sharedWeights: true })).toBe(canonicalOptions({ configEntries: { 'session.disable_prepacking': '1' } }));
  });
});
