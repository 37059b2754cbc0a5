import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { canonicalDim, dimDiv, dimEq, dimSub, numel, broadcastShapes } from '../../../../src/native/graph/shape';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../../../src/native/graph/dtype';
import { Graph, emitOnnx, grad } from '../../../../src/native/graph/index';
import { rng } from './harness';

describe('symbolic dims', () => {
  it('canonicalises polynomials so equal dims compare equal', () => {
    expect(canonicalDim('seq*batch')).toBe('batch*seq');
    expect(dimEq('2*(seq+1)', 'seq+seq+2')).toBe(true);
    expect(canonicalDim('seq-1+1')).toBe('seq');
    expect(numel(['batch', 'seq', 64])).toBe('64*batch*seq');
    expect(dimDiv('64*batch*seq', 64)).toBe('batch*seq');
    expect(dimDiv('batch*seq', 'seq')).toBe('batch');
    expect(dimDiv('batch+1', 'batch')).toBeNull();
    expect(dimSub('seq+30', 30)).toBe('seq');
  });
  it('broadcasts symbols only against 1 or themselves', () => {
    expect(
      broadcastShapes('Add', [
        ['batch', 1, 4],
        [3, 1],
      ]),
    ).toEqual(['batch', 3, 4]);
    expect(() => broadcastShapes('Add', [['batch'], ['seq']])).toThrow('Add: cannot broadcast dims batch and seq (a: [batch], b: [seq])');
  });
  it('evaluates symbolic shapes at run time from the inputs (reshape needing two run-time dims)', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 'seq', 6]);
    const y = x.reshape(['batch*seq', 2, 3]).transpose([1, 0, 2]).reshape([2, 'batch', 'seq*3']);
    const s = await ort.InferenceSession.create(emitOnnx(g, { outputs: { y } }).bytes);
    const r = await s.run({
      x: new ort.Tensor(
        'float32',
        Float32Array.from({ length: 2 * 5 * 6 }, (_, i) => i),
        [2, 5, 6],
      ),
    });
    expect(r.y!.dims).toEqual([2, 2, 15]);
  });
});

describe('float16', () => {
  it('round-trips half bits (normals, subnormals, rounding to even, overflow)', () => {
    for (const v of [0, 1, -2.5, 65504, 6.1035e-5, 5.96e-8, 0.1, 1 / 3]) {
      expect(Math.abs(float16BitsToFloat32(float32ToFloat16Bits(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
    }
    expect(float32ToFloat16Bits(1e6)).toBe(0x7c00);
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie rounds to even
  });
  it('a float16 MLP gradient matches the float32 one within half precision', async () => {
    const run = async (dtype: 'float16' | 'float32') => {
      const g = new Graph();
      const x = g.input('x', dtype, ['batch', 8]);
      const w = g.param('w', [8, 4], { dtype, trainable: true });
      const b = g.param('b', [4], { dtype, trainable: true });
      const loss = x
        .matmul(w)
        .add(b)
        .gelu('tanh')
        .layerNorm(g.constant([1, 1, 1, 1], dtype, [4]), g.constant([0, 0, 0, 0], dtype, [4]))
        .mul(g.constant([1, -2, 0.5, 3], dtype, [4]))
        .sum(); // weighted: a plain sum of a LayerNorm output is constant
      const [gw, gb] = grad(loss, [w, b]);
      const s = await ort.InferenceSession.create(emitOnnx(g, { outputs: { gw: gw!, gb: gb! } }).bytes);
      const r = rng(3);
      const xs = Array.from({ length: 24 }, () => r.normal());
      const ws = Array.from({ length: 32 }, () => r.normal() * 0.5);
      const bs = [0.1, -0.2, 0.3, 0];
      const t = (v: number[], dims: number[]) =>
        dtype === 'float32'
          ? new ort.Tensor('float32', Float32Array.from(v), dims)
          : new ort.Tensor('float16', Uint16Array.from(v.map(float32ToFloat16Bits)), dims);
      const out = await s.run({ x: t(xs, [3, 8]), w: t(ws, [8, 4]), b: t(bs, [4]) });
      const read = (v: ort.Tensor) =>
        dtype === 'float32' ? Array.from(v.data as Float32Array) : Array.from(v.data as Uint16Array).map(float16BitsToFloat32);
      return [...read(out.gw!), ...read(out.gb!)];
    };
    const [h, f] = [await run('float16'), await run('float32')];
    const scale = Math.max(...f.map(Math.abs));
    h.forEach((v, i) => expect(Math.abs(v - f[i]!)).toBeLessThan(2e-2 * scale));
  });
});
