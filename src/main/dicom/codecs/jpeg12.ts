// Sequential Huffman DCT JPEG decoder (ITU T.81 processes 1, 2 and 4) for 8- and 12-bit samples.
// Why our own: the libjpeg-turbo WASM build only does 8-bit, jpeg-lossless-decoder-js does no DCT,
// and npm has no maintained 12-bit DCT decoder. 12-bit extended JPEG (1.2.840.10008.1.2.4.51) is
// still written by some older digitisers and CR/DX units. Progressive and arithmetic coding are
// refused (retired in DICOM). Float IDCT: exact enough (lossy syntax), simple to verify.
import type { CodecOutput } from './types';

const ZIGZAG = new Int32Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57,
  50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]);

// COS[x*8+u] = C(u)/2 * cos((2x+1) u pi / 16)
const COS = new Float64Array(64);
for (let x = 0; x < 8; x++)
  for (let u = 0; u < 8; u++) COS[x * 8 + u] = (u === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * u * Math.PI) / 16);

interface Huffman {
  maxcode: Int32Array; // per length 1..16, -1 when none
  valptr: Int32Array;
  mincode: Int32Array;
  values: Uint8Array;
}

function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
  const maxcode = new Int32Array(18).fill(-1);
  const valptr = new Int32Array(17);
  const mincode = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let l = 1; l <= 16; l++) {
    const n = counts[l - 1]!;
    if (n) {
      valptr[l] = k;
      mincode[l] = code;
      code += n;
      k += n;
      maxcode[l] = code - 1;
    }
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff;
  return { maxcode, valptr, mincode, values };
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  blocksPerLine: number;
  blocksPerColumn: number;
  pixels: Float32Array; // blocksPerLine*8 x blocksPerColumn*8
  pred: number;
  dc?: Huffman;
  ac?: Huffman;
}

interface FrameGeom {
  precision: number;
  width: number;
  height: number;
  comps: Component[];
  hmax: number;
  vmax: number;
  mcusX: number;
  mcusY: number;
}

class BitReader {
  private bits = 0;
  private nbits = 0;
  constructor(
    private readonly d: Uint8Array,
    public pos: number,
  ) {}
  private fill(): void {
    while (this.nbits <= 24) {
      let b = 0;
      if (this.pos < this.d.length) {
        b = this.d[this.pos]!;
        if (b === 0xff) {
          const nx = this.d[this.pos + 1];
          if (nx === 0x00) this.pos += 2;
          else b = 0; // a marker: feed zeros, do not consume it
        } else this.pos++;
      }
      this.bits = (this.bits << 8) | b;
      this.nbits += 8;
    }
  }
  bit(): number {
    if (this.nbits === 0) this.fill();
    this.nbits--;
    return (this.bits >>> this.nbits) & 1;
  }
  receive(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = (v << 1) | this.bit();
    return v;
  }
  /** Drops buffered bits and positions at the next marker (for RSTn handling). */
  reset(): void {
    this.bits = 0;
    this.nbits = 0;
    while (this.pos + 1 < this.d.length && !(this.d[this.pos] === 0xff && this.d[this.pos + 1] !== 0 && this.d[this.pos + 1] !== 0xff))
      this.pos++;
  }
}

function decodeHuff(r: BitReader, h: Huffman): number {
  let code = r.bit();
  let l = 1;
  while (code > h.maxcode[l]!) {
    code = (code << 1) | r.bit();
    if (++l > 16) throw new Error('bad Huffman code');
  }
  return h.values[h.valptr[l]! + code - h.mincode[l]!]!;
}

function extend(v: number, t: number): number {
  return t === 0 ? 0 : v < 1 << (t - 1) ? v - (1 << t) + 1 : v;
}

export function decodeJpeg12(data: Uint8Array): CodecOutput {
  const qt: Int32Array[] = [];
  const dcTables: Huffman[] = [];
  const acTables: Huffman[] = [];
  let frame: FrameGeom | undefined;
  let restart = 0;
  let adobeTransform = -1;
  let pos = 2;
  if (data[0] !== 0xff || data[1] !== 0xd8) throw new Error('JPEG: no SOI');
  const u16 = (p: number): number => {
    if (p + 1 >= data.length) throw new Error('JPEG: truncated');
    return (data[p]! << 8) | data[p + 1]!;
  };
  for (;;) {
    if (pos + 1 >= data.length) break;
    if (data[pos] !== 0xff) {
      pos++;
      continue;
    }
    const m = data[pos + 1]!;
    pos += 2;
    if (m === 0xd9) break;
    if (m === 0xff || (m >= 0xd0 && m <= 0xd7) || m === 0x01) continue;
    const len = u16(pos);
    const seg = pos + 2;
    const end = pos + len;
    if (end > data.length) throw new Error('JPEG: truncated segment');
    switch (m) {
      case 0xdb: {
        let p = seg;
        while (p < end) {
          const pq = data[p]! >> 4;
          const tq = data[p]! & 15;
          p++;
          const t = new Int32Array(64);
          for (let k = 0; k < 64; k++) {
            t[ZIGZAG[k]!] = pq ? u16(p + 2 * k) : data[p + k]!;
          }
          p += pq ? 128 : 64;
          qt[tq] = t;
        }
        break;
      }
      case 0xc4: {
        let p = seg;
        while (p < end) {
          const tc = data[p]! >> 4;
          const th = data[p]! & 15;
          const counts = data.subarray(p + 1, p + 17);
          const n = counts.reduce((a, b) => a + b, 0);
          const values = data.slice(p + 17, p + 17 + n);
          (tc === 0 ? dcTables : acTables)[th] = buildHuffman(counts, values);
          p += 17 + n;
        }
        break;
      }
      case 0xdd:
        restart = u16(seg);
        break;
      case 0xee:
        if (len >= 12 && String.fromCharCode(...data.subarray(seg, seg + 5)) === 'Adobe') adobeTransform = data[seg + 11]!;
        break;
      case 0xc0:
      case 0xc1: {
        const precision = data[seg]!;
        const height = u16(seg + 1);
        const width = u16(seg + 3);
        const nc = data[seg + 5]!;
        if (!width || !height || !nc) throw new Error('JPEG: empty frame (DNL not supported)');
        const comps: Component[] = [];
        for (let i = 0; i < nc; i++) {
          const b = seg + 6 + 3 * i;
          comps.push({
            id: data[b]!,
            h: data[b + 1]! >> 4 || 1,
            v: data[b + 1]! & 15 || 1,
            tq: data[b + 2]!,
            blocksPerLine: 0,
            blocksPerColumn: 0,
            pixels: new Float32Array(0),
            pred: 0,
          });
        }
        const hmax = Math.max(...comps.map((c) => c.h));
        const vmax = Math.max(...comps.map((c) => c.v));
        const mcusX = Math.ceil(width / (8 * hmax));
        const mcusY = Math.ceil(height / (8 * vmax));
        for (const c of comps) {
          c.blocksPerLine = mcusX * c.h;
          c.blocksPerColumn = mcusY * c.v;
          c.pixels = new Float32Array(c.blocksPerLine * 8 * c.blocksPerColumn * 8);
        }
        frame = { precision, width, height, comps, hmax, vmax, mcusX, mcusY };
        break;
      }
      case 0xc2:
      case 0xc6:
      case 0xca:
      case 0xce:
        throw new Error('progressive JPEG is not supported (retired in DICOM)');
      case 0xc9:
      case 0xcb:
      case 0xcd:
      case 0xcf:
        throw new Error('arithmetic-coded JPEG is not supported');
      case 0xda: {
        if (!frame) throw new Error('JPEG: SOS before SOF');
        const ns = data[seg]!;
        const scomps: Component[] = [];
        for (let i = 0; i < ns; i++) {
          const cid = data[seg + 1 + 2 * i]!;
          const tables = data[seg + 2 + 2 * i]!;
          const c = frame.comps.find((x) => x.id === cid);
          if (!c) throw new Error('JPEG: scan references an unknown component');
          c.dc = dcTables[tables >> 4];
          c.ac = acTables[tables & 15];
          if (!c.dc || !c.ac) throw new Error('JPEG: missing Huffman table');
          scomps.push(c);
        }
        pos = decodeScan(data, end, frame, scomps, qt, restart);
        continue;
      }
      default:
        break; // APPn, COM, DNL...: skip
    }
    pos = end;
  }
  if (!frame) throw new Error('JPEG: no frame');
  return assemble(frame, adobeTransform);
}

const block = new Float64Array(64);
const tmp = new Float64Array(64);

function idctInto(coef: Int32Array, q: Int32Array, c: Component, bx: number, by: number, shift: number): void {
  for (let k = 0; k < 64; k++) block[k] = coef[k]! * q[k]!;
  // rows: tmp[y*8+x] = sum_u COS[x,u] * block[y*8+u]
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      let s = 0;
      for (let u = 0; u < 8; u++) s += COS[x * 8 + u]! * block[y * 8 + u]!;
      tmp[y * 8 + x] = s;
    }
  }
  const stride = c.blocksPerLine * 8;
  for (let x = 0; x < 8; x++) {
    for (let y = 0; y < 8; y++) {
      let s = 0;
      for (let v = 0; v < 8; v++) s += COS[y * 8 + v]! * tmp[v * 8 + x]!;
      c.pixels[(by * 8 + y) * stride + bx * 8 + x] = s + shift;
    }
  }
}

function decodeScan(data: Uint8Array, start: number, frame: FrameGeom, scomps: Component[], qt: Int32Array[], restart: number): number {
  const r = new BitReader(data, start);
  const coef = new Int32Array(64);
  const shift = 1 << (frame.precision - 1);
  for (const c of scomps) c.pred = 0;
  const decodeBlock = (c: Component, bx: number, by: number): void => {
    coef.fill(0);
    const t = decodeHuff(r, c.dc!);
    if (t > 16) throw new Error('JPEG: bad DC magnitude');
    c.pred += extend(r.receive(t), t);
    coef[0] = c.pred;
    for (let k = 1; k < 64;) {
      const rs = decodeHuff(r, c.ac!);
      const s = rs & 15;
      const run = rs >> 4;
      if (s === 0) {
        if (run !== 15) break;
        k += 16;
        continue;
      }
      k += run;
      if (k > 63) throw new Error('JPEG: coefficient index out of range');
      coef[ZIGZAG[k]!] = extend(r.receive(s), s);
      k++;
    }
    const q = qt[c.tq];
    if (!q) throw new Error('JPEG: missing quantisation table');
    idctInto(coef, q, c, bx, by, shift);
  };
  let n = 0;
  const single = scomps.length === 1;
  const c0 = scomps[0]!;
  // A single-component scan walks the component's own blocks (only those covering the image).
  const total = single ? Math.ceil(compWidth(frame, c0) / 8) * Math.ceil(compHeight(frame, c0) / 8) : frame.mcusX * frame.mcusY;
  const singleW = single ? Math.ceil(compWidth(frame, c0) / 8) : 0;
  for (let m = 0; m < total; m++) {
    if (restart && n === restart) {
      r.reset();
      if (data[r.pos] === 0xff && data[r.pos + 1]! >= 0xd0 && data[r.pos + 1]! <= 0xd7) r.pos += 2;
      for (const c of scomps) c.pred = 0;
      n = 0;
    }
    if (single) {
      decodeBlock(c0, m % singleW, Math.floor(m / singleW));
    } else {
      const mx = m % frame.mcusX;
      const my = Math.floor(m / frame.mcusX);
      for (const c of scomps) for (let v = 0; v < c.v; v++) for (let h = 0; h < c.h; h++) decodeBlock(c, mx * c.h + h, my * c.v + v);
    }
    n++;
  }
  r.reset();
  return r.pos;
}

/** Width/height of a component in samples (T.81 A.1.1). */
function compWidth(f: FrameGeom, c: Component): number {
  return Math.ceil((f.width * c.h) / f.hmax);
}
function compHeight(f: FrameGeom, c: Component): number {
  return Math.ceil((f.height * c.v) / f.vmax);
}

function assemble(frame: FrameGeom, adobeTransform: number): CodecOutput {
  const { width, height, comps, precision } = frame;
  const max = (1 << precision) - 1;
  const nc = comps.length;
  const out = precision > 8 ? new Uint16Array(width * height * nc) : new Uint8Array(width * height * nc);
  const planes = comps.map((c) => {
    const plane = new Float32Array(width * height);
    const stride = c.blocksPerLine * 8;
    const sx = c.h / frame.hmax;
    const sy = c.v / frame.vmax;
    for (let y = 0; y < height; y++) {
      const row = Math.floor(y * sy) * stride;
      for (let x = 0; x < width; x++) plane[y * width + x] = c.pixels[row + Math.floor(x * sx)]!;
    }
    return plane;
  });
  // Three components are YCbCr unless an Adobe marker says otherwise (transform 0 = RGB).
  const ycc = nc === 3 && adobeTransform !== 0;
  const half = (max + 1) / 2;
  const clamp = (v: number): number => (v < 0 ? 0 : v > max ? max : Math.round(v));
  for (let p = 0; p < width * height; p++) {
    if (ycc) {
      const Y = planes[0]![p]!;
      const cb = planes[1]![p]! - half;
      const cr = planes[2]![p]! - half;
      out[p * 3] = clamp(Y + 1.402 * cr);
      out[p * 3 + 1] = clamp(Y - 0.344136 * cb - 0.714136 * cr);
      out[p * 3 + 2] = clamp(Y + 1.772 * cb);
    } else {
      for (let k = 0; k < nc; k++) out[p * nc + k] = clamp(planes[k]![p]!);
    }
  }
  return { data: out, width, height, components: nc, planar: false, rgb: ycc, reduction: 0 };
}
