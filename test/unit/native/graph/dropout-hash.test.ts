/**
 * The dropout mask hash (ops/dropout.ts): int32 arithmetic that is exact on both providers, so the CPU
 * and the WebGPU EP give the same mask bit for bit, with every node on WebGPU; a pure function of
 * (seed, salt, position) that equals a plain-JS transcription of its definition; statistics of an
 * honest dropout (kept fraction, independence across positions, steps and call sites).
 */
import { describe, expect, it } from 'vitest';
import { emitOnnx, Graph, ops } from '../../../../src/native/graph/index';
import { ort } from '../../../../src/native/runtime/ort';
import { probeWebgpu } from '../../../../src/native/runtime/providers';
import { SessionCache } from '../../../../src/native/runtime/session-cache';
import { deriveSeed } from '../../../../src/native/training/schedule';
import { dropoutSeedFeed } from '../../../../src/native/training/setup';
import { saltOffsets } from '../../../../src/native/graph/ops/dropout';

const noWebgpu = await probeWebgpu();
const P = 46337;

/** The hash as its doc comment defines it, in JS doubles (every value is an exact integer below 2^53). */
function reference(n: number, seed: bigint, salt: number): Float64Array {
  const s = ops.dropoutSeedWords(seed);
  const c = saltOffsets(salt);
  const key = (j: number) => s[j % 4]! + c[j]!;
  const u = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let l = Math.floor(i / P);
    let r = i - l * P;
    for (let k = 0; k < 4; k++) {
      const t = (r * r + key(2 * k)) % P;
      [l, r] = [r, (t * r + l + key(2 * k + 1)) % P];
    }
    u[i] = l * P + r;
  }
  return u;
}

function hashModel(shape: number[], rate: number, salt: number, target: 'cpu' | 'webgpu') {
  const g = new Graph();
  const x = g.input('x', 'float32', shape);
  const seed = g.input('seed', 'int32', [4]);
  const outputs = { u: ops.hashField(x, seed, salt), y: ops.dropout(x, rate, seed, salt) };
  return emitOnnx(g, { outputs, target }).bytes;
}

const ones = (shape: number[]) => new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1), shape);
const seedTensor = (seed: bigint) => {
  const f = dropoutSeedFeed(seed);
  return new ort.Tensor('int32', f.data as Int32Array, f.dims);
};

async function runHash(cache: SessionCache, shape: number[], seed: bigint, salt: number, target: 'cpu' | 'webgpu', rate = 0.1) {
  const provider = target === 'webgpu' ? { provider: { name: 'webgpu' as const, choice: 'webgpu' as const } } : {};
  const { entry } = await cache.acquire({ bytes: hashModel(shape, rate, salt, target) }, provider);
  const out = await entry.session.run({ x: ones(shape), seed: seedTensor(seed) });
  return { u: out.u!.data as Int32Array, y: out.y!.data as Float32Array, placement: entry.placement };
}

describe('dropout mask hash', () => {
  it('seed words: the four base-P digits of the per-step seed mod P^4, negative seeds wrap', () => {
    const s = deriveSeed(7, 123, 1);
    const w = ops.dropoutSeedWords(s);
    expect(w.every((d) => d >= 0 && d < P)).toBe(true);
    const p = BigInt(P);
    expect(BigInt(w[0]!) + BigInt(w[1]!) * p + BigInt(w[2]!) * p * p + BigInt(w[3]!) * p ** 3n).toBe(s % p ** 4n);
    expect(Array.from(ops.dropoutSeedWords(s + p ** 4n))).toEqual(Array.from(w));
    expect(Array.from(ops.dropoutSeedWords(s + 1n))).not.toEqual(Array.from(w));
    expect(Array.from(ops.dropoutSeedWords(-1n))).toEqual([P - 1, P - 1, P - 1, P - 1]);
    expect(dropoutSeedFeed(s)).toEqual({ type: 'int32', dims: [4], data: w });
  });

  it('equals the JS transcription of its definition bit for bit (CPU provider), mask = u >= round(rate·P²)', async () => {
    const cache = new SessionCache();
    const shape = [3, 7, 50];
    for (const [seed, salt] of [
      [deriveSeed(0, 1, 0), 0],
      [deriveSeed(5, 99, 3), 123457],
      [0n, 999_999],
    ] as const) {
      const { u, y } = await runHash(cache, shape, seed, salt, 'cpu', 0.25);
      const want = reference(u.length, seed, salt);
      expect(Array.from(u)).toEqual(Array.from(want));
      const t = Math.round(0.25 * P * P);
      expect(Array.from(y)).toEqual(Array.from(want, (v) => (v >= t ? Math.fround(1 / 0.75) : 0)));
    }
    await cache.clear();
  });

  it('keeps 1-p of a large tensor; masks of consecutive steps, of call sites and of neighbouring positions are independent', async () => {
    const cache = new SessionCache();
    const shape = [16, 128, 512]; // 2^20 elements: the index spans 23 values of the high digit
    const n = 16 * 128 * 512;
    for (const rate of [0.1, 0.5]) {
      const drops: Uint8Array[] = [];
      for (const [step, salt] of [
        [1, 0],
        [2, 0],
        [1, 1],
      ] as const) {
        const { y } = await runHash(cache, shape, deriveSeed(42, step, 0), salt, 'cpu', rate);
        drops.push(Uint8Array.from(y, (v) => (v === 0 ? 1 : 0)));
      }
      const sd = Math.sqrt((rate * (1 - rate)) / n); // binomial standard deviation of a fraction
      for (const d of drops) expect(Math.abs(d.reduce((a, b) => a + b, 0) / n - rate)).toBeLessThan(5 * sd);
      // independent masks drop the same position with probability rate²
      const overlap = (a: Uint8Array, b: Uint8Array, lag = 0) => {
        let k = 0;
        for (let i = 0; i + lag < n; i++) k += a[i]! & b[i + lag]!;
        return k / (n - lag);
      };
      const sd2 = Math.sqrt((rate ** 2 * (1 - rate ** 2)) / n);
      const [a, nextStep, otherSite] = drops as [Uint8Array, Uint8Array, Uint8Array];
      expect(Buffer.from(nextStep).equals(Buffer.from(a))).toBe(false);
      for (const [what, v] of [
        ['consecutive steps', overlap(a, nextStep)],
        ['another call site', overlap(a, otherSite)],
        ['neighbours', overlap(a, a, 1)],
        ['positions P apart', overlap(a, a, P)],
      ] as const)
        expect(Math.abs(v - rate ** 2), `${what} at rate ${rate}`).toBeLessThan(6 * sd2);
    }
    await cache.clear();
  });

  it('is uniform: a chi-square over 256 buckets of u/P² stays in the bulk of its distribution', async () => {
    const cache = new SessionCache();
    const { u } = await runHash(cache, [1 << 18], deriveSeed(3, 4, 0), 17, 'cpu');
    const counts = new Float64Array(256);
    for (const v of u) counts[Math.floor((v / (P * P)) * 256)]!++;
    const e = u.length / 256;
    const chi2 = counts.reduce((s, o) => s + (o - e) ** 2 / e, 0);
    // 255 degrees of freedom: mean 255, sd 22.6; 255 ± 5 sd
    expect(chi2).toBeGreaterThan(142);
    expect(chi2).toBeLessThan(368);
    await cache.clear();
  });

  it.skipIf(noWebgpu !== undefined)(
    `WebGPU: every node on WebGPU (strict) and the same u and mask as the CPU bit for bit${noWebgpu ? ` (skipped: ${noWebgpu})` : ''}`,
    async () => {
      const cache = new SessionCache();
      const shape = [4, 96, 384]; // > P elements: both digits of the index vary
      for (const [seed, salt] of [
        [deriveSeed(0, 1, 0), 0],
        [deriveSeed(11, 7, 1), 424_242],
      ] as const) {
        const cpu = await runHash(cache, shape, seed, salt, 'cpu');
        const gpu = await runHash(cache, shape, seed, salt, 'webgpu');
        expect(gpu.placement).toEqual({ provider: 'webgpu', allNodesOnProvider: true });
        expect(
          Buffer.from(gpu.u.buffer, gpu.u.byteOffset, gpu.u.byteLength).equals(
            Buffer.from(cpu.u.buffer, cpu.u.byteOffset, cpu.u.byteLength),
          ),
        ).toBe(true);
        expect(Array.from(gpu.y)).toEqual(Array.from(cpu.y));
      }
      await cache.clear();
    },
  );
});
