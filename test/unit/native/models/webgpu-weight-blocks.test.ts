// Weights larger than one WebGPU storage-buffer binding: ParamStore.gatherRows splits a frozen
// embedding into row blocks (one initializer each, over the same bytes) and selects per index. The
// rows must be exactly those of the unsplit Gather, on the CPU and on WebGPU, including a real
// GPT-2-small vocabulary embedding (50257 x 768 float32 = 154 MB > 128 MiB).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitOnnx, Graph, type ParamValue } from '../../../../src/native/graph/index';
import { ParamStore, WEBGPU_MIN_BINDING_BYTES, type WeightSource } from '../../../../src/native/models/encoders';
import { ort } from '../../../../src/native/runtime/ort';
import { probeWebgpu } from '../../../../src/native/runtime/providers';
import { SessionCache } from '../../../../src/native/runtime/session-cache';

const noWebgpu = await probeWebgpu();
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-weight-blocks-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** One float32 weight [rows, cols] in a file under `dir`, bound as external data. */
function fileWeight(dir: string, rows: number, cols: number): { source: WeightSource; data: Float32Array } {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = (((i * 2654435761) >>> 0) % 1000003) / 1000003 - 0.5;
  fs.writeFileSync(path.join(dir, 'wte.bin'), new Uint8Array(data.buffer));
  const value: ParamValue = { kind: 'external', location: 'wte.bin', offset: 0, length: data.byteLength };
  return { source: { has: () => true, shape: () => [rows, cols], value: () => value }, data };
}

/** ids [2, n] -> rows [2, n, cols]; `maxBytes` splits the weight (Infinity: one Gather). */
function model(dir: string, source: WeightSource, n: number, maxBytes: number, target: 'cpu' | 'webgpu'): string {
  const g = new Graph();
  const ids = g.input('ids', 'int64', ['batch', 'seq']);
  const w = new ParamStore(g, source);
  w.maxWeightBytes = maxBytes;
  const emitted = emitOnnx(g, { outputs: { y: w.gatherRows('wte', ids) }, target, dims: { batch: 2, seq: n } });
  const file = path.join(dir, `m-${target}-${maxBytes}.onnx`);
  fs.writeFileSync(file, emitted.bytes);
  return file;
}

const run = async (s: Awaited<ReturnType<typeof ort.InferenceSession.create>>, ids: number[]) =>
  (await s.run({ ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [2, ids.length / 2]) })).y!.data as Float32Array;

function expectRows(y: Float32Array, data: Float32Array, ids: number[], cols: number) {
  ids.forEach((r, i) => {
    const want = data.subarray(r * cols, (r + 1) * cols);
    const got = y.subarray(i * cols, (i + 1) * cols);
    expect(
      Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength)),
      `row ${r}`,
    ).toBe(true);
  });
}

describe('weights larger than one GPU binding: row blocks', () => {
  // 100 rows of 8 floats, blocks of 30 rows (960 bytes): blocks start at 0, 30, 60, 90
  const ids = [0, 29, 30, 59, 60, 89, 90, 99, 5, 77];
  it('the split gather gives exactly the rows of one Gather (CPU), with one initializer per block', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'small-'));
    const { source, data } = fileWeight(dir, 100, 8);
    const whole = await ort.InferenceSession.create(model(dir, source, 5, Infinity, 'cpu'));
    const splitFile = model(dir, source, 5, 30 * 8 * 4, 'cpu');
    const split = await ort.InferenceSession.create(splitFile);
    expectRows(await run(whole, ids), data, ids, 8);
    expectRows(await run(split, ids), data, ids, 8);
    const text = fs.readFileSync(splitFile).toString('latin1');
    for (const start of [0, 30, 60, 90]) expect(text).toContain(`wte.rows${start}`);
    expect(text).not.toContain('wte.rows120');
  });

  it.skipIf(noWebgpu !== undefined)(
    `on WebGPU the split form runs with every node on WebGPU and gives the same rows${noWebgpu ? ` (skipped: ${noWebgpu})` : ''}`,
    async () => {
      const dir = fs.mkdtempSync(path.join(tmp, 'small-gpu-'));
      const { source, data } = fileWeight(dir, 100, 8);
      const cache = new SessionCache();
      const provider = { name: 'webgpu' as const, choice: 'webgpu' as const };
      const s = await cache.acquire({ path: model(dir, source, 5, 30 * 8 * 4, 'webgpu') }, { provider });
      expect(s.entry.placement).toEqual({ provider: 'webgpu', allNodesOnProvider: true });
      expectRows(await run(s.entry.session, ids), data, ids, 8);
      await cache.clear();
    },
  );

  it.skipIf(noWebgpu !== undefined)(
    `a GPT-2-small vocabulary embedding (50257 x 768 float32, 154 MB) on WebGPU: 2 blocks, rows equal to the CPU's${noWebgpu ? ` (skipped: ${noWebgpu})` : ''}`,
    async () => {
      const dir = fs.mkdtempSync(path.join(tmp, 'gpt2-'));
      const V = 50257;
      const D = 768;
      expect(V * D * 4).toBeGreaterThan(WEBGPU_MIN_BINDING_BYTES);
      const perBlock = Math.floor(WEBGPU_MIN_BINDING_BYTES / (D * 4)); // 43690 rows
      const { source, data } = fileWeight(dir, V, D);
      const rows = [0, 1, perBlock - 1, perBlock, perBlock + 1, V - 1, 50256, 220, 43000, 50000];
      const cache = new SessionCache();
      const provider = { name: 'webgpu' as const, choice: 'webgpu' as const };
      const file = model(dir, source, 5, WEBGPU_MIN_BINDING_BYTES, 'webgpu');
      expect(fs.readFileSync(file).toString('latin1')).toContain(`wte.rows${perBlock}`);
      const s = await cache.acquire({ path: file }, { provider });
      expect(s.entry.placement).toEqual({ provider: 'webgpu', allNodesOnProvider: true });
      const y = await run(s.entry.session, rows);
      const cpu = await ort.InferenceSession.create(model(dir, source, 5, Infinity, 'cpu'));
      const want = await run(cpu, rows);
      expect(Buffer.from(y.buffer, y.byteOffset, y.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength))).toBe(
        true,
      );
      expectRows(y, data, rows, D);
      await cpu.release();
      await cache.clear();
    },
    120_000,
  );
});
