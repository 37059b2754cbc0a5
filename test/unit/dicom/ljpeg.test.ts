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

describe('JPEG lossless decoder (ours)', () => {
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
