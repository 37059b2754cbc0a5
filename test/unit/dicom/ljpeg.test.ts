// Our JPEG lossless (process 14) decoder against dcmtk's encoder: every predictor, point
// transform, 8/12/16-bit, signed data, colour above 8 bits (which jpeg-lossless-decoder-js refuses),
// and agreement with jpeg-lossless-decoder-js sample for sample. Corrupt streams fail cleanly.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeFrame, openDicomFile } from '../../../src/main/dicom/decode';
import { encapsulatedFrame } from '../../../src/main/dicom/frames';
import { decodeLjpeg } from '../../../src/main/dicom/codecs/ljpeg';
import { decodeWithLibrary } from '../../../src/main/dicom/codecs/jpeg-lossless';
import { type SourceSpec, requireTools, sourceValues, writeSource } from './corpus';

requireTools();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-ljpeg-'));

const SOURCES: SourceSpec[] = [
  { name: 'u12', rows: 61, columns: 47, frames: 1, samples: 1, bitsAllocated: 16, bitsStored: 12, signed: false },
  { name: 'u16', rows: 33, columns: 30, frames: 1, samples: 1, bitsAllocated: 16, bitsStored: 16, signed: false },
  { name: 'u8', rows: 40, columns: 33, frames: 1, samples: 1, bitsAllocated: 8, bitsStored: 8, signed: false },
  { name: 'rgb16', rows: 20, columns: 19, frames: 1, samples: 3, bitsAllocated: 16, bitsStored: 12, signed: false },
];

function convert(src: string, name: string, args: string[]): string {
  const dst = path.join(path.dirname(src), `${name}.dcm`);
  const r = spawnSync('dcmcjpeg', [...args, src, dst], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dcmcjpeg ${args.join(' ')}: ${r.stderr}`);
  return dst;
}

/**
 * A minimal SV1 encoder for what no Debian tool writes: restart intervals (DRI + RSTn). One
 * component, predictor 1, a fixed Huffman table over all 17 difference categories.
 */
function encodeSv1WithRestarts(px: Uint16Array, width: number, height: number, precision: number, rowsPerInterval: number): Uint8Array {
  const lengths: number[] = [0, 1, 3, 4, 2, 2, 2, 3]; // codes of length 1..8 (Kraft sum < 1)
  const codes = new Map<number, { code: number; len: number }>();
  let code = 0;
  let sym = 0;
  for (let len = 1; len <= 8; len++) {
    for (let i = 0; i < lengths[len - 1]!; i++) codes.set(sym++, { code: code++, len });
    code <<= 1;
  }
  const out: number[] = [];
  const seg = (marker: number, body: number[]): void =>
    void out.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 255, ...body);
  out.push(0xff, 0xd8);
  seg(0xc3, [precision, height >> 8, height & 255, width >> 8, width & 255, 1, 1, 0x11, 0]);
  seg(0xc4, [0x00, ...lengths, 0, 0, 0, 0, 0, 0, 0, 0, ...Array.from({ length: 17 }, (_, i) => i)]);
  const ri = rowsPerInterval * width;
  seg(0xdd, [ri >> 8, ri & 255]);
  seg(0xda, [1, 1, 0x00, 1, 0, 0]);
  let acc = 0;
  let nbits = 0;
  const put = (v: number, n: number): void => {
    for (let b = n - 1; b >= 0; b--) {
      acc = (acc << 1) | ((v >> b) & 1);
      if (++nbits === 8) {
        out.push(acc);
        if (acc === 0xff) out.push(0);
        acc = 0;
        nbits = 0;
      }
    }
  };
  let rst = 0;
  for (let y = 0; y < height; y++) {
    const first = y % rowsPerInterval === 0;
    if (first && y > 0) {
      if (nbits) put(0xff, 8 - nbits); // pad with ones
      out.push(0xff, 0xd0 + (rst++ & 7));
    }
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const pred = first ? (x === 0 ? 1 << (precision - 1) : px[i - 1]!) : x === 0 ? px[i - width]! : px[i - 1]!;
      let diff = (px[i]! - pred) & 0xffff;
      if (diff >= 0x8000) diff -= 0x10000;
      const ssss = diff === 0 ? 0 : diff === -32768 ? 16 : 32 - Math.clz32(Math.abs(diff));
      const c = codes.get(ssss)!;
      put(c.code, c.len);
      if (ssss > 0 && ssss < 16) put(diff < 0 ? diff + (1 << ssss) - 1 : diff, ssss);
    }
  }
  if (nbits) put(0xff, 8 - nbits);
  out.push(0xff, 0xd9);
  return Uint8Array.from(out);
}

describe('JPEG lossless decoder (ours)', () => {
  it('restart intervals (our minimal encoder; jpeg-lossless-decoder-js agrees)', () => {
    const s = SOURCES[0]!;
    const px = Uint16Array.from(sourceValues(s));
    for (const rows of [1, 4, 7]) {
      const stream = encodeSv1WithRestarts(px, s.columns, s.rows, 12, rows);
      const ours = decodeLjpeg(stream, true);
      expect(Array.from(ours.data)).toEqual(Array.from(px));
      expect(Array.from(decodeWithLibrary(stream, true).data)).toEqual(Array.from(px));
    }
    // Cut inside an interval: an error, not garbage.
    const stream = encodeSv1WithRestarts(px, s.columns, s.rows, 12, 4);
    expect(() => decodeLjpeg(stream.subarray(0, stream.length >> 1), true)).toThrow(/JPEG lossless/);
  });

  for (const s of SOURCES) {
    const src = writeSource(dir, s);
    const expected = sourceValues(s);
    const variants: [string, string[], number][] = [['sv1', ['+e1'], 0]];
    for (let sv = 1; sv <= 7; sv++) variants.push([`p${sv}`, ['+el', '+sv', String(sv)], 0]);
    variants.push(['sv1-pt2', ['+el', '+sv', '1', '+pt', '2'], 2], ['p7-pt3', ['+el', '+sv', '7', '+pt', '3'], 3]);
    for (const [name, args, pt] of variants) {
      it(`${s.name} ${name}`, async () => {
        const file = convert(src, name, args);
        const img = await openDicomFile(file);
        const fr = await decodeFrame(img, 0);
        expect([fr.rows, fr.columns, fr.samples]).toEqual([s.rows, s.columns, s.samples]);
        const want = pt ? expected.map((v) => (v >> pt) << pt) : expected;
        expect(Array.from(fr.data)).toEqual(Array.from(want));
        // The same samples as jpeg-lossless-decoder-js where that one handles the stream (it does
        // not undo the point transform, nor decode colour above 8 bits).
        const bytes = encapsulatedFrame(img.dataSet, img.frameFragments!, 0);
        const ours = decodeLjpeg(bytes, s.bitsAllocated > 8);
        if (s.samples === 1 && pt === 0)
          expect(Array.from(ours.data)).toEqual(Array.from(decodeWithLibrary(bytes, s.bitsAllocated > 8).data));
      });
    }
  }

  it('fails cleanly on truncated and corrupted streams', async () => {
    const file = convert(writeSource(dir, { ...SOURCES[0]!, name: 'cut' }), 'sv1', ['+e1']);
    const img = await openDicomFile(file);
    const bytes = encapsulatedFrame(img.dataSet, img.frameFragments!, 0);
    expect(() => decodeLjpeg(bytes.subarray(0, bytes.length >> 1), true)).toThrow(/truncated|invalid/);
    expect(() => decodeLjpeg(bytes.subarray(0, 40), true)).toThrow(/JPEG lossless/);
    let seed = 7;
    for (let k = 0; k < 50; k++) {
      const c = Uint8Array.from(bytes);
      for (let j = 0; j < 4; j++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        c[seed % c.length] ^= 1 << (seed & 7);
      }
      try {
        decodeLjpeg(c, true);
      } catch (err) {
        expect((err as Error).message).toMatch(/JPEG/);
      }
    }
  });
});
