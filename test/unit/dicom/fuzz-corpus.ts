// A seeded, deterministic set of mutated DICOM files for the fuzz test: seeds written by our phantom
// writer (every syntax it encodes) and by dcmtk/GDCM (JPEG baseline, lossless SV1, implicit VR, big
// endian, JPEG 2000), then byte flips, truncations, huge element lengths, absurd Rows / Columns /
// BitsAllocated / SamplesPerPixel / NumberOfFrames, wrong transfer syntaxes, corrupted fragments
// (codestream sizes, RLE headers, lengths, delimiters) and sequences nested up to 10,000 deep.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import dicomParser from 'dicom-parser';
import { encodeFrame, type PhantomSyntax } from '../../../src/main/dicom/phantom/encode';
import { mulberry32 } from '../../../src/main/dicom/phantom/synth';
import { type Element, writeDicom } from '../../../src/main/dicom/phantom/writer';
import { TS } from '../../../src/main/dicom/transfer-syntax';
import { type SourceSpec, writeSource } from './corpus';

export interface Mutant {
  file: string;
  seed: string;
  kind: string;
}

const ROWS = 40;
const COLUMNS = 36; // the JPEG 2000 encoder wants ≥ 32 for its 5 decomposition levels

interface WriterSeed {
  name: string;
  syntax: PhantomSyntax;
  frames: number;
  uid: string;
}

/** The pixel module and identity of a writer seed; mutants override entries. */
function seedElements(s: WriterSeed, over: Record<number, Element['value']> = {}, extra: Element[] = []): Element[] {
  const base: Element[] = [
    { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.1.2' },
    { tag: 0x00080018, vr: 'UI', value: s.uid },
    { tag: 0x00080060, vr: 'CS', value: 'MG' },
    { tag: 0x00100010, vr: 'PN', value: 'Fuzz^Seed' },
    { tag: 0x00100020, vr: 'LO', value: 'FUZZ' },
    { tag: 0x0020000d, vr: 'UI', value: '1.2.826.0.1.3680043.9.7777.900' },
    { tag: 0x0020000e, vr: 'UI', value: '1.2.826.0.1.3680043.9.7777.900.1' },
    { tag: 0x00280002, vr: 'US', value: [1] },
    { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    ...(s.frames > 1 ? [{ tag: 0x00280008, vr: 'IS' as const, value: String(s.frames) }] : []),
    { tag: 0x00280010, vr: 'US', value: [ROWS] },
    { tag: 0x00280011, vr: 'US', value: [COLUMNS] },
    { tag: 0x00280100, vr: 'US', value: [16] },
    { tag: 0x00280101, vr: 'US', value: [12] },
    { tag: 0x00280102, vr: 'US', value: [11] },
    { tag: 0x00280103, vr: 'US', value: [0] },
  ];
  const els = base.filter((e) => !(e.tag in over)).concat(extra);
  for (const [tag, value] of Object.entries(over)) {
    const t = Number(tag);
    const vr = base.find((e) => e.tag === t)?.vr ?? (t === 0x00280008 ? 'IS' : 'US');
    els.push({ tag: t, vr, value });
  }
  return els;
}

function ramp(frame: number): Uint16Array {
  const px = new Uint16Array(ROWS * COLUMNS);
  for (let i = 0; i < px.length; i++) px[i] = (i * 37 + frame * 101) % 4096;
  return px;
}

async function seedPixels(s: WriterSeed): Promise<{ native: Uint8Array; vr: 'OW' } | { frames: Uint8Array[] }> {
  const frames = Array.from({ length: s.frames }, (_, f) => ramp(f));
  if (s.syntax === 'explicit-le' || s.syntax === 'deflated') {
    const all = new Uint16Array(ROWS * COLUMNS * s.frames);
    frames.forEach((f, i) => all.set(f, i * f.length));
    return { native: new Uint8Array(all.buffer), vr: 'OW' };
  }
  return { frames: await Promise.all(frames.map((f) => encodeFrame(s.syntax, f, COLUMNS, ROWS, 12))) };
}

const SYNTAX_UID: Record<PhantomSyntax, string> = {
  'explicit-le': TS.ExplicitLE,
  deflated: TS.DeflatedLE,
  rle: TS.Rle,
  'jpeg-ls': TS.JpegLsLossless,
  j2k: TS.J2kLossless,
  htj2k: TS.Htj2kLossless,
};

/** Sequences nested `depth` deep, built iteratively (a recursive writer would overflow itself). */
export function deepSequence(depth: number, undefinedLength: boolean, implicit = false): Uint8Array {
  // (0040,A730) ContentSequence, explicit VR: SQ header 12 bytes, item header 8, delimiters 8 each.
  const sqHeader = (len: number): Buffer => {
    const b = Buffer.alloc(implicit ? 8 : 12);
    b.writeUInt16LE(0x0040, 0);
    b.writeUInt16LE(0xa730, 2);
    if (implicit) b.writeUInt32LE(len, 4);
    else {
      b.write('SQ', 4, 'latin1');
      b.writeUInt32LE(len, 8);
    }
    return b;
  };
  const item = (len: number): Buffer => {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(0xfffe, 0);
    b.writeUInt16LE(0xe000, 2);
    b.writeUInt32LE(len, 4);
    return b;
  };
  const delim = (el: number): Buffer => {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(0xfffe, 0);
    b.writeUInt16LE(el, 2);
    return b;
  };
  if (undefinedLength) {
    const open = Buffer.concat([sqHeader(0xffffffff), item(0xffffffff)]);
    const close = Buffer.concat([delim(0xe00d), delim(0xe0dd)]);
    const out = Buffer.alloc(depth * (open.length + close.length));
    for (let i = 0; i < depth; i++) open.copy(out, i * open.length);
    for (let i = 0; i < depth; i++) close.copy(out, depth * open.length + i * close.length);
    return out;
  }
  // Defined lengths: level i starts at i * per and holds everything after its own headers.
  const hdr = implicit ? 8 : 12;
  const per = hdr + 8;
  const out = Buffer.alloc(depth * per);
  for (let i = 0; i < depth; i++) {
    const sqLength = (depth - i) * per - hdr;
    sqHeader(sqLength).copy(out, i * per);
    item(sqLength - 8).copy(out, i * per + hdr);
  }
  return out;
}

/** Inserts raw element bytes before the top-level Pixel Data of an implicit VR LE Part 10 file. */
function insertBeforeImplicitPixelData(bytes: Uint8Array, raw: Uint8Array): Uint8Array {
  const ds = dicomParser.parseDicom(bytes, { untilTag: 'x7fe00010' });
  const headerStart = ds.elements.x7fe00010!.dataOffset - 8;
  return Buffer.concat([bytes.subarray(0, headerStart), raw, bytes.subarray(headerStart)]);
}

/** Inserts raw element bytes into an explicit VR LE Part 10 file just before the top-level Pixel Data. */
export function insertBeforePixelData(bytes: Uint8Array, raw: Uint8Array): Uint8Array {
  const ds = dicomParser.parseDicom(bytes, { untilTag: 'x7fe00010' });
  const px = ds.elements.x7fe00010!;
  const headerStart = px.dataOffset - 12;
  return Buffer.concat([bytes.subarray(0, headerStart), raw, bytes.subarray(headerStart)]);
}

/** Replaces the meta group's transfer syntax (fixing the group length). */
function withTransferSyntax(bytes: Uint8Array, uid: string): Uint8Array {
  const b = Buffer.from(bytes);
  const at = b.indexOf(Buffer.from([0x02, 0x00, 0x10, 0x00, 0x55, 0x49])); // (0002,0010) UI
  const oldLen = b.readUInt16LE(at + 6);
  let v = Buffer.from(uid, 'latin1');
  if (v.length % 2) v = Buffer.concat([v, Buffer.from([0])]);
  const hdr = Buffer.from(b.subarray(at, at + 8));
  hdr.writeUInt16LE(v.length, 6);
  const out = Buffer.concat([b.subarray(0, at), hdr, v, b.subarray(at + 8 + oldLen)]);
  // (0002,0000) UL group length at 132: value at 140.
  out.writeUInt32LE(out.readUInt32LE(140) + v.length - oldLen, 140);
  return out;
}

interface Located {
  lengthAt: number;
  lengthSize: 2 | 4;
}

/** Where the length field of every top-level element is (for "huge length" mutants). */
function elementLengths(bytes: Uint8Array, explicit: boolean): Located[] {
  try {
    const ds = dicomParser.parseDicom(bytes, { untilTag: 'x7fe00010' });
    return Object.values(ds.elements)
      .filter((e) => e.dataOffset > 132)
      .map((e) => {
        const long = !explicit || ['OB', 'OW', 'SQ', 'UN', 'UT', 'OF', 'OD', 'OL', 'UC', 'UR'].includes(e.vr ?? '');
        return { lengthAt: e.dataOffset - (long ? 4 : 2), lengthSize: long ? 4 : 2 };
      });
  } catch {
    return [];
  }
}

/** Fragments of an encapsulated file: [position, length] of each, the offset table excluded. */
function fragmentsOf(bytes: Uint8Array): { position: number; length: number }[] {
  try {
    return dicomParser.parseDicom(bytes).elements.x7fe00010?.fragments ?? [];
  } catch {
    return [];
  }
}

/** Byte position of a JPEG SOFn/SOF55 or J2K SIZ inside `frag` (of `bytes`), for size mutants. */
function sizeMarker(bytes: Uint8Array, frag: { position: number; length: number }): { at: number; j2k: boolean } | undefined {
  const end = frag.position + Math.min(frag.length, 4096);
  for (let i = frag.position; i + 12 < end; i++) {
    if (bytes[i] !== 0xff) continue;
    const m = bytes[i + 1]!;
    if ((m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) || m === 0xf7) return { at: i, j2k: false };
    if (m === 0x51 && bytes[i - 1] === 0x4f) return { at: i, j2k: true };
  }
  return undefined;
}

export function byteMutants(
  name: string,
  orig: Uint8Array,
  opts: { explicit: boolean; bigEndian: boolean; seed: number },
): [string, Uint8Array][] {
  const rng = mulberry32(opts.seed);
  const out: [string, Uint8Array][] = [];
  const pick = (n: number): number => Math.floor(rng() * n);
  for (let t = 0; t < 8; t++) {
    const b = Buffer.from(orig);
    const flips = 1 + pick(8);
    for (let i = 0; i < flips; i++) b[132 + pick(b.length - 132)] = pick(256);
    out.push([`flip${t}`, b]);
  }
  for (let t = 0; t < 5; t++) out.push([`cut${t}`, orig.subarray(0, 1 + pick(orig.length - 2))]);
  const lengths = elementLengths(orig, opts.explicit);
  for (let t = 0; t < 6 && lengths.length > 0; t++) {
    const { lengthAt, lengthSize } = lengths[pick(lengths.length)]!;
    const b = Buffer.from(orig);
    const huge = [0xffffffff, 0xfffffff0, 0x7fffffff, 0x10000000][t % 4]!;
    if (lengthSize === 2) b.writeUInt16LE(0xffff - (t % 2) * 2, lengthAt);
    else if (opts.bigEndian) b.writeUInt32BE(huge, lengthAt);
    else b.writeUInt32LE(huge, lengthAt);
    out.push([`length${t}`, b]);
  }
  if (!opts.explicit && !opts.bigEndian) {
    // dicom-parser finds implicit sequences by peeking at the next tag: nest them too.
    out.push(['deep10000-implicit', insertBeforeImplicitPixelData(orig, deepSequence(10_000, true, true))]);
    out.push(['deep10000-implicit-defined', insertBeforeImplicitPixelData(orig, deepSequence(10_000, false, true))]);
    out.push(['deep40-implicit', insertBeforeImplicitPixelData(orig, deepSequence(40, true, true))]);
  }
  const frags = fragmentsOf(orig);
  if (frags.length > 0) {
    const f = frags[0]!;
    const marker = sizeMarker(orig, f);
    if (marker) {
      const b = Buffer.from(orig);
      if (marker.j2k) {
        // SIZ: Xsiz at +6, Ysiz at +10 (after FF51 and Lsiz, Rsiz).
        b.writeUInt32BE(65500, marker.at + 6);
        b.writeUInt32BE(65500, marker.at + 10);
      } else {
        b.writeUInt16BE(65500, marker.at + 5);
        b.writeUInt16BE(65500, marker.at + 7);
      }
      out.push(['codestream-65500', b]);
      const c = Buffer.from(orig);
      c[marker.j2k ? marker.at + 39 : marker.at + 9] = 7; // component count
      out.push(['codestream-components', c]);
    }
    for (let t = 0; t < 4; t++) {
      const b = Buffer.from(orig);
      const from = f.position + Math.floor(f.length / 4);
      for (let i = 0; i < 16; i++) b[from + pick(Math.max(1, f.length - (from - f.position)))] = pick(256);
      out.push([`fragment-bytes${t}`, b]);
    }
    const zeroed = Buffer.from(orig);
    zeroed.fill(0, f.position, f.position + f.length);
    out.push(['fragment-zeroed', zeroed]);
    const long = Buffer.from(orig);
    long.writeUInt32LE(0x7ffffff0, f.position - 4);
    out.push(['fragment-length', long]);
    out.push(['fragment-cut', orig.subarray(0, f.position + Math.floor(f.length / 2))]);
    out.push(['no-delimiter', orig.subarray(0, orig.length - 8)]);
    const rle = Buffer.from(orig);
    rle.writeUInt32LE(15, f.position); // RLE: segment count; elsewhere noise
    rle.writeUInt32LE(0x7fffffff, f.position + 4);
    out.push(['fragment-header', rle]);
  }
  return out.map(([k, b]) => [`${name}-${k}`, b]);
}

const WRITER_SEEDS: WriterSeed[] = [
  { name: 'w-explicit', syntax: 'explicit-le', frames: 1, uid: '1.2.826.0.1.3680043.9.7777.901' },
  { name: 'w-explicit3', syntax: 'explicit-le', frames: 3, uid: '1.2.826.0.1.3680043.9.7777.902' },
  { name: 'w-deflated', syntax: 'deflated', frames: 1, uid: '1.2.826.0.1.3680043.9.7777.903' },
  { name: 'w-rle', syntax: 'rle', frames: 1, uid: '1.2.826.0.1.3680043.9.7777.904' },
  { name: 'w-jpegls', syntax: 'jpeg-ls', frames: 2, uid: '1.2.826.0.1.3680043.9.7777.905' },
  { name: 'w-j2k', syntax: 'j2k', frames: 1, uid: '1.2.826.0.1.3680043.9.7777.906' },
  { name: 'w-htj2k', syntax: 'htj2k', frames: 1, uid: '1.2.826.0.1.3680043.9.7777.907' },
];

/** Structured mutants of a writer seed: header values no byte flip reaches reliably. */
async function structuredMutants(s: WriterSeed): Promise<[string, Uint8Array][]> {
  const pixels = await seedPixels(s);
  const write = (over: Record<number, Element['value']> = {}, extra: Element[] = [], ts = SYNTAX_UID[s.syntax]): Uint8Array =>
    writeDicom(seedElements(s, over, extra), {
      transferSyntaxUID: ts,
      sopClassUID: '1.2.840.10008.5.1.4.1.1.1.2',
      sopInstanceUID: s.uid,
      pixels,
    });
  const out: [string, Uint8Array][] = [['original', write()]];
  for (const v of [0, 1, 65535, 65500]) out.push([`rows${v}`, write({ 0x00280010: [v] })]);
  for (const v of [0, 65535]) out.push([`columns${v}`, write({ 0x00280011: [v] })]);
  out.push(['size65500', write({ 0x00280010: [65500], 0x00280011: [65500] })]);
  for (const v of [0, 1, 8, 24, 64, 65535]) out.push([`bits${v}`, write({ 0x00280100: [v] })]);
  for (const v of [0, 3, 4]) out.push([`samples${v}`, write({ 0x00280002: [v] })]);
  const frameValues = ['abc', '-1', '0', '1e9', '1000000000', '2147483648', '4294967296', '3.5', '2', '99'];
  for (const v of frameValues) out.push([`frames${v}`, write({ 0x00280008: v })]);
  for (const ts of [TS.ImplicitLE, TS.ExplicitBE, TS.DeflatedLE, TS.JpegBaseline, TS.J2kLossless, TS.Rle, TS.ExplicitLE, '1.2.3.4.5'])
    if (ts !== SYNTAX_UID[s.syntax]) out.push([`ts${ts}`, withTransferSyntax(write(), ts)]);
  if (s.syntax !== 'deflated') {
    const plain = write();
    out.push(['deep10000', insertBeforePixelData(plain, deepSequence(10_000, true))]);
    out.push(['deep10000-defined', insertBeforePixelData(plain, deepSequence(10_000, false))]);
    out.push(['deep65', insertBeforePixelData(plain, deepSequence(65, true))]);
    out.push(['deep40', insertBeforePixelData(plain, deepSequence(40, true))]);
  }
  return out.map(([k, b]) => [`${s.name}-${k}`, b]);
}

interface ToolSeed {
  name: string;
  source: SourceSpec;
  /** dcmtk/GDCM command turning source.dcm into the seed, or null for the source itself. */
  tool: [string, string[]] | null;
  explicit: boolean;
  bigEndian: boolean;
}

const U12X3: SourceSpec = { name: 'u12x3', rows: 24, columns: 20, frames: 3, samples: 1, bitsAllocated: 16, bitsStored: 12, signed: false };
const RGB8: SourceSpec = { name: 'rgb8', rows: 24, columns: 27, frames: 1, samples: 3, bitsAllocated: 8, bitsStored: 8, signed: false };

const TOOL_SEEDS: ToolSeed[] = [
  { name: 't-explicit3', source: U12X3, tool: null, explicit: true, bigEndian: false },
  { name: 't-implicit3', source: U12X3, tool: ['dcmconv', ['+ti']], explicit: false, bigEndian: false },
  { name: 't-bigendian3', source: U12X3, tool: ['dcmconv', ['+tb']], explicit: true, bigEndian: true },
  { name: 't-sv1', source: U12X3, tool: ['dcmcjpeg', ['+e1']], explicit: true, bigEndian: false },
  { name: 't-j2k3', source: U12X3, tool: ['gdcmconv', ['--j2k']], explicit: true, bigEndian: false },
  { name: 't-baseline-rgb', source: RGB8, tool: ['dcmcjpeg', ['+eb', '+q', '90', '--uid-never']], explicit: true, bigEndian: false },
];

/** Writes every seed and mutant into `dir` (flat, mutants sort before their seed's original); returns them. */
export async function buildFuzzSet(dir: string, work: string): Promise<Mutant[]> {
  fs.mkdirSync(dir, { recursive: true });
  const out: Mutant[] = [];
  const put = (seed: string, name: string, bytes: Uint8Array): void => {
    const kind = name.slice(seed.length + 1);
    // "zz-original" sorts after the mutants: a broken copy is met first by the import.
    const file = path.join(dir, `${seed}-${kind === 'original' ? 'zz-original' : kind}.dcm`);
    fs.writeFileSync(file, bytes);
    out.push({ file, seed, kind });
  };
  for (const s of WRITER_SEEDS) {
    const mutants = await structuredMutants(s);
    for (const [name, bytes] of mutants) put(s.name, name, bytes);
    const original = mutants[0]![1];
    const bytes =
      s.syntax === 'deflated' ? [] : byteMutants(s.name, original, { explicit: true, bigEndian: false, seed: 7 + s.uid.length });
    for (const [name, b] of bytes) put(s.name, name, b);
  }
  const sources = new Map<string, string>();
  for (const [i, t] of TOOL_SEEDS.entries()) {
    let src = sources.get(t.source.name);
    if (!src) sources.set(t.source.name, (src = writeSource(work, t.source)));
    let file = src;
    if (t.tool) {
      file = path.join(work, `${t.name}.dcm`);
      execFileSync(t.tool[0], [...t.tool[1], src, file], { stdio: 'pipe' });
    }
    const orig = fs.readFileSync(file);
    put(t.name, `${t.name}-original`, orig);
    for (const [name, b] of byteMutants(t.name, orig, { explicit: t.explicit, bigEndian: t.bigEndian, seed: 1000 + i }))
      put(t.name, name, b);
  }
  return out;
}
