// Edge files from the field (issue #16 item 9), each made here with dcmtk, GDCM or pydicom and
// checked against an independent decoder (dcmdjpeg) or the values the file was made from:
// JPEG colour space from the stream's markers, JPEG labelled with the wrong Photometric
// Interpretation, implicit VR datasets under an explicit VR transfer syntax, JPEG 2000 fragments
// holding delimiter bytes and corrupt SIZ markers, unsigned 32-bit RLE, YBR_FULL_422 labels on
// full-size native data.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DecodedFrame, decodeFrame, openDicomFile } from '../../../src/main/dicom/decode';
import { encapsulatedFrame } from '../../../src/main/dicom/frames';
import { readDicomHeader } from '../../../src/main/dicom/header';
import { requireTools, sourceValues, writeSource, type SourceSpec } from './corpus';

requireTools();
// pydicom (Debian python3-pydicom) writes the implicit-VR-under-explicit-syntax file: no dcmtk or GDCM tool will.
const PYTHON = '/usr/bin/python3';
if (spawnSync(PYTHON, ['-c', 'import pydicom']).status !== 0)
  throw new Error('DICOM edge-file tests need pydicom: apt-get install -y python3-pydicom');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-edge-files-'));
const run = (cmd: string, args: string[]): void => void execFileSync(cmd, args, { cwd: dir, stdio: 'pipe' });

const RGB: SourceSpec = { name: 'rgb', rows: 24, columns: 32, frames: 1, samples: 3, bitsAllocated: 8, bitsStored: 8, signed: false };
const source = writeSource(dir, RGB);

async function decode(file: string): Promise<DecodedFrame> {
  return decodeFrame(await openDicomFile(file), 0);
}

/** Frame 0's codestream bytes (single-fragment files). */
async function codestream(file: string): Promise<Uint8Array> {
  const img = await openDicomFile(file);
  return encapsulatedFrame(img.dataSet, img.frameFragments!, 0).slice();
}

/** Wraps a JPEG stream in a DICOM file with dcmtk's img2dcm (APPn kept), then sets the Photometric Interpretation. */
function wrapJpeg(name: string, jpeg: Uint8Array, photometric: string): string {
  const jpg = path.join(dir, `${name}.jpg`);
  const dcm = path.join(dir, `${name}.dcm`);
  fs.writeFileSync(jpg, jpeg);
  run('img2dcm', ['-ka', jpg, dcm]);
  run('dcmodify', ['-nb', '-m', `(0028,0004)=${photometric}`, dcm]);
  return dcm;
}

interface Segment {
  marker: number;
  start: number;
  end: number;
}

/** Marker segments before the first scan's entropy-coded data. */
function segments(b: Uint8Array): Segment[] {
  const out: Segment[] = [];
  let i = 2;
  for (;;) {
    const marker = b[i + 1]!;
    const end = i + 2 + ((b[i + 2]! << 8) | b[i + 3]!);
    out.push({ marker, start: i, end });
    if (marker === 0xda) return out;
    i = end;
  }
}

/** The stream without its Adobe APP14 segment. */
function withoutAdobe(b: Uint8Array): Uint8Array {
  const app14 = segments(b).find((s) => s.marker === 0xee)!;
  return Buffer.concat([b.subarray(0, app14.start), b.subarray(app14.end)]);
}

/** Renames the three components (SOF and SOS), e.g. to 0,1,2 as some writers do. */
function withComponentIds(b: Uint8Array, ids: number[]): Uint8Array {
  const out = b.slice();
  const segs = segments(out);
  const sof = segs.find((s) => s.marker === 0xc0)!;
  const sos = segs.find((s) => s.marker === 0xda)!;
  for (let k = 0; k < 3; k++) {
    out[sof.start + 10 + 3 * k] = ids[k]!;
    out[sos.start + 5 + 2 * k] = ids[k]!;
  }
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('JPEG colour space from the stream markers (libjpeg rules, header when the stream is silent)', () => {
  // dcmcjpeg +cr compresses the RGB samples without a colour transform and marks the stream with an
  // Adobe APP14 transform=0 segment and component ids 'R','G','B'.
  const rgbJpeg = path.join(dir, 'rgb-cr.dcm');
  run('dcmcjpeg', ['+eb', '+cr', '+q', '95', source, rgbJpeg]);
  const reference = path.join(dir, 'rgb-cr-dcmdjpeg.dcm');
  run('dcmdjpeg', [rgbJpeg, reference]);

  it('dcmcjpeg +cr (APP14 transform 0, ids R,G,B) matches dcmdjpeg exactly', async () => {
    const [ours, ref] = await Promise.all([decode(rgbJpeg), decode(reference)]);
    expect(ours.photometric).toBe('RGB');
    expect(maxDiff(ours.data, ref.data)).toBe(0);
    expect(ours.warnings).toBeUndefined();
  });

  it('APP14 transform 0 with component ids 0,1,2 is RGB, not YCbCr', async () => {
    const stream = withComponentIds(await codestream(rgbJpeg), [0, 1, 2]);
    const file = wrapJpeg('app14-ids012', stream, 'RGB');
    expect(maxDiff((await decode(file)).data, (await decode(reference)).data)).toBe(0);
  });

  it('no JFIF, no APP14, ids 0,1,2 and Photometric Interpretation RGB: not colour converted (as GDCM)', async () => {
    const stream = withComponentIds(withoutAdobe(await codestream(rgbJpeg)), [0, 1, 2]);
    const file = wrapJpeg('silent-ids012', stream, 'RGB');
    const ours = await decode(file);
    // GDCM reads the same file the same way.
    const viaGdcm = path.join(dir, 'silent-ids012-gdcm.dcm');
    run('gdcmconv', ['--raw', file, viaGdcm]);
    expect(maxDiff(ours.data, (await decode(viaGdcm)).data)).toBe(0);
    expect(maxDiff(ours.data, (await decode(reference)).data)).toBe(0);
    expect(ours.warnings).toBeUndefined();
  });

  it('an RGB stream (APP14 transform 0) labelled YBR_FULL is not converted, with a warning', async () => {
    const mislabelled = path.join(dir, 'rgb-says-ybr.dcm');
    fs.copyFileSync(rgbJpeg, mislabelled);
    run('dcmodify', ['-nb', '-m', '(0028,0004)=YBR_FULL', mislabelled]);
    const ours = await decode(mislabelled);
    expect(ours.photometric).toBe('RGB');
    expect(maxDiff(ours.data, (await decode(reference)).data)).toBe(0);
    expect(ours.warnings).toEqual([expect.stringMatching(/says YBR_FULL but the JPEG stream is RGB \(an Adobe marker with transform 0\)/)]);
  });

  it('a YCbCr stream (JFIF) labelled RGB is converted to RGB, with a warning', async () => {
    const ybrJpeg = path.join(dir, 'ybr.dcm');
    run('dcmcjpeg', ['+eb', '+q', '95', source, ybrJpeg]); // YCbCr 4:2:2, JFIF, YBR_FULL_422
    const mislabelled = path.join(dir, 'ybr-says-rgb.dcm');
    fs.copyFileSync(ybrJpeg, mislabelled);
    run('dcmodify', ['-nb', '-m', '(0028,0004)=RGB', mislabelled]);
    const ours = await decode(mislabelled);
    expect(ours.photometric).toBe('RGB');
    expect(maxDiff(ours.data, (await decode(ybrJpeg)).data)).toBe(0);
    expect(ours.warnings).toEqual([expect.stringMatching(/says RGB but the JPEG stream is YCbCr \(a JFIF marker\)/)]);
    // dcmdjpeg (IJG libjpeg: same islow IDCT, fancy upsampling and YCbCr->RGB tables) agrees exactly.
    const dcmtk = path.join(dir, 'ybr-dcmdjpeg.dcm');
    run('dcmdjpeg', [ybrJpeg, dcmtk]);
    expect(maxDiff(ours.data, (await decode(dcmtk)).data)).toBe(0);
  });
});

describe('12-bit DCT JPEG (our decoder)', () => {
  it("uses libjpeg's integer IDCT: the same samples as dcmdjpeg", async () => {
    const u12: SourceSpec = { name: 'u12', rows: 40, columns: 36, frames: 1, samples: 1, bitsAllocated: 16, bitsStored: 12, signed: false };
    const src = writeSource(dir, u12);
    const jpeg = path.join(dir, 'u12-extended.dcm');
    run('dcmcjpeg', ['+ee', '+q', '80', src, jpeg]);
    const ref = path.join(dir, 'u12-dcmdjpeg.dcm');
    run('dcmdjpeg', [jpeg, ref]);
    const ours = await decode(jpeg);
    expect(maxDiff(ours.data, (await decode(ref)).data)).toBe(0);
    expect(maxDiff(ours.data, sourceValues(u12))).toBeGreaterThan(0); // lossy indeed
  });
});

describe('implicit VR dataset under an explicit VR transfer syntax', () => {
  it('is read as implicit VR (as GDCM and pydicom do), pixels equal to the well-formed file', async () => {
    const jpeg = path.join(dir, 'explicit-jpeg.dcm');
    run('dcmcjpeg', ['+eb', '+q', '90', source, jpeg]);
    const implicit = path.join(dir, 'implicit-jpeg.dcm');
    // pydicom writes the dataset as implicit VR but keeps the meta header's JPEG transfer syntax.
    execFileSync(PYTHON, [
      '-W',
      'ignore',
      '-c',
      [
        'import sys, pydicom',
        'ds = pydicom.dcmread(sys.argv[1])',
        'ds.is_implicit_VR = True',
        'ds.save_as(sys.argv[2], write_like_original=True)',
      ].join('\n'),
      jpeg,
      implicit,
    ]);
    const bytes = fs.readFileSync(implicit);
    const metaEnd = 132 + 12 + bytes.readUInt32LE(140);
    expect(bytes.subarray(metaEnd + 4, metaEnd + 6).toString('latin1')).not.toMatch(/^[A-Z]{2}$/); // no VR: implicit
    // The header-only read (import, `cleft dicom info`) takes the same path.
    const h = await readDicomHeader(implicit);
    expect([h.rows, h.columns, h.photometricInterpretation]).toEqual([RGB.rows, RGB.columns, 'YBR_FULL_422']);
    const img = await openDicomFile(implicit);
    expect(img.header.transferSyntaxUID).toBe('1.2.840.10008.1.2.4.50');
    expect(img.header.rows).toBe(RGB.rows);
    const fr = await decodeFrame(img, 0);
    expect(maxDiff(fr.data, (await decode(jpeg)).data)).toBe(0);
    expect(fr.warnings?.[0]).toMatch(/implicit VR although transfer syntax 1\.2\.840\.10008\.1\.2\.4\.50 is explicit VR/);
  });
});

describe('encapsulated pixel data without its sequence delimiter', () => {
  it('the file ending right after the last fragment decodes (as GDCM and pydicom read it)', async () => {
    const jpeg = path.join(dir, 'with-delimiter.dcm');
    run('dcmcjpeg', ['+eb', '+q', '90', source, jpeg]);
    const bytes = fs.readFileSync(jpeg);
    expect(Array.from(bytes.subarray(-8))).toEqual([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
    const cut = path.join(dir, 'without-delimiter.dcm');
    fs.writeFileSync(cut, bytes.subarray(0, -8));
    expect(maxDiff((await decode(cut)).data, (await decode(jpeg)).data)).toBe(0);
  });
});

describe('JPEG 2000 fragments', () => {
  const mono: SourceSpec = { name: 'u16', rows: 32, columns: 30, frames: 1, samples: 1, bitsAllocated: 16, bitsStored: 16, signed: false };
  const src = writeSource(dir, mono);
  const j2k = path.join(dir, 'u16-j2k.dcm');
  run('gdcmconv', ['--j2k', src, j2k]);

  /** The file with frame 0's single fragment replaced (its item length rewritten). */
  async function withFragment(name: string, f: (cs: Uint8Array) => Uint8Array): Promise<string> {
    const img = await openDicomFile(j2k);
    const frag = img.frameFragments![0]![0]!;
    const bytes = fs.readFileSync(j2k);
    const cs = f(bytes.subarray(frag.position, frag.position + frag.length));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(cs.length + (cs.length % 2));
    const out = Buffer.concat([
      bytes.subarray(0, frag.position - 4),
      len,
      cs,
      Buffer.alloc(cs.length % 2),
      bytes.subarray(frag.position + frag.length),
    ]);
    const file = path.join(dir, `${name}.dcm`);
    fs.writeFileSync(file, out);
    return file;
  }

  it('a codestream holding the bytes of a sequence delimiter decodes (fragments are read by item length)', async () => {
    // A COM marker after SIZ carrying FFFE,E0DD 00000000: a delimiter scan would cut the fragment here.
    const file = await withFragment('j2k-delimiter-bytes', (cs) => {
      const sizEnd = 4 + ((cs[4]! << 8) | cs[5]!);
      const payload = [0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0];
      const com = [0xff, 0x64, 0x00, 4 + payload.length, 0x00, 0x00, ...payload];
      return Buffer.concat([cs.subarray(0, sizEnd), Buffer.from(com), cs.subarray(sizEnd)]);
    });
    const fr = await decode(file);
    expect(Array.from(fr.data)).toEqual(Array.from(sourceValues(mono)));
  });

  it('a corrupt SIZ (delimiter bytes written over Rsiz/Xsiz) is refused with the reason', async () => {
    const file = await withFragment('j2k-corrupt-siz', (cs) => {
      const out = cs.slice();
      out.set([0xfe, 0xff, 0xdd, 0xe0], 6); // as pydicom's JPEG2000-embedded-sequence-delimiter.dcm
      return out;
    });
    await expect(decode(file)).rejects.toThrow(/j2k-corrupt-siz\.dcm: corrupt: the JPEG 2000 stream is \d+x32, the header says 30x32/);
  });
});

describe('unsigned 32-bit pixel data', () => {
  const values = [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 123456789, 4000000000, 42, 7, 0x12345678, 0xdeadbeef];
  const raw = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => raw.writeUInt32LE(v, i * 4));
  fs.writeFileSync(path.join(dir, 'u32.raw'), raw);
  fs.writeFileSync(
    path.join(dir, 'u32.dump'),
    [
      '(0002,0010) UI =LittleEndianExplicit',
      '(0008,0016) UI =SecondaryCaptureImageStorage',
      '(0008,0018) UI [1.2.826.0.1.3680043.9.7777.32]',
      '(0028,0002) US 1',
      '(0028,0004) CS [MONOCHROME2]',
      '(0028,0010) US 3',
      '(0028,0011) US 4',
      '(0028,0100) US 32',
      '(0028,0101) US 32',
      '(0028,0102) US 31',
      '(0028,0103) US 0',
      '(7fe0,0010) OW =u32.raw',
    ].join('\n') + '\n',
  );
  run('dump2dcm', ['+te', 'u32.dump', 'u32.dcm']);
  const native = path.join(dir, 'u32.dcm');

  for (const [label, make] of [
    ['native', (): string => native],
    [
      'RLE (dcmcrle)',
      (): string => {
        run('dcmcrle', [native, 'u32-rle.dcm']);
        return path.join(dir, 'u32-rle.dcm');
      },
    ],
    [
      'RLE (gdcmconv)',
      (): string => {
        run('gdcmconv', ['--rle', native, 'u32-gdcm-rle.dcm']);
        return path.join(dir, 'u32-gdcm-rle.dcm');
      },
    ],
  ] as const) {
    it(`${label}: 0xFFFFFFFF stays 4294967295 (Uint32 output)`, async () => {
      const fr = await decode(make());
      expect(fr.data).toBeInstanceOf(Uint32Array);
      expect(Array.from(fr.data)).toEqual(values);
    });
  }
});

describe('YBR_FULL_422 label on full-size native data', () => {
  it('is read as YBR_FULL (three samples per pixel, as GDCM and pydicom do), with a warning', async () => {
    const jpeg = path.join(dir, 'for-ybr.dcm');
    run('dcmcjpeg', ['+eb', '+q', '95', source, jpeg]);
    const ybrFull = path.join(dir, 'ybr-full.dcm');
    run('dcmdjpeg', ['+cn', jpeg, ybrFull]); // native YCbCr, full size, YBR_FULL
    const labelled422 = path.join(dir, 'ybr-full-says-422.dcm');
    fs.copyFileSync(ybrFull, labelled422);
    run('dcmodify', ['-nb', '-m', '(0028,0004)=YBR_FULL_422', labelled422]);
    const [ours, ref] = await Promise.all([decode(labelled422), decode(ybrFull)]);
    expect(ours.photometric).toBe('RGB');
    expect(maxDiff(ours.data, ref.data)).toBe(0);
    expect(ours.warnings?.[0]).toMatch(
      /says YBR_FULL_422 but the pixel data holds 2304 bytes, three full samples per pixel: read as YBR_FULL/,
    );
  });
});

describe("public examples: pydicom's test files (Debian python3-pydicom)", () => {
  const files = execFileSync(PYTHON, ['-c', 'import os, pydicom.data; print(os.path.dirname(pydicom.data.__file__))'], {
    encoding: 'utf8',
  }).trim();
  const pub = (name: string): string => {
    const file = path.join(files, 'test_files', `${name}.dcm`);
    if (!fs.existsSync(file)) throw new Error(`${file} missing: python3-pydicom ships it since 2.2`);
    return file;
  };
  /** GDCM's decompression of `file` (gdcmconv --raw), decoded: the independent reference. */
  async function viaGdcm(file: string): Promise<DecodedFrame> {
    const out = path.join(dir, `gdcm-${path.basename(file)}`);
    run('gdcmconv', ['--raw', file, out]);
    return decode(out);
  }
  /** Sample rows of the SC_rgb test pattern (ten bands of 10 rows), column 50. */
  const bands = (fr: DecodedFrame): number[][] =>
    [5, 15, 25, 35, 45, 55, 65, 75, 85, 95].map((y) => Array.from(fr.data.slice((y * 100 + 50) * 3, (y * 100 + 50) * 3 + 3)));

  it('SC_jpeg_no_color_transform (no JFIF/Adobe, ids 0,1,2, RGB) equals GDCM', async () => {
    const file = pub('SC_jpeg_no_color_transform');
    expect(maxDiff((await decode(file)).data, (await viaGdcm(file)).data)).toBe(0);
  });

  it('SC_rgb_jpeg (implicit VR dataset, JPEG baseline syntax) equals GDCM, with a warning', async () => {
    const file = pub('SC_rgb_jpeg');
    const fr = await decode(file);
    expect(maxDiff(fr.data, (await viaGdcm(file)).data)).toBe(0);
    expect(fr.warnings?.[0]).toMatch(/implicit VR/);
  });

  it('JPEG2000-embedded-sequence-delimiter: its fragment is read whole; the codestream it corrupts is refused', async () => {
    const img = await openDicomFile(pub('JPEG2000-embedded-sequence-delimiter'));
    const intact = await openDicomFile(pub('JPEG2000'));
    expect(img.frameFragments![0]!.map((f) => f.length)).toEqual(intact.frameFragments![0]!.map((f) => f.length));
    await expect(decodeFrame(img, 0)).rejects.toThrow(/corrupt: the JPEG 2000 stream is \d{10}x1024, the header says 256x1024/);
    expect(maxDiff((await decodeFrame(intact, 0)).data, (await viaGdcm(pub('JPEG2000'))).data)).toBe(0);
  });

  it("SC_rgb_rle_32bit: pydicom's expected unsigned 32-bit values", async () => {
    const fr = await decode(pub('SC_rgb_rle_32bit'));
    const [f, h, q, t] = [0xffffffff, 0x80808080, 0x40404040, 0xc0c0c0c0];
    expect(bands(fr)).toEqual([
      [f, 0, 0],
      [f, h, h],
      [0, f, 0],
      [h, f, h],
      [0, 0, f],
      [h, h, f],
      [0, 0, 0],
      [q, q, q],
      [t, t, t],
      [f, f, f],
    ]);
  });

  it('SC_ybr_full_422_uncompressed: expanded and converted, the RGB pattern of SC_rgb_rle', async () => {
    const fr = await decode(pub('SC_ybr_full_422_uncompressed'));
    expect(fr.photometric).toBe('RGB');
    // The pattern went through 8-bit YCbCr (subsampled) and back: within 6 of the RGB original.
    expect(maxDiff(fr.data, (await decode(pub('SC_rgb_rle'))).data)).toBeLessThanOrEqual(6);
  });

  it('SC_rgb_jpeg_lossy_gdcm (YCbCr stream labelled RGB): the RGB pattern, with a warning', async () => {
    const fr = await decode(pub('SC_rgb_jpeg_lossy_gdcm'));
    const ref = bands(await decode(pub('SC_rgb_rle')));
    bands(fr).forEach((px, i) => px.forEach((v, k) => expect(Math.abs(v - ref[i]![k]!)).toBeLessThanOrEqual(2)));
    expect(fr.warnings).toEqual([expect.stringMatching(/says RGB but the JPEG stream is YCbCr \(component ids 1, 2, 3\)/)]);
  });
});
