import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  readSafetensorsHeader,
  readTensor,
  readTensors,
  readTensorF32,
  writeSafetensors,
  safetensorsToBytes,
  rewriteSafetensors,
  safetensorsOrder,
  bf16ToF32,
  f32ToBf16,
  f16ToF32,
  f32ToF16,
  halfToFloat,
  SafetensorsError,
  SAFETENSORS_STYLE,
  type TensorInput,
} from '../../../../src/native/formats/safetensors';

const REF = path.resolve(__dirname, '../../../fixtures/reference-a');
const FIXTURES = [
  'gpt2/model.safetensors',
  'gpt2/adapter/adapter_model.safetensors',
  'vit/model.safetensors',
  'vit/adapter/adapter_model.safetensors',
  'dinov2/model.safetensors',
  'heads.safetensors',
  'cases.safetensors',
];

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'st-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Writes a raw file: u64 length + header text + data bytes. */
function rawFile(name: string, header: string, data: Uint8Array | number = 0, headerLen?: number): string {
  const h = Buffer.from(header, 'utf8');
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const buf = Buffer.alloc(8 + h.length + d.length);
  buf.writeBigUInt64LE(BigInt(headerLen ?? h.length), 0);
  h.copy(buf, 8);
  buf.set(d, 8 + h.length);
  const p = path.join(tmp, name);
  fs.writeFileSync(p, buf);
  return p;
}

describe('safetensors header', () => {
  it('parses the GPT-2 fixture header', () => {
    const h = readSafetensorsHeader(path.join(REF, 'gpt2/model.safetensors'));
    expect(h.metadata).toEqual({ format: 'pt' });
    expect(h.tensors.size).toBe(28);
    expect([...h.tensors.keys()].slice(0, 3)).toEqual(['wte.weight', 'wpe.weight', 'h.0.ln_1.weight']);
    const wte = h.tensors.get('wte.weight')!;
    expect(wte).toMatchObject({ dtype: 'F32', shape: [1000, 64], byteLength: 256000, dataOffsets: [0, 256000] });
    expect(h.dataStart).toBe(8 + 2544);
    expect(wte.byteOffset).toBe(h.dataStart);
    expect(h.tensors.get('wpe.weight')!.byteOffset).toBe(h.dataStart + 256000);
    expect(h.style).toEqual({ order: 'insertion', json: 'python', metadata: 'last', pad8: true });
  });

  it('reads tensors at the right offsets', () => {
    const file = path.join(REF, 'gpt2/model.safetensors');
    const h = readSafetensorsHeader(file);
    const e = h.tensors.get('h.1.ln_2.bias')!;
    const raw = fs.readFileSync(file);
    const expected = new Float32Array(raw.buffer.slice(raw.byteOffset + e.byteOffset, raw.byteOffset + e.byteOffset + e.byteLength));
    const t = readTensor(file, 'h.1.ln_2.bias');
    expect(t.dtype).toBe('F32');
    expect(t.shape).toEqual([64]);
    expect(Array.from(t.data as Float32Array)).toEqual(Array.from(expected));
    expect(readTensorF32(h, 'h.1.ln_2.bias')).toEqual(expected);
  });

  it('reads I64 as BigInt64Array and 0-d tensors', () => {
    const cases = path.join(REF, 'cases.safetensors');
    const ids = readTensor(cases, 'text.input_ids');
    expect(ids.data).toBeInstanceOf(BigInt64Array);
    expect(ids.shape).toEqual([3, 7]);
    const heads = readTensors(path.join(REF, 'heads.safetensors'));
    const ls = heads.get('logit_scale')!;
    expect(ls.shape).toEqual([]);
    expect(ls.data.length).toBe(1);
  });
});

describe('safetensors round trips', () => {
  for (const f of FIXTURES) {
    it(`rewrites ${f} byte for byte`, () => {
      const src = path.join(REF, f);
      const dst = path.join(tmp, f.replace(/\//g, '_'));
      rewriteSafetensors(src, dst);
      expect(Buffer.compare(fs.readFileSync(src), fs.readFileSync(dst))).toBe(0);
    });
  }

  it('writes the official layout: dtype descending (enum order) then name, metadata first, compact, padded', () => {
    const tensors: Record<string, TensorInput> = {
      z: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
      b: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) },
      a: { dtype: 'F32', shape: [1], data: new Float32Array([3]) },
      h: { dtype: 'BF16', shape: [1], data: new Uint16Array([0x3f80]) },
      f: { dtype: 'F16', shape: [1], data: new Uint16Array([0x3c00]) },
      i: { dtype: 'I64', shape: [1], data: new BigInt64Array([7n]) },
      d: { dtype: 'F64', shape: [1], data: new Float64Array([0.5]) },
    };
    expect(safetensorsOrder(Object.entries(tensors).map(([name, t]) => ({ name, dtype: t.dtype })))).toEqual([
      'i',
      'd',
      'a',
      'b',
      'h',
      'f',
      'z',
    ]);
    const bytes = safetensorsToBytes(tensors, { format: 'pt' });
    const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
    const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
    const expected =
      '{"__metadata__":{"format":"pt"},' +
      '"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},' +
      '"d":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},' +
      '"a":{"dtype":"F32","shape":[1],"data_offsets":[16,20]},' +
      '"b":{"dtype":"F32","shape":[2],"data_offsets":[20,28]},' +
      '"h":{"dtype":"BF16","shape":[1],"data_offsets":[28,30]},' +
      '"f":{"dtype":"F16","shape":[1],"data_offsets":[30,32]},' +
      '"z":{"dtype":"U8","shape":[3],"data_offsets":[32,35]}}';
    expect(text.trimEnd()).toBe(expected);
    expect(n % 8).toBe(0);
    expect(text.length - expected.length).toBe((8 - (expected.length % 8)) % 8);
    const file = path.join(tmp, 'official.safetensors');
    writeSafetensors(file, tensors, { format: 'pt' });
    expect(Buffer.compare(fs.readFileSync(file), Buffer.from(bytes))).toBe(0);
    const h = readSafetensorsHeader(file);
    expect(h.style).toEqual(SAFETENSORS_STYLE);
    const all = readTensors(file);
    expect(Array.from(all.get('b')!.data as Float32Array)).toEqual([1, 2]);
    expect(Array.from(all.get('i')!.data as BigInt64Array)).toEqual([7n]);
    expect(Array.from(all.get('z')!.data as Uint8Array)).toEqual([1, 2, 3]);
    expect(Array.from(all.get('d')!.data as Float64Array)).toEqual([0.5]);
    // no temporary files left behind
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('python json style escapes non-ASCII like json.dumps', () => {
    const bytes = safetensorsToBytes(
      { é: { dtype: 'U8', shape: [1], data: new Uint8Array([1]) } },
      { note: 'ü' },
      { order: 'insertion', json: 'python', metadata: 'last' },
    );
    const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
    expect(
      Buffer.from(bytes.subarray(8, 8 + n))
        .toString()
        .trimEnd(),
    ).toBe('{"\\u00e9": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "__metadata__": {"note": "\\u00fc"}}');
  });

  it('writes atomically (tmp + rename) and cleans up on failure', () => {
    const file = path.join(tmp, 'atomic.safetensors');
    writeSafetensors(file, { a: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
    const before = fs.readFileSync(file);
    expect(() => writeSafetensors(file, { a: { dtype: 'F32', shape: [2], data: new Float32Array([1]) } })).toThrow(/needs 8/);
    expect(Buffer.compare(fs.readFileSync(file), before)).toBe(0);
    expect(() =>
      writeSafetensors(path.join(tmp, 'no-such-dir', 'x.safetensors'), {
        a: { dtype: 'F32', shape: [1], data: new Float32Array([1]) },
      }),
    ).toThrow();
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('safetensors validation', () => {
  const ok = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const expectErr = (p: string, re: RegExp, tensor?: string) => {
    let err: unknown;
    try {
      readSafetensorsHeader(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SafetensorsError);
    const e = err as SafetensorsError;
    expect(e.message).toMatch(re);
    expect(e.message).toContain(p);
    if (tensor) expect(e.message).toContain(`"${tensor}"`);
  };

  it('accepts a valid minimal file', () => {
    expect(readSafetensorsHeader(rawFile('ok.st', ok, 8)).tensors.get('a')!.byteOffset).toBe(8 + ok.length);
  });
  it('too small', () => {
    const p = path.join(tmp, 'tiny.st');
    fs.writeFileSync(p, Buffer.from([1, 2, 3]));
    expectErr(p, /too small/);
  });
  it('header length beyond the file', () => expectErr(rawFile('hlen.st', ok, 8, 10_000), /header length 10000 runs past the end/));
  it('header length over the limit', () => expectErr(rawFile('hbig.st', ok, 8, 200_000_000), /limit/));
  it('invalid JSON', () => expectErr(rawFile('json.st', '{"a":{"dtype":"F32",', 0), /not valid JSON/));
  it('not an object', () => expectErr(rawFile('arr.st', '[1,2]', 0), /does not start with/));
  it('duplicate key', () =>
    expectErr(
      rawFile('dup.st', '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', 2),
      /duplicate key "a"/,
    ));
  it('unknown dtype', () =>
    expectErr(
      rawFile('dt.st', '{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}', 16),
      /unknown or unsupported dtype "F128"/,
      'a',
    ));
  it('byte length != numel * dtype size', () =>
    expectErr(
      rawFile('len.st', '{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', 8),
      /byte length 8 does not match shape \[3\]/,
      'a',
    ));
  it('offsets out of order', () =>
    expectErr(rawFile('ord.st', '{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}', 8), /out of order/, 'a'));
  it('overlapping offsets', () =>
    expectErr(
      rawFile('ovl.st', '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 12),
      /overlap tensor "a"/,
      'b',
    ));
  it('gap between tensors', () =>
    expectErr(
      rawFile('gap.st', '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', 12),
      /gap/,
      'b',
    ));
  it('offsets out of range (truncated file)', () => expectErr(rawFile('trunc.st', ok, 6), /run past the end of the data.*truncated/, 'a'));
  it('trailing bytes', () => expectErr(rawFile('trail.st', ok, 12), /trailing bytes/));
  it('bad shape', () => expectErr(rawFile('shape.st', '{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}', 0), /shape/, 'a'));
  it('bad metadata', () =>
    expectErr(rawFile('meta.st', '{"__metadata__":{"x":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 8), /__metadata__/));
  it('missing tensor on read', () => {
    const p = rawFile('ok2.st', ok, 8);
    expect(() => readTensor(p, 'nope')).toThrow(/"nope".*no such tensor/);
  });
  it('file truncated after the header was read', () => {
    const p = rawFile('later.st', ok, 8);
    const h = readSafetensorsHeader(p);
    fs.truncateSync(p, 8 + ok.length + 4);
    expect(() => readTensor(h, 'a')).toThrow(/truncated/);
  });
});

describe('half precision', () => {
  it('bf16 -> f32 is exact and f32 -> bf16 rounds to nearest even', () => {
    expect(Array.from(bf16ToF32(new Uint16Array([0x3f80, 0xc000, 0x0000, 0x8000, 0x7f80, 0x3e80])))).toEqual([
      1,
      -2,
      0,
      -0,
      Infinity,
      0.25,
    ]);
    expect(Number.isNaN(bf16ToF32(new Uint16Array([0x7fc0]))[0])).toBe(true);
    // 1 + 2^-8 is exactly halfway between bf16 1 and 1+2^-7: ties to even -> 1
    // 1 + 3*2^-8 is halfway between 1+2^-7 and 1+2^-6: ties to even -> 1+2^-6
    const x = new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, Math.PI]);
    expect(Array.from(f32ToBf16(x))).toEqual([0x3f80, 0x3f82, 0x3f81, 0x4049]);
    // every bf16 value round-trips
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ToBf16(bf16ToF32(all));
    for (let i = 0; i < 65536; i++) {
      const isNan = (i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0;
      if (!isNan) expect(back[i]).toBe(i);
    }
  });

  it('f16 <-> f32 round-trips every half value', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x7bff)).toBe(65504);
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = f16ToF32(all);
    const back = f32ToF16(f);
    let bad = 0;
    for (let i = 0; i < 65536; i++) {
      const isNan = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (isNan) {
        if (!Number.isNaN(f[i])) bad++;
      } else if (back[i] !== i) bad++;
    }
    expect(bad).toBe(0);
    expect(Array.from(f32ToF16(new Float32Array([65520, 1e-8, 1 + 2 ** -11])))).toEqual([0x7c00, 0, 0x3c00]);
  });
});
