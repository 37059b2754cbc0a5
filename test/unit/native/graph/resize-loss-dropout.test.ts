import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { checkGradients, int64Tensor, rng } from './harness';
import { Graph, emitOnnx, ops } from '../../../../src/native/graph/index';

describe('bicubic resize (position-embedding interpolation)', () => {
  it('forward equals the interpolation matrices used by the gradient (PyTorch bicubic formula)', async () => {
    // y = Mh x Mwᵀ computed in JS from cubicMatrix must equal ORT's Resize output: this pins the
    // half_pixel / a=-0.75 / edge-clamp conventions that torch bicubic(align_corners=False) uses.
    const [h, w, oh, ow] = [4, 5, 7, 3];
    const g = new Graph();
    const x = g.input('x', 'float32', [1, 2, h, w]);
    const m = emitOnnx(g, { outputs: { y: ops.resizeBicubic(x, [oh, ow]) } });
    const r = rng(7);
    const xv = Float32Array.from({ length: 2 * h * w }, () => r.normal());
    const s = await ort.InferenceSession.create(m.bytes);
    const y = (await s.run({ x: new ort.Tensor('float32', xv, [1, 2, h, w]) })).y!.data as Float32Array;
    const mh = ops.cubicMatrix(h, oh);
    const mw = ops.cubicMatrix(w, ow);
    let maxErr = 0;
    for (let c = 0; c < 2; c++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let acc = 0;
          for (let p = 0; p < h; p++) for (let q = 0; q < w; q++) acc += mh[i * h + p]! * xv[c * h * w + p * w + q]! * mw[j * w + q]!;
          maxErr = Math.max(maxErr, Math.abs(acc - y[c * oh * ow + i * ow + j]!));
        }
    expect(maxErr).toBeLessThan(1e-5);
  });
  it('gradient, upsampling 4x4 -> 6x7 and downsampling 6x6 -> 4x3 (float32: ORT Resize has no float64 kernel; FD step 1e-2, tol 5e-3)', async () => {
    for (const [ih, iw, oh, ow] of [
      [4, 4, 6, 7],
      [6, 6, 4, 3],
    ] as const) {
      const rep = await checkGradients({
        dtype: 'float32',
        build: (g) => {
          const pos = g.input('pos', 'float32', [1, 3, ih, iw]);
          return { wrt: [pos], out: ops.resizeBicubic(pos, [oh, ow]) };
        },
      });
      expect(rep.failures, rep.worst).toEqual([]);
    }
  });
});

describe('cross-entropy and L2-normalised contrastive logits (float64)', () => {
  it('crossEntropy(logits, labels) gradient', async () => {
    const rep = await checkGradients({
      dtype: 'float64',
      symbols: { batch: 4 },
      build: (g) => {
        const z = g.input('z', 'float64', ['batch', 5]);
        const y = g.input('labels', 'int64', ['batch']);
        return { wrt: [z], out: ops.crossEntropy(z, y).reshape([1]), feeds: { labels: int64Tensor([4, 0, 2, 4], [4]) } };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
  it('crossEntropy value equals log-sum-exp minus the label logit', async () => {
    const g = new Graph();
    const z = g.input('z', 'float64', [2, 3]);
    const y = g.input('y', 'int64', [2]);
    const s = await ort.InferenceSession.create(emitOnnx(g, { outputs: { loss: ops.crossEntropy(z, y) } }).bytes);
    const zv = [0.1, 2, -1, 3, 0.5, 0.2];
    const loss = Number(
      (await s.run({ z: new ort.Tensor('float64', Float64Array.from(zv), [2, 3]), y: int64Tensor([1, 0], [2]) })).loss!.data[0],
    );
    const lse = (a: number[]) => Math.log(a.reduce((p, v) => p + Math.exp(v), 0));
    expect(loss).toBeCloseTo((lse(zv.slice(0, 3)) - 2 + lse(zv.slice(3)) - 3) / 2, 12);
  });
  it('symmetric InfoNCE over L2-normalised embeddings with a learnable logit scale', async () => {
    const rep = await checkGradients({
      dtype: 'float64',
      build: (g) => {
        const img = g.input('img', 'float64', [4, 6]);
        const txt = g.input('txt', 'float64', [4, 6]);
        const scale = g.input('logit_scale', 'float64', []);
        const logits = img.l2normalize().matmul(txt.l2normalize().transpose()).mul(scale.exp());
        const labels = ops.arange(g, 4);
        const loss = ops.crossEntropy(logits, labels).add(ops.crossEntropy(logits.transpose(), labels)).mul(0.5);
        return { wrt: [img, txt, scale], out: loss.reshape([1]) };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
});

describe('seeded dropout', () => {
  async function runMask(seed: bigint, salt = 0, shape = [64, 128]) {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', shape[1]!]);
    const s = g.input('seed', 'int32', [4]);
    const y = ops.dropout(x, 0.1, s, salt);
    const sess = await ort.InferenceSession.create(emitOnnx(g, { outputs: { y } }).bytes);
    const feeds = {
      x: new ort.Tensor('float32', new Float32Array(shape[0]! * shape[1]!).fill(1), shape),
      seed: new ort.Tensor('int32', ops.dropoutSeedWords(seed), [4]),
    };
    const a = (await sess.run(feeds)).y!.data as Float32Array;
    const b = (await sess.run(feeds)).y!.data as Float32Array;
    return { a, b };
  }
  it('same seed gives the same mask on every run and in a fresh session; rate and scaling are right', async () => {
    const { a, b } = await runMask(42n);
    const again = await runMask(42n);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(again.a)).toEqual(Array.from(a));
    const dropped = a.filter((v) => v === 0).length / a.length;
    expect(dropped).toBeGreaterThan(0.08);
    expect(dropped).toBeLessThan(0.12);
    expect(a.filter((v) => v !== 0).every((v) => Math.abs(v - 1 / 0.9) < 1e-6)).toBe(true);
  });
  it('different seeds and salts give unrelated masks (overlap as for independent draws)', async () => {
    const base = (await runMask(42n)).a;
    for (const other of [(await runMask(43n)).a, (await runMask(42n, 1)).a, (await runMask(1n << 40n)).a]) {
      let both = 0;
      for (let i = 0; i < base.length; i++) if (base[i] === 0 && other[i] === 0) both++;
      // independent 10% masks share ~1% of positions; identical or shifted-correlated ones far more
      expect(both / base.length).toBeLessThan(0.02);
      expect(Array.from(other)).not.toEqual(Array.from(base));
    }
  });
  it('gradient is the same mask scaled (float64)', async () => {
    const rep = await checkGradients({
      dtype: 'float64',
      build: (g) => {
        const x = g.input('x', 'float64', [5, 7]);
        const seed = g.input('seed', 'int32', [4]);
        return { wrt: [x], out: ops.dropout(x, 0.3, seed).mul(x), feeds: { seed: new ort.Tensor('int32', ops.dropoutSeedWords(9n), [4]) } };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
});
