// A small DICOM Part 10 writer: Explicit VR Little Endian dataset with a file meta group, native or
// encapsulated pixel data, optionally deflated. Our own (rather than dcmjs) because it is ~150 lines,
// has no dependencies, and the phantom generator needs exact control of the encapsulation.
import zlib from 'node:zlib';
import { TS } from '../transfer-syntax';
import { IMPLEMENTATION_CLASS_UID } from '../uids';

export type Vr =
  | 'AE'
  | 'AS'
  | 'CS'
  | 'DA'
  | 'DS'
  | 'DT'
  | 'IS'
  | 'LO'
  | 'LT'
  | 'PN'
  | 'SH'
  | 'ST'
  | 'TM'
  | 'UI'
  | 'UL'
  | 'US'
  | 'SS'
  | 'OB'
  | 'OW'
  | 'SQ'
  | 'UT';

export interface Element {
  tag: number; // (group << 16) | element
  vr: Vr;
  /** Strings (multi-valued joined with \\), numbers for US/UL/SS, bytes for OB/OW, items for SQ. */
  value: string | number[] | Uint8Array | Element[][];
}

const LONG_VRS = new Set<Vr>(['OB', 'OW', 'SQ', 'UT']);

function padded(vr: Vr, bytes: Uint8Array): Uint8Array {
  if (bytes.length % 2 === 0) return bytes;
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  out[bytes.length] = vr === 'UI' || vr === 'OB' ? 0 : 0x20; // UIDs pad with NUL, text with space
  return out;
}

function valueBytes(el: Element): Uint8Array {
  const v = el.value;
  if (v instanceof Uint8Array) return padded(el.vr, v);
  if (typeof v === 'string') return padded(el.vr, Buffer.from(v, 'latin1'));
  if (el.vr === 'SQ') throw new Error('SQ handled by encodeElement');
  const nums = v as number[];
  const size = el.vr === 'UL' ? 4 : 2;
  const out = new Uint8Array(nums.length * size);
  const dv = new DataView(out.buffer);
  nums.forEach((n, i) => {
    if (el.vr === 'UL') dv.setUint32(i * 4, n, true);
    else if (el.vr === 'SS') dv.setInt16(i * 2, n, true);
    else dv.setUint16(i * 2, n, true);
  });
  return out;
}

function header(tag: number, vr: Vr, length: number): Uint8Array {
  const long = LONG_VRS.has(vr);
  const out = new Uint8Array(long ? 12 : 8);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, tag >>> 16, true);
  dv.setUint16(2, tag & 0xffff, true);
  out[4] = vr.charCodeAt(0);
  out[5] = vr.charCodeAt(1);
  if (long) dv.setUint32(8, length, true);
  else dv.setUint16(6, length, true);
  return out;
}

function itemTag(tag: number, length: number): Uint8Array {
  const out = new Uint8Array(8);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, 0xfffe, true);
  dv.setUint16(2, tag, true);
  dv.setUint32(4, length, true);
  return out;
}

function encodeElement(el: Element, parts: Uint8Array[]): void {
  if (el.vr === 'SQ') {
    const items = el.value as Element[][];
    const body: Uint8Array[] = [];
    for (const item of items) {
      const inner = encodeDataset(item);
      body.push(itemTag(0xe000, inner.length), inner);
    }
    const len = body.reduce((a, b) => a + b.length, 0);
    parts.push(header(el.tag, 'SQ', len), ...body);
    return;
  }
  const bytes = valueBytes(el);
  if (!LONG_VRS.has(el.vr) && bytes.length > 0xffff) throw new Error(`value too long for ${el.vr}`);
  parts.push(header(el.tag, el.vr, bytes.length), bytes);
}

export function encodeDataset(elements: Element[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const el of [...elements].sort((a, b) => a.tag - b.tag)) encodeElement(el, parts);
  return Buffer.concat(parts);
}

/** Encapsulated Pixel Data: one fragment per frame, Basic Offset Table filled. */
export function encapsulate(frames: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const offsets = new Uint8Array(4 * frames.length);
  const dv = new DataView(offsets.buffer);
  let off = 0;
  const items: Uint8Array[] = [];
  frames.forEach((f, i) => {
    dv.setUint32(4 * i, off, true);
    const p = padded('OB', f);
    items.push(itemTag(0xe000, p.length), p);
    off += 8 + p.length;
  });
  const tag = new Uint8Array([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  parts.push(tag, itemTag(0xe000, offsets.length), offsets, ...items, itemTag(0xe0dd, 0));
  return Buffer.concat(parts);
}

export interface WriteOptions {
  transferSyntaxUID: string;
  sopClassUID: string;
  sopInstanceUID: string;
  /** Native pixel bytes (little endian) or encapsulated frames. */
  pixels: { native: Uint8Array; vr: 'OB' | 'OW' } | { frames: Uint8Array[] };
}

/** A complete Part 10 file: preamble, meta group, dataset (+ pixel data), deflated if asked. */
export function writeDicom(dataset: Element[], opts: WriteOptions): Uint8Array {
  const meta: Element[] = [
    { tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) },
    { tag: 0x00020002, vr: 'UI', value: opts.sopClassUID },
    { tag: 0x00020003, vr: 'UI', value: opts.sopInstanceUID },
    { tag: 0x00020010, vr: 'UI', value: opts.transferSyntaxUID },
    { tag: 0x00020012, vr: 'UI', value: IMPLEMENTATION_CLASS_UID },
    { tag: 0x00020013, vr: 'SH', value: 'CLEFT_PHANTOM' },
  ];
  const metaBody = encodeDataset(meta);
  const groupLength = encodeDataset([{ tag: 0x00020000, vr: 'UL', value: [metaBody.length] }]);
  const body = encodeDataset(dataset);
  const pix =
    'native' in opts.pixels
      ? (() => {
          const p = padded(opts.pixels.vr, opts.pixels.native);
          return Buffer.concat([header(0x7fe00010, opts.pixels.vr, p.length), p]);
        })()
      : encapsulate(opts.pixels.frames);
  let data: Uint8Array = Buffer.concat([body, pix]);
  if (opts.transferSyntaxUID === TS.DeflatedLE) data = zlib.deflateRawSync(data, { level: 6 });
  const preamble = new Uint8Array(132);
  preamble.set([0x44, 0x49, 0x43, 0x4d], 128);
  return Buffer.concat([preamble, groupLength, metaBody, data]);
}
