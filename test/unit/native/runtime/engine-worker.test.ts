import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { defaultWorkerEntry, EngineWorker } from '../../../../src/native/runtime/engine-worker';
import { EngineError } from '../../../../src/native/runtime/protocol';
import { f32, i64 } from '../../../../src/native/runtime/tensors';
import { addConstModel, gatherAddModel, matmulModel } from './helpers/onnx-min';

// One worker for the file: starting one (tsx inside the worker + ORT load) costs ~0.3 s.
let engine: EngineWorker;
beforeAll(() => {
  engine = EngineWorker.start();
});
afterAll(async () => {
  await engine.close();
});

describe('EngineWorker (worker_threads, entry run from TypeScript via tsx)', () => {
  it('runs a model and returns the right numbers with metadata', async () => {
    const info = await engine.createSession({ bytes: addConstModel(new Float32Array([1, 2, 3])) });
    expect(info.cacheHit).toBe(false);
    expect(info.inputs).toEqual([{ name: 'x', type: 'float32', shape: ['batch', 3] }]);
    expect(info.outputs).toEqual([{ name: 'y', type: 'float32', shape: ['batch', 3] }]);
    const out = await engine.run(info.key, { x: f32([1, 1, 1, 5, 5, 5], [2, 3]) });
    expect(out.y!.type).toBe('float32');
    expect(out.y!.dims).toEqual([2, 3]);
    expect(Array.from(out.y!.data as Float32Array)).toEqual([2, 3, 4, 6, 7, 8]);
  });

  it('computes a MatMul that matches a JS reference', async () => {
    const [m, k, n] = [5, 7, 3];
    const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i));
    const info = await engine.createSession({ bytes: matmulModel(m, k, n) }, { intraOpNumThreads: 1 });
    const out = await engine.run(info.key, { a: f32(a, [m, k]), b: f32(b, [k, n]) });
    const c = out.c!.data as Float32Array;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
        expect(c[i * n + j]).toBeCloseTo(s, 5);
      }
    }
  });

  it('takes int64 inputs (BigInt64Array)', async () => {
    const table = Float32Array.from({ length: 4 * 2 }, (_, i) => i);
    const info = await engine.createSession({ bytes: gatherAddModel(table, 4, 2) });
    const out = await engine.run(info.key, { ids: i64([3, 0, 3]) });
    expect(out.y!.dims).toEqual([3, 2]);
    expect(Array.from(out.y!.data as Float32Array)).toEqual([6, 7, 0, 1, 6, 7]);
  });

  it('loads from a path and serves the cached session on the second request', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cleft-rt-'));
    const file = path.join(dir, 'forward.onnx');
    writeFileSync(file, addConstModel(new Float32Array([0.5])));
    const a = await engine.createSession({ path: file });
    const b = await engine.createSession({ path: file });
    expect(a.cacheHit).toBe(false);
    expect(b.cacheHit).toBe(true);
    expect(b.key).toBe(a.key);
    const out = await engine.run(a.key, { x: f32([1.5], [1, 1]) });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([2]);
  });

  it('transfers inputs only when asked (the caller buffer is detached)', async () => {
    const info = await engine.createSession({ bytes: addConstModel(new Float32Array([1, 1])) });
    const kept = new Float32Array([1, 2]);
    await engine.run(info.key, { x: f32(kept, [1, 2]) });
    expect(kept.length).toBe(2);
    const moved = new Float32Array([1, 2]);
    const out = await engine.run(info.key, { x: f32(moved, [1, 2]) }, { transferInputs: true });
    expect(moved.length).toBe(0);
    expect(Array.from(out.y!.data as Float32Array)).toEqual([2, 3]);
  });

  it('starts from an entry given as a file path too', async () => {
    expect(defaultWorkerEntry().pathname).toMatch(/engine-worker-entry\.ts$/);
    const w = EngineWorker.start({ entry: fileURLToPath(defaultWorkerEntry()) });
    expect((await w.stats()).ortVersion).toBe('1.30.0');
    await w.close();
  });

  it('reports the resolved provider and cache stats', async () => {
    const p = await engine.resolveProvider('cpu');
    expect(p).toEqual({ name: 'cpu', choice: 'cpu' });
    const stats = await engine.stats();
    expect(stats.ortVersion).toBe('1.30.0');
    expect(stats.hits).toBeGreaterThanOrEqual(1);
  });
});

describe('EngineWorker errors come back as rejected promises with the reason', () => {
  it('bad model bytes', async () => {
    const err = await engine.createSession({ bytes: new Uint8Array([1, 2, 3, 4]) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as Error).message).toMatch(/protobuf parsing failed/);
    expect((err as EngineError).remoteStack).toBeTypeOf('string');
  });

  it('a missing model file', async () => {
    await expect(engine.createSession({ path: '/nonexistent/forward.onnx' })).rejects.toThrow(/ENOENT/);
  });

  it('a wrong input name and a wrong shape', async () => {
    const info = await engine.createSession({ bytes: addConstModel(new Float32Array([1, 2, 3])) });
    await expect(engine.run(info.key, { nope: f32([1, 2, 3], [1, 3]) })).rejects.toThrow(/input 'x' is missing|nope/i);
    await expect(engine.run(info.key, { x: f32([1, 2], [1, 2]) })).rejects.toThrow(/dimension|shape/i);
  });

  it('an unknown or released session', async () => {
    const info = await engine.createSession({ bytes: addConstModel(new Float32Array([7])) });
    expect(await engine.releaseSession(info.key)).toBe(true);
    await expect(engine.run(info.key, { x: f32([1], [1, 1]) })).rejects.toThrow(/No session with key/);
  });

  it('the worker keeps serving after errors', async () => {
    const info = await engine.createSession({ bytes: addConstModel(new Float32Array([1])) });
    const out = await engine.run(info.key, { x: f32([41], [1, 1]) });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([42]);
  });

  it('a worker whose entry fails to load rejects calls instead of hanging', async () => {
    const broken = EngineWorker.start({ entry: new URL('./helpers/does-not-exist.ts', import.meta.url) });
    await expect(broken.stats()).rejects.toThrow(/Cannot find module|does-not-exist|exited/);
    await broken.close();
  });

  it('close() rejects pending calls', async () => {
    const w = EngineWorker.start();
    const pending = expect(w.stats()).rejects.toThrow(/closed/);
    await w.close();
    await pending;
  });
});
