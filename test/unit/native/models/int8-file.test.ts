// The .q8.bin file bindWeights writes for the int8 path: byte for byte what quantizeInt8 of each
// weight (transposed for GPT-2's Conv1D [in, out] layout) gives at the offsets it describes, for bf16
// and float32 weights, both layouts, with and without the backward quantization; a non-finite weight
// is refused naming the file and the weight, and leaves no file behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { bindWeights, type MatmulWeight } from '../../../../src/native/models/weights';
import { safetensorsWeightRefs } from '../../../../src/native/formats/hf-folder';
import { bf16ToF32, f32ToBf16, writeSafetensors } from '../../../../src/native/formats/safetensors';
import { INT8_WIDE_BLOCK_SIZE, int8BlockSize, quantizeInt8, transposeF32 } from '../../../../src/native/graph/ops/quant';
import type { ParamValue } from '../../../../src/native/graph/index';
import { rng } from '../graph/harness';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'int8-file-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function randomMatrix(seed: number, rows: number, cols: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: rows * cols }, () => r.normal() * 0.05);
}

/** [name, stored shape, layout, dtype]: odd shapes (not multiples of 32) in both layouts; a wide one (blocks of 128: int8BlockSize). */
const WEIGHTS: [string, [number, number], MatmulWeight['layout'], 'BF16' | 'F32'][] = [
  ['h.0.attn.c_attn.weight', [70, 210], 'in-out', 'BF16'],
  ['h.0.mlp.c_fc.weight', [70, 96], 'in-out', 'F32'],
  ['h.0.lin.weight', [45, 77], 'out-in', 'BF16'],
  ['h.0.lin2.weight', [64, 33], 'out-in', 'F32'],
  ['h.1.attn.c_attn.weight', [1024, 1100], 'in-out', 'BF16'],
];

function writeModel(dir: string, poison?: { name: string; at: number }): Map<string, Float32Array> {
  fs.mkdirSync(dir, { recursive: true });
  const values = new Map<string, Float32Array>();
  const tensors: Parameters<typeof writeSafetensors>[1] = { 'h.0.ln.bias': { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2, 3) } };
  WEIGHTS.forEach(([name, shape, , dtype], i) => {
    const w = randomMatrix(i + 1, shape[0], shape[1]);
    for (let c = 0; c < shape[1]; c++) w[c] = 0; // an all-zero stored row
    if (poison?.name === name) w[poison.at] = NaN;
    const bits = f32ToBf16(w);
    values.set(name, dtype === 'BF16' ? bf16ToF32(bits) : w);
    tensors[name] = { dtype, shape, data: dtype === 'BF16' ? bits : w };
  });
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  return values;
}

const plan = (backward: boolean, threads = 0) => ({ weights: WEIGHTS.map(([name, , layout]) => ({ name, layout })), backward, threads });

describe('the int8 weight file', () => {
  it('holds the bytes of quantizeInt8 of each weight (and of its transpose with backward), for bf16 and float32 in both layouts', () => {
    const dir = path.join(tmp, 'model');
    const values = writeModel(dir);
    for (const [backward, threads] of [
      [false, 0],
      [true, 0],
      [false, 2], // worker threads
      [true, 3],
    ] as const) {
      const cacheDir = path.join(tmp, `cache-${backward}-${threads}`);
      const { source } = bindWeights(safetensorsWeightRefs(path.join(dir, 'model.safetensors')), {
        cacheDir,
        int8: plan(backward, threads),
      });
      const files = fs.readdirSync(path.join(cacheDir, 'weights')).filter((f) => f.endsWith('.q8.bin'));
      expect(files).toHaveLength(1);
      const file = fs.readFileSync(path.join(cacheDir, 'weights', files[0]!));
      const expectAt = (v: ParamValue, bytes: Uint8Array, what: string) => {
        if (v.kind !== 'external') throw new Error('expected external data');
        expect(v.location).toBe(`weights/${files[0]}`);
        expect(v.length).toBe(bytes.length);
        expect(file.subarray(v.offset, v.offset + v.length).equals(bytes), what).toBe(true);
      };
      const u8 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      for (const [name, [r, c], layout] of WEIGHTS) {
        const w = values.get(name)!;
        const nk = layout === 'in-out' ? transposeF32(w, r, c) : w;
        const kn = layout === 'in-out' ? w : transposeF32(w, r, c);
        const [n, k] = layout === 'in-out' ? [c, r] : [r, c];
        const block = int8BlockSize(n, k);
        const fwd = quantizeInt8(nk, n, k, block);
        const v = source.int8!(name)!;
        expect([v.n, v.k, v.blockSize]).toEqual([n, k, block]);
        expectAt(v.q, fwd.q, `${name} q`);
        expectAt(v.scales, u8(fwd.scales), `${name} scales`);
        if (backward) {
          const bwd = quantizeInt8(kn, k, n, block);
          expect(v.backward!.blockSize).toBe(block);
          expectAt(v.backward!.q, bwd.q, `${name} backward q`);
          expectAt(v.backward!.scales, u8(bwd.scales), `${name} backward scales`);
        } else expect(v.backward).toBeUndefined();
      }
      expect(source.int8!('h.0.ln.bias')).toBeUndefined();
      expect(source.int8!('h.1.attn.c_attn.weight')!.blockSize).toBe(INT8_WIDE_BLOCK_SIZE);
      expect(source.int8!('h.0.lin.weight')!.blockSize).toBe(32);
    }
  });

  it('refuses a non-finite weight naming the file, the weight and the block, and leaves no file (in this thread and in workers)', () => {
    // in workers: a bf16 Conv1D weight and a float32 nn.Linear one (each case starts two workers)
    for (const [i, [name, [, c]]] of [...WEIGHTS, WEIGHTS[0]!, WEIGHTS[3]!].entries()) {
      const threads = i < WEIGHTS.length ? 0 : 2;
      const dir = path.join(tmp, `bad-${i}`);
      writeModel(dir, { name, at: 5 * c + 3 });
      const cacheDir = path.join(tmp, `bad-cache-${i}`);
      const file = path.join(dir, 'model.safetensors');
      expect(() => bindWeights(safetensorsWeightRefs(file), { cacheDir, int8: plan(true, threads) })).toThrow(
        new RegExp(`${file}: tensor "${name}": weight ${name}: quantizeInt8: non-finite value in row \\d+, columns \\d+\\.\\.\\d+`),
      );
      expect(fs.readdirSync(path.join(cacheDir, 'weights')).filter((f) => f.includes('.q8.bin'))).toEqual([]);
    }
  });

  it('the worker threads end with the quantization: a process that quantized (and failed once) exits by itself', () => {
    const dir = path.join(tmp, 'exit');
    writeModel(dir, { name: WEIGHTS[0]![0], at: 7 });
    const good = path.join(tmp, 'model');
    const script = path.join(tmp, 'exit.ts');
    const src = (f: string) => JSON.stringify(path.resolve('src/native', f));
    fs.writeFileSync(
      script,
      [
        `import { bindWeights } from ${src('models/weights.ts')};`,
        `import { safetensorsWeightRefs } from ${src('formats/hf-folder.ts')};`,
        `const plan = ${JSON.stringify(plan(true, 2))};`,
        `bindWeights(safetensorsWeightRefs(${JSON.stringify(path.join(good, 'model.safetensors'))}), { cacheDir: ${JSON.stringify(path.join(tmp, 'exit-ok'))}, int8: plan });`,
        `try { bindWeights(safetensorsWeightRefs(${JSON.stringify(path.join(dir, 'model.safetensors'))}), { cacheDir: ${JSON.stringify(path.join(tmp, 'exit-bad'))}, int8: plan }); } catch (e) { console.log('refused:', (e as Error).message); }`,
      ].join('\n'),
    );
    if (!fs.existsSync(path.join(good, 'model.safetensors'))) writeModel(good);
    // no timeout: a worker left running would keep the child alive and fail the test by the runner's
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`refused: .*weight ${WEIGHTS[0]![0]}: quantizeInt8: non-finite value`));
    expect(fs.readdirSync(path.join(tmp, 'exit-ok', 'weights')).filter((f) => f.endsWith('.q8.bin'))).toHaveLength(1);
  });
});
