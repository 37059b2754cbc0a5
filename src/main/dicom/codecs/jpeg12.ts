// Sequential Huffman DCT JPEG decoder (ITU T.81 processes 1, 2 and 4) for 8- and 12-bit samples.
// Why our own: the libjpeg-turbo WASM build only does 8-bit, jpeg-lossless-decoder-js does no DCT,
// and npm has no maintained 12-bit DCT decoder. 12-bit extended JPEG (1.2.840.10008.1.2.4.51) is
// still written by some older digitisers and CR/DX units. Progressive and arithmetic coding are
// refused (retired in DICOM). The IDCT is libjpeg's integer "islow" (jidctint.c), the default of
// dcmtk and GDCM, so lossy frames decode to the same samples as theirs.
import type { CodecOutput } from './types';

const ZIGZAG = new Int32Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57,
  50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]);

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

// libjpeg's jidctint.c constants: FIX(x) = round(x * 2^13).
const CONST_BITS = 13;
const FIX_0_298631336 = 2446;
const FIX_0_390180644 = 3196;
const FIX_0_541196100 = 4433;
const FIX_0_765366865 = 6270;
const FIX_0_899976223 = 7373;
const FIX_1_175875602 = 9633;
const FIX_1_501321110 = 12299;
const FIX_1_847759065 = 15137;
const FIX_1_961570560 = 16069;
const FIX_2_053119869 = 16819;
const FIX_2_562915447 = 20995;
const FIX_3_072711026 = 25172;

/** Rounding right shift of libjpeg (DESCALE); doubles, so no 32-bit overflow on corrupt input. */
const descale = (x: number, n: number): number => Math.floor((x + 2 ** (n - 1)) / 2 ** n);

const work = new Float64Array(64);
const vec = new Float64Array(8);

/** One 1-D pass of libjpeg's islow IDCT over i0..i7, written to `vec`, outputs descaled by 2^n. */
function idct1d(i0: number, i1: number, i2: number, i3: number, i4: number, i5: number, i6: number, i7: number, n: number): void {
  let z1 = (i2 + i6) * FIX_0_541196100;
  const t2 = z1 - i6 * FIX_1_847759065;
  const t3 = z1 + i2 * FIX_0_765366865;
  const t0e = (i0 + i4) * 2 ** CONST_BITS;
  const t1e = (i0 - i4) * 2 ** CONST_BITS;
  const t10 = t0e + t3;
  const t13 = t0e - t3;
  const t11 = t1e + t2;
  const t12 = t1e - t2;
  let t0 = i7;
  let t1 = i5;
  let t2o = i3;
  let t3o = i1;
  z1 = t0 + t3o;
  let z2 = t1 + t2o;
  let z3 = t0 + t2o;
  let z4 = t1 + t3o;
  const z5 = (z3 + z4) * FIX_1_175875602;
  t0 *= FIX_0_298631336;
  t1 *= FIX_2_053119869;
  t2o *= FIX_3_072711026;
  t3o *= FIX_1_501321110;
  z1 *= -FIX_0_899976223;
  z2 *= -FIX_2_562915447;
  z3 = z3 * -FIX_1_961570560 + z5;
  z4 = z4 * -FIX_0_390180644 + z5;
  t0 += z1 + z3;
  t1 += z2 + z4;
  t2o += z2 + z3;
  t3o += z1 + z4;
  vec[0] = descale(t10 + t3o, n);
  vec[7] = descale(t10 - t3o, n);
  vec[1] = descale(t11 + t2o, n);
  vec[6] = descale(t11 - t2o, n);
  vec[2] = descale(t12 + t1, n);
  vec[5] = descale(t12 - t1, n);
  vec[3] = descale(t13 + t0, n);
  vec[4] = descale(t13 - t0, n);
}

function idctInto(coef: Int32Array, q: Int32Array, c: Component, bx: number, by: number, shift: number, precision: number): void {
  const pass1 = precision > 8 ? 1 : 2; // PASS1_BITS of libjpeg's 12-bit / 8-bit builds
  const max = (1 << precision) - 1;
  // Columns (dequantised input) into the work array, scaled up by 2^pass1.
  for (let x = 0; x < 8; x++) {
    idct1d(
      coef[x]! * q[x]!,
      coef[8 + x]! * q[8 + x]!,
      coef[16 + x]! * q[16 + x]!,
      coef[24 + x]! * q[24 + x]!,
      coef[32 + x]! * q[32 + x]!,
      coef[40 + x]! * q[40 + x]!,
      coef[48 + x]! * q[48 + x]!,
      coef[56 + x]! * q[56 + x]!,
      CONST_BITS - pass1,
    );
    for (let k = 0; k < 8; k++) work[k * 8 + x] = vec[k]!;
  }
  // Rows, descaled to samples, level-shifted and range-limited.
  const stride = c.blocksPerLine * 8;
  for (let y = 0; y < 8; y++) {
    const w = y * 8;
    idct1d(
      work[w]!,
      work[w + 1]!,
      work[w + 2]!,
      work[w + 3]!,
      work[w + 4]!,
      work[w + 5]!,
      work[w + 6]!,
      work[w + 7]!,
      CONST_BITS + pass1 + 3,
    );
    const o = (by * 8 + y) * stride + bx * 8;
    for (let x = 0; x < 8; x++) {
      const v = vec[x]! + shift;
      c.pixels[o + x] = v < 0 ? 0 : v > max ? max : v;
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
    idctInto(coef, q, c, bx, by, shift, frame.precision);
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
