// Test corpus built at test time with tools that are not ours: sources are written by dcmtk's
// dump2dcm from raw pixel bytes we generate (so the expected values are known exactly, without
// trusting our own writer), then converted to every transfer syntax by dcmtk and GDCM.
// Debian packages: dcmtk, libgdcm-tools. Missing tools fail loudly: CI installs them.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const REQUIRED_TOOLS = ['dump2dcm', 'dcmconv', 'dcmcrle', 'dcmcjpeg', 'dcmcjpls', 'dcmmkdir', 'gdcmconv'] as const;

export function requireTools(): void {
  const missing = REQUIRED_TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  if (missing.length) {
    throw new Error(`DICOM corpus tests need ${missing.join(', ')}: apt-get install -y dcmtk libgdcm-tools`);
  }
}

export interface SourceSpec {
  name: string;
  rows: number;
  columns: number;
  frames: number;
  samples: 1 | 3;
  bitsAllocated: 8 | 16;
  bitsStored: number;
  signed: boolean;
  planar?: 0 | 1;
}

export const SOURCES: SourceSpec[] = [
  { name: 'u8', rows: 40, columns: 33, frames: 1, samples: 1, bitsAllocated: 8, bitsStored: 8, signed: false },
  { name: 'u12', rows: 64, columns: 47, frames: 1, samples: 1, bitsAllocated: 16, bitsStored: 12, signed: false },
  { name: 'u16', rows: 32, columns: 30, frames: 1, samples: 1, bitsAllocated: 16, bitsStored: 16, signed: false },
  { name: 's16', rows: 32, columns: 30, frames: 1, samples: 1, bitsAllocated: 16, bitsStored: 16, signed: true },
  { name: 's12', rows: 32, columns: 31, frames: 1, samples: 1, bitsAllocated: 16, bitsStored: 12, signed: true },
  { name: 'u12x3', rows: 24, columns: 20, frames: 3, samples: 1, bitsAllocated: 16, bitsStored: 12, signed: false },
  { name: 'rgb8', rows: 24, columns: 27, frames: 1, samples: 3, bitsAllocated: 8, bitsStored: 8, signed: false },
  { name: 'rgb8p', rows: 24, columns: 27, frames: 1, samples: 3, bitsAllocated: 8, bitsStored: 8, signed: false, planar: 1 },
  { name: 'rgb8x2', rows: 16, columns: 18, frames: 2, samples: 3, bitsAllocated: 8, bitsStored: 8, signed: false },
];

/** Deterministic smooth-plus-noise values that use the full stored range (incl. negatives). */
export function sourceValues(s: SourceSpec): Int32Array {
  const n = s.rows * s.columns * s.samples * s.frames;
  const out = new Int32Array(n);
  const max = 2 ** s.bitsStored - 1;
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24;
  for (let f = 0; f < s.frames; f++)
    for (let y = 0; y < s.rows; y++)
      for (let x = 0; x < s.columns; x++)
        for (let c = 0; c < s.samples; c++) {
          const smooth = (x / s.columns + y / s.rows + c * 0.3 + f * 0.2) / 2.6;
          let v = Math.round((smooth * 0.8 + rnd() * 0.2) * max);
          if (x === 0 && y === 0) v = max; // extremes exercise masking and sign
          if (x === 1 && y === 0) v = 0;
          v = Math.min(max, Math.max(0, v));
          if (s.signed) v -= 2 ** (s.bitsStored - 1);
          out[((f * s.rows + y) * s.columns + x) * s.samples + c] = v;
        }
  return out;
}

/** Interleaved expected values -> raw little-endian bytes as stored (planar if asked). */
function rawBytes(s: SourceSpec, v: Int32Array): Buffer {
  const per = s.rows * s.columns;
  const bps = s.bitsAllocated / 8;
  const buf = Buffer.alloc(v.length * bps);
  for (let f = 0; f < s.frames; f++)
    for (let p = 0; p < per; p++)
      for (let c = 0; c < s.samples; c++) {
        const src = (f * per + p) * s.samples + c;
        const dst = s.planar ? f * per * s.samples + c * per + p : src;
        if (bps === 1) buf[dst] = v[src]! & 0xff;
        else buf.writeUInt16LE(v[src]! & 0xffff, dst * 2);
      }
  return buf;
}

function dump(s: SourceSpec): string {
  const lines = [
    '(0002,0010) UI =LittleEndianExplicit',
    '(0008,0016) UI =SecondaryCaptureImageStorage',
    `(0008,0018) UI [1.2.826.0.1.3680043.9.7777.${s.name.length}.${Buffer.from(s.name).readUIntBE(0, Math.min(4, s.name.length))}]`,
    '(0008,0060) CS [OT]',
    '(0010,0010) PN [Corpus^Test]',
    '(0010,0020) LO [CORPUS]',
    '(0020,000d) UI [1.2.826.0.1.3680043.9.7777.1]',
    '(0020,000e) UI [1.2.826.0.1.3680043.9.7777.2]',
    `(0028,0002) US ${s.samples}`,
    `(0028,0004) CS [${s.samples === 3 ? 'RGB' : 'MONOCHROME2'}]`,
    ...(s.samples === 3 ? [`(0028,0006) US ${s.planar ?? 0}`] : []),
    ...(s.frames > 1 ? [`(0028,0008) IS [${s.frames}]`] : []),
    `(0028,0010) US ${s.rows}`,
    `(0028,0011) US ${s.columns}`,
    `(0028,0100) US ${s.bitsAllocated}`,
    `(0028,0101) US ${s.bitsStored}`,
    `(0028,0102) US ${s.bitsStored - 1}`,
    `(0028,0103) US ${s.signed ? 1 : 0}`,
    `(7fe0,0010) ${s.bitsAllocated === 8 ? 'OB' : 'OW'} =pixels.raw`,
  ];
  return lines.join('\n') + '\n';
}

export interface Conversion {
  name: string;
  tool: string;
  args: (src: string, dst: string) => string[];
  /** Max absolute error allowed (0 = lossless, N for near-lossless). */
  tolerance: number;
  /** Lossy: max and mean absolute error as fractions of the stored range (replaces `tolerance`). */
  lossy?: { max: number; mean: number };
  /** Which sources the conversion applies to. */
  applies: (s: SourceSpec) => boolean;
  transferSyntaxUID: string;
}

const mono = (s: SourceSpec): boolean => s.samples === 1;
const any = (): boolean => true;
export const CONVERSIONS: Conversion[] = [
  { name: 'implicit', tool: 'dcmconv', args: (a, b) => ['+ti', a, b], tolerance: 0, applies: any, transferSyntaxUID: '1.2.840.10008.1.2' },
  {
    name: 'bigendian',
    tool: 'dcmconv',
    args: (a, b) => ['+tb', a, b],
    tolerance: 0,
    applies: any,
    transferSyntaxUID: '1.2.840.10008.1.2.2',
  },
  {
    name: 'deflated',
    tool: 'dcmconv',
    args: (a, b) => ['+td', a, b],
    tolerance: 0,
    applies: any,
    transferSyntaxUID: '1.2.840.10008.1.2.1.99',
  },
  {
    name: 'gdcm-deflated',
    tool: 'gdcmconv',
    args: (a, b) => ['--deflated', a, b],
    tolerance: 0,
    applies: any,
    transferSyntaxUID: '1.2.840.10008.1.2.1.99',
  },
  { name: 'rle', tool: 'dcmcrle', args: (a, b) => [a, b], tolerance: 0, applies: any, transferSyntaxUID: '1.2.840.10008.1.2.5' },
  {
    name: 'gdcm-rle',
    tool: 'gdcmconv',
    args: (a, b) => ['--rle', a, b],
    tolerance: 0,
    applies: any,
    transferSyntaxUID: '1.2.840.10008.1.2.5',
  },
  {
    name: 'jpeg-sv1',
    tool: 'dcmcjpeg',
    args: (a, b) => ['+e1', a, b],
    tolerance: 0,
    applies: (s) => !s.signed,
    transferSyntaxUID: '1.2.840.10008.1.2.4.70',
  },
  {
    name: 'jpeg-p14-sv6',
    tool: 'dcmcjpeg',
    args: (a, b) => ['+el', '+sv', '6', a, b],
    tolerance: 0,
    applies: (s) => !s.signed,
    transferSyntaxUID: '1.2.840.10008.1.2.4.57',
  },
  {
    name: 'gdcm-jpeg-lossless',
    tool: 'gdcmconv',
    args: (a, b) => ['--jpeg', a, b],
    tolerance: 0,
    applies: (s) => mono(s),
    transferSyntaxUID: '1.2.840.10008.1.2.4.70',
  },
  {
    name: 'jpeg-baseline',
    tool: 'dcmcjpeg',
    args: (a, b) => ['+eb', '+q', '95', a, b],
    tolerance: 0,
    lossy: { max: 0.2, mean: 0.05 },
    applies: (s) => s.bitsStored === 8,
    transferSyntaxUID: '1.2.840.10008.1.2.4.50',
  },
  {
    name: 'jpeg-extended12',
    tool: 'dcmcjpeg',
    args: (a, b) => ['+ee', '+q', '95', a, b],
    tolerance: 0,
    lossy: { max: 0.05, mean: 0.01 },
    applies: (s) => s.bitsStored === 12 && !s.signed,
    transferSyntaxUID: '1.2.840.10008.1.2.4.51',
  },
  { name: 'jpegls', tool: 'dcmcjpls', args: (a, b) => [a, b], tolerance: 0, applies: any, transferSyntaxUID: '1.2.840.10008.1.2.4.80' },
  {
    name: 'jpegls-near2',
    tool: 'dcmcjpls',
    args: (a, b) => ['+en', '+md', '2', a, b],
    tolerance: 2,
    applies: any,
    transferSyntaxUID: '1.2.840.10008.1.2.4.81',
  },
  {
    name: 'gdcm-jpegls',
    tool: 'gdcmconv',
    args: (a, b) => ['--jpegls', a, b],
    tolerance: 0,
    applies: any,
    transferSyntaxUID: '1.2.840.10008.1.2.4.80',
  },
  {
    name: 'j2k',
    tool: 'gdcmconv',
    args: (a, b) => ['--j2k', a, b],
    tolerance: 0,
    applies: any,
    transferSyntaxUID: '1.2.840.10008.1.2.4.90',
  },
  {
    name: 'j2k-lossy',
    tool: 'gdcmconv',
    args: (a, b) => ['--j2k', '--lossy', '-q', '60', a, b],
    tolerance: 0,
    lossy: { max: 0.1, mean: 0.015 },
    applies: any,
    transferSyntaxUID: '1.2.840.10008.1.2.4.91',
  },
];

/** Writes `s` as an explicit VR LE file made by dump2dcm under dir/<name>/source.dcm; returns its path. */
export function writeSource(dir: string, s: SourceSpec): string {
  const sdir = path.join(dir, s.name);
  fs.mkdirSync(sdir, { recursive: true });
  fs.writeFileSync(path.join(sdir, 'pixels.raw'), rawBytes(s, sourceValues(s)));
  fs.writeFileSync(path.join(sdir, 'source.dump'), dump(s));
  execFileSync('dump2dcm', ['+te', 'source.dump', 'source.dcm'], { cwd: sdir });
  return path.join(sdir, 'source.dcm');
}

export interface CorpusFile {
  source: SourceSpec;
  conversion: Conversion | null; // null = the explicit LE source itself
  file: string;
}

let built: { dir: string; files: CorpusFile[]; failures: string[] } | undefined;

/** Builds (once per process) every applicable source x conversion under a temporary folder. */
export function buildCorpus(): { dir: string; files: CorpusFile[]; failures: string[] } {
  if (built) return built;
  requireTools();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-dicom-corpus-'));
  const files: CorpusFile[] = [];
  const failures: string[] = [];
  for (const s of SOURCES) {
    const src = writeSource(dir, s);
    const sdir = path.dirname(src);
    files.push({ source: s, conversion: null, file: src });
    for (const c of CONVERSIONS) {
      if (!c.applies(s)) continue;
      const dst = path.join(sdir, `${c.name}.dcm`);
      const r = spawnSync(c.tool, c.args(src, dst), { encoding: 'utf8' });
      if (r.status !== 0 || !fs.existsSync(dst)) {
        failures.push(`${s.name}/${c.name}: ${c.tool} failed: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
        continue;
      }
      files.push({ source: s, conversion: c, file: dst });
    }
  }
  built = { dir, files, failures };
  return built;
}
