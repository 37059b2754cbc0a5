import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { checkGradients, rng } from './harness';
import { emitOnnx, grad, Graph, ops, type Tensor } from '../../../../src/native/graph/index';
import {
  dequantizeInt8,
  quantizeInt8,
  quantizeStored,
  transposeF32,
  type Int8Blocks,
  type Int8Weight,
  type QuantTarget,
} from '../../../../src/native/graph/ops/quant';
import { bf16ToF32, f32ToBf16 } from '../../../../src/native/formats/safetensors';

function randomMatrix(seed: number, rows: number, cols: number, scale = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: rows * cols }, () => r.normal() * scale);
}

/** Frozen int8 weight params for W [n, k] (and its transposed quantization for the gradient). */
function int8Param(g: Graph, name: string, w: Int8Blocks, back?: Int8Blocks): Int8Weight {
  const kb = Math.ceil(w.cols / w.blockSize);
  const p: Int8Weight = {
    q: g.param(`${name}.q`, [w.rows, kb, w.blockSize], { dtype: 'uint8', value: { kind: 'inline', bytes: w.q } }),
    scales: g.param(`${name}.scales`, [w.rows * kb], { value: { kind: 'inline', bytes: new Uint8Array(w.scales.buffer) } }),
    n: w.rows,
    k: w.cols,
    blockSize: w.blockSize,
  };
  if (back) p.backward = int8Param(g, `${name}.t`, back);
  return p;
}

/** x [m, k] @ Wᵀ for W [n, k] in float64. */
function matmulT(x: ArrayLike<number>, w: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let c = 0; c < k; c++) y[i * n + j]! += x[i * k + c]! * w[j * k + c]!;
  return y;
}

describe('int8 blockwise quantization', () => {
  it('round-trips within max|w| / 254 of each block, keeps zeros and pads the last block with the zero point', () => {
    const [rows, cols] = [7, 100]; // 100 = 3 blocks of 32 and one of 4
    const w = randomMatrix(1, rows, cols, 0.05);
    for (let c = 0; c < cols; c++) w[2 * cols + c] = 0; // an all-zero row
    w[5 * cols + 7] = 3; // an outlier in one block only
    const qz = quantizeInt8(w, rows, cols, 32);
    expect(qz.q.length).toBe(rows * 4 * 32);
    expect(qz.scales.length).toBe(rows * 4);
    const back = dequantizeInt8(qz);
    for (let r = 0; r < rows; r++)
      for (let b = 0; b < 4; b++) {
        let max = 0;
        for (let c = b * 32; c < Math.min(cols, b * 32 + 32); c++) max = Math.max(max, Math.abs(w[r * cols + c]!));
        for (let c = b * 32; c < Math.min(cols, b * 32 + 32); c++)
          expect(Math.abs(back[r * cols + c]! - w[r * cols + c]!)).toBeLessThanOrEqual((max / 254) * (1 + 1e-6));
      }
    expect(Array.from(back.subarray(2 * cols, 3 * cols)).every((v) => v === 0)).toBe(true);
    // the outlier's block is coarse, the others are not
    expect(qz.scales[5 * 4]).toBeCloseTo(3 / 127, 6);
    expect(qz.scales[5 * 4 + 1]!).toBeLessThan(0.2 / 127);
    // padding of the last block (columns 100..127) holds the zero point 128
    expect(Array.from(qz.q.subarray(4 * 32 - 28, 4 * 32)).every((v) => v === 128)).toBe(true);
    // a pure function of the values
    expect(Buffer.from(quantizeInt8(w, rows, cols, 32).q).equals(Buffer.from(qz.q))).toBe(true);
  });

  it('refuses a bad block size and non-finite weights', () => {
    expect(() => quantizeInt8(new Float32Array(4), 1, 4, 24)).toThrow(/power of two/);
    expect(() => quantizeInt8(Float32Array.of(1, NaN, 0, 0), 1, 4, 16)).toThrow(/non-finite value in row 0/);
  });

  it('quantizeStored gives the bytes of quantizeInt8 (rows) and of quantizeInt8 of the transpose (cols), from float32 and bf16, odd shapes, reused buffers', () => {
    const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const [rows, cols, block] of [
      [45, 77, 32], // neither a multiple of 32
      [64, 33, 32],
      [96, 160, 32],
      [5, 17, 16],
      [130, 3, 64],
    ] as const) {
      const w = randomMatrix(rows * 1000 + cols, rows, cols, 0.05);
      for (let c = 0; c < cols; c++) w[c] = 0; // an all-zero stored row
      for (let r = 0; r < rows; r++) w[r * cols + 1] = r % 2 ? -0 : 0; // and column, with -0
      w[(rows - 1) * cols + cols - 1] = 4; // an outlier
      w[Math.floor(rows / 2) * cols + 2] = 1e-41; // a denormal
      for (const src of ['f32', 'bf16'] as const) {
        const bf = f32ToBf16(w);
        const vals = src === 'f32' ? w : bf16ToF32(bf);
        const refRows = quantizeInt8(vals, rows, cols, block);
        const refCols = quantizeInt8(transposeF32(vals, rows, cols), cols, rows, block);
        const target = (along: QuantTarget['along'], ref: Int8Blocks): QuantTarget => ({
          along,
          q: new Uint8Array(ref.q.length).fill(7), // garbage: every byte must be written
          scales: new Float32Array(ref.scales.length).fill(9),
        });
        for (const order of [['rows'], ['cols'], ['cols', 'rows'], ['rows', 'cols']] as const) {
          const targets = order.map((a) => target(a, a === 'rows' ? refRows : refCols));
          quantizeStored(src === 'f32' ? { f32: w } : { bf16: bf }, rows, cols, targets, block);
          for (const t of targets) {
            const ref = t.along === 'rows' ? refRows : refCols;
            expect(bytes(t.q).equals(bytes(ref.q)), `${rows}x${cols} ${src} ${t.along} q`).toBe(true);
            expect(bytes(t.scales).equals(bytes(ref.scales)), `${rows}x${cols} ${src} ${t.along} scales`).toBe(true);
          }
        }
      }
    }
  });

  it('quantizeStored refuses NaN and Inf with the row and columns quantizeInt8 names', () => {
    const [rows, cols] = [40, 70];
    for (const bad of [NaN, Infinity, -Infinity])
      for (const at of [
        [3, 66],
        [39, 0],
        [33, 40],
      ] as const) {
        const w = randomMatrix(8, rows, cols);
        w[at[0] * cols + at[1]] = bad;
        w[(rows - 1) * cols + cols - 1] = bad; // a second one: the first in each matrix's order is named
        for (const along of ['rows', 'cols'] as const) {
          const ref = along === 'rows' ? () => quantizeInt8(w, rows, cols) : () => quantizeInt8(transposeF32(w, rows, cols), cols, rows);
          const message = (() => {
            try {
              ref();
            } catch (e) {
              return (e as Error).message;
            }
            throw new Error('quantizeInt8 accepted a non-finite value');
          })();
          expect(message).toMatch(/non-finite value in row \d+, columns \d+\.\.\d+/);
          const [n, k] = along === 'rows' ? [rows, cols] : [cols, rows];
          const target = { along, q: new Uint8Array(n * Math.ceil(k / 32) * 32), scales: new Float32Array(n * Math.ceil(k / 32)) };
          expect(() => quantizeStored({ f32: w }, rows, cols, [target])).toThrow(message);
          expect(() => quantizeStored({ bf16: f32ToBf16(w) }, rows, cols, [target])).toThrow(message);
        }
      }
  });

  it('transposeF32 transposes', () => {
    const w = randomMatrix(2, 70, 130);
    const t = transposeF32(w, 70, 130);
    for (const [r, c] of [
      [0, 0],
      [69, 129],
      [13, 77],
    ] as const)
      expect(t[c * 70 + r]).toBe(w[r * 130 + c]);
  });
});

describe('MatMulInt8 (com.microsoft MatMulNBits, bits 8) in onnxruntime-node', () => {
  async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>) {
    const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    try {
      return await s.run(feeds);
    } finally {
      await s.release();
    }
  }

  it('computes x @ dequant(W)ᵀ: exactly at accuracy level 0, within int8 activation error at level 4, batched and with a padded K', async () => {
    const [b, t, k, n] = [2, 3, 80, 24];
    const w = randomMatrix(3, n, k, 0.1);
    const qz = quantizeInt8(w, n, k, 32);
    const deq = dequantizeInt8(qz);
    const x = randomMatrix(4, b * t, k);
    for (const level of [0, 4]) {
      const g = new Graph();
      const xi = g.input('x', 'float32', ['batch', t, k]);
      const y = ops.matmulInt8(xi, int8Param(g, 'w', qz), level);
      expect(y.shape).toEqual(['batch', t, n]);
      const emitted = emitOnnx(g, { outputs: { y } });
      const out = (await run(emitted.bytes, { x: new ort.Tensor('float32', x, [b, t, k]) })).y!.data as Float32Array;
      const ref = matmulT(x, deq, b * t, k, n);
      const scale = Math.max(...ref.map(Math.abs));
      const err = Math.max(...out.map((v, i) => Math.abs(v - ref[i]!)));
      if (level === 0) expect(err).toBeLessThan(1e-5 * scale);
      else expect(err).toBeLessThan(0.02 * scale);
    }
  });

  it('imports com.microsoft only in graphs that use it (float graphs keep their bytes)', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [1, 32]);
    const float = emitOnnx(g, { outputs: { y: x.mul(2) } });
    expect(Buffer.from(float.bytes).includes(Buffer.from('com.microsoft'))).toBe(false);
    const qz = quantizeInt8(randomMatrix(5, 16, 32), 16, 32, 32);
    const q = emitOnnx(g, { outputs: { y: ops.matmulInt8(x, int8Param(g, 'w', qz)) } });
    expect(Buffer.from(q.bytes).includes(Buffer.from('com.microsoft'))).toBe(true);
  });

  it('rejects operands that do not match the weight', () => {
    const g = new Graph();
    const qz = quantizeInt8(randomMatrix(6, 16, 32), 16, 32, 32);
    const w = int8Param(g, 'w', qz);
    expect(() => ops.matmulInt8(g.input('x', 'float32', [2, 31]), w)).toThrow(/must end in k = 32/);
    expect(() => ops.matmulInt8(g.input('xi', 'int64', [2, 32]), w)).toThrow(/float32/);
  });

  it('gradient w.r.t. x: finite differences at level 0, and equal to the float path with the transposed dequantized weight', async () => {
    const [m, k, n] = [3, 40, 20];
    const w = randomMatrix(7, n, k, 0.2);
    const fwd = quantizeInt8(w, n, k, 16);
    const back = quantizeInt8(transposeF32(w, n, k), k, n, 16);
    // FD of the level-0 forward (linear in x with dequant(W)); the analytic rule uses the transposed
    // quantization, which differs from dequant(W) by up to max|w|/254 per element.
    const report = await checkGradients({
      dtype: 'float32',
      build: (g) => {
        const x = g.input('x', 'float32', [m, k]);
        return { wrt: [x], out: ops.matmulInt8(x, int8Param(g, 'w', fwd, back), 0) };
      },
      atol: 0.03,
      rtol: 0.02,
      maxChecks: 40,
    });
    expect(report.failures).toEqual([]);

    // Exactly (to float rounding) g @ dequant(back)ᵀ, the float path's dx with the quantized Wᵀ.
    const g = new Graph();
    const x = g.input('x', 'float32', [m, k]);
    const R = g.input('R', 'float32', [m, n]);
    const y = ops.matmulInt8(x, int8Param(g, 'w', fwd, back), 0);
    const [dx] = grad(y.mul(R).sum(), [x]) as [Tensor];
    const rv = randomMatrix(8, m, n);
    const out = (
      await run(emitOnnx(g, { outputs: { dx } }).bytes, {
        x: new ort.Tensor('float32', randomMatrix(9, m, k), [m, k]),
        R: new ort.Tensor('float32', rv, [m, n]),
      })
    ).dx!.data as Float32Array;
    const ref = matmulT(rv, dequantizeInt8(back), m, n, k);
    for (let i = 0; i < ref.length; i++) expect(out[i]).toBeCloseTo(ref[i]!, 4);
  });

  it('says what is missing when a gradient is asked for without the transposed quantization', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2, 32]);
    const y = ops.matmulInt8(x, int8Param(g, 'w', quantizeInt8(randomMatrix(10, 16, 32), 16, 32, 32)));
    expect(() => grad(y.sum(), [x])).toThrow(/needs its transposed quantization/);
  });
});
