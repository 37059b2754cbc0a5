// Our JPEG lossless (ITU T.81 process 14, Huffman, SOF3) decoder. Mammography's usual syntax is
// selection value 1 (predictor Ra), and jpeg-lossless-decoder-js spends ~1.5 s on a 3328x4096
// image where this takes ~0.1-0.2 s: a 64 Ki-entry table decodes each Huffman code with one lookup,
// the bit reader works on a 32-bit accumulator inline in the sample loop, and samples go straight
// into a 16-bit output. All seven predictors, point transform, restart intervals and interleaved
// multi-component scans (all sampling factors 1) are handled; anything else (several scans,
// hierarchical/differential, arithmetic coding, DNL) throws LjpegUnsupported and the caller falls
// back to jpeg-lossless-decoder-js.
import type { CodecOutput } from './types';

export class LjpegUnsupported extends Error {}

interface Component {
  id: number;
  /** Huffman lookup for this component's DC table: (code length << 8) | SSSS, 0 = invalid. */
  table?: Uint16Array;
}

interface Frame {
  precision: number;
  height: number;
  width: number;
  components: Component[];
  restartInterval: number;
  predictor: number;
  pointTransform: number;
  /** Offset of the first entropy-coded byte. */
  dataStart: number;
}

/** Builds the 16-bit lookup table from DHT counts (BITS) and values (HUFFVAL), T.81 Annex C. */
function buildTable(counts: Uint8Array, values: Uint8Array): Uint16Array {
  const table = new Uint16Array(65536);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < counts[len - 1]!; i++) {
      if (k >= values.length) throw new Error('JPEG lossless: DHT has fewer values than codes');
      const ssss = values[k++]!;
      if (ssss > 16) throw new Error(`JPEG lossless: invalid difference category ${ssss}`);
      const shift = 16 - len;
      const first = code << shift;
      const last = (code + 1) << shift;
      if (last > 65536) throw new Error('JPEG lossless: invalid Huffman table');
      table.fill((len << 8) | ssss, first, last);
      code++;
    }
    code <<= 1;
  }
  return table;
}

function parseHeaders(b: Uint8Array): Frame {
  if (b[0] !== 0xff || b[1] !== 0xd8) throw new Error('JPEG lossless: no SOI marker');
  const tables = new Map<number, Uint16Array>();
  let frame: Omit<Frame, 'predictor' | 'pointTransform' | 'dataStart'> | undefined;
  let restartInterval = 0;
  let i = 2;
  for (;;) {
    if (i + 4 > b.length) throw new Error('JPEG lossless: truncated before the scan');
    if (b[i] !== 0xff) throw new Error(`JPEG lossless: expected a marker at ${i}`);
    const m = b[i + 1]!;
    if (m === 0xff) {
      i++;
      continue;
    }
    const len = (b[i + 2]! << 8) | b[i + 3]!;
    const seg = i + 4;
    const segEnd = i + 2 + len;
    if (len < 2 || segEnd > b.length) throw new Error('JPEG lossless: truncated marker segment');
    if (m === 0xc4) {
      let p = seg;
      while (p < segEnd) {
        const tcTh = b[p]!;
        const counts = b.subarray(p + 1, p + 17);
        let total = 0;
        for (const c of counts) total += c;
        const values = b.subarray(p + 17, p + 17 + total);
        if (p + 17 + total > segEnd) throw new Error('JPEG lossless: truncated DHT');
        // Lossless uses DC tables (class 0) only.
        if (tcTh >> 4 === 0) tables.set(tcTh & 15, buildTable(counts, values));
        p += 17 + total;
      }
    } else if (m === 0xdd) {
      restartInterval = (b[seg]! << 8) | b[seg + 1]!;
    } else if (m === 0xc3) {
      const nf = b[seg + 5]!;
      const components: Component[] = [];
      for (let c = 0; c < nf; c++) {
        const hv = b[seg + 7 + 3 * c]!;
        if (hv !== 0x11) throw new LjpegUnsupported('JPEG lossless with subsampled components');
        components.push({ id: b[seg + 6 + 3 * c]! });
      }
      frame = {
        precision: b[seg]!,
        height: (b[seg + 1]! << 8) | b[seg + 2]!,
        width: (b[seg + 3]! << 8) | b[seg + 4]!,
        components,
        restartInterval: 0,
      };
      if (frame.height === 0) throw new LjpegUnsupported('JPEG lossless with DNL (height 0)');
    } else if (m >= 0xc0 && m <= 0xcf && m !== 0xc8 && m !== 0xcc) {
      throw new LjpegUnsupported(`JPEG SOF${m - 0xc0} is not process 14`);
    } else if (m === 0xda) {
      if (!frame) throw new Error('JPEG lossless: scan before frame header');
      const ns = b[seg]!;
      if (ns !== frame.components.length) throw new LjpegUnsupported('JPEG lossless with one scan per component');
      for (let c = 0; c < ns; c++) {
        const id = b[seg + 1 + 2 * c]!;
        const td = b[seg + 2 + 2 * c]! >> 4;
        const comp = frame.components[c]!;
        if (comp.id !== id) throw new LjpegUnsupported('JPEG lossless scan components out of frame order');
        const t = tables.get(td);
        if (!t) throw new Error(`JPEG lossless: missing Huffman table ${td}`);
        comp.table = t;
      }
      const predictor = b[seg + 1 + 2 * ns]!;
      const pointTransform = b[seg + 3 + 2 * ns]! & 15;
      if (predictor < 1 || predictor > 7) throw new Error(`JPEG lossless: invalid predictor ${predictor}`);
      return { ...frame, restartInterval, predictor, pointTransform, dataStart: segEnd };
    } else if (m === 0xd9) {
      throw new Error('JPEG lossless: no scan');
    }
    i = segEnd;
  }
}

/** Reads the frame header only (size, precision, components) without decoding. */
export function ljpegInfo(b: Uint8Array): { width: number; height: number; precision: number; components: number } {
  const f = parseHeaders(b);
  return { width: f.width, height: f.height, precision: f.precision, components: f.components.length };
}

/**
 * Decodes a process-14 stream. 16-bit output when the precision or `wide` asks for it, else 8-bit.
 * `into` (large enough, right type) receives the samples instead of a new array.
 */
export function decodeLjpeg(b: Uint8Array, wide = false, into?: Uint16Array | Uint8Array): CodecOutput {
  const f = parseHeaders(b);
  const { width: X, height: Y, precision: P, predictor: psv, pointTransform: pt } = f;
  const nc = f.components.length;
  if (P < 2 || P > 16) throw new Error(`JPEG lossless: invalid precision ${P}`);
  const n = X * Y * nc;
  const want16 = wide || P > 8;
  const out: Uint16Array | Uint8Array =
    into && into.length >= n && into instanceof Uint16Array === want16
      ? into.subarray(0, n)
      : want16
        ? new Uint16Array(n)
        : new Uint8Array(n);
  // Restart intervals must cover whole lines in lossless mode (T.81 H.1.2.1).
  const ri = f.restartInterval;
  if (ri > 0 && ri % X !== 0) throw new LjpegUnsupported('JPEG lossless restart interval not a multiple of the line length');
  const rowsPerInterval = ri > 0 ? ri / X : Y;
  const initial = 1 << (P - pt - 1);
  // Working precision is P - Pt; results wrap modulo 2^16 (H.1.2.1).
  const work = pt > 0 || out instanceof Uint8Array ? new Uint16Array(n) : out;
  const tables = f.components.map((c) => c.table!);

  if (nc === 1 && psv === 1 && ri === 0 && work instanceof Uint16Array) {
    decodeSv1Mono(b, f.dataStart, tables[0]!, work, X, Y, initial);
    if (work !== out) for (let i = 0; i < n; i++) out[i] = work[i]! << pt;
    return { data: out, width: X, height: Y, components: nc, planar: false, rgb: false, reduction: 0 };
  }

  let pos = f.dataStart;
  const end = b.length;
  let acc = 0;
  let bits = 0;
  let fed = 0; // zero bytes fed past a marker or the end (reading them means truncated data)

  for (let y0 = 0; y0 < Y; y0 += rowsPerInterval) {
    if (y0 > 0) {
      // Restart: drop the partial byte, expect RSTn, reset the predictor to the first-line rule.
      if (fed * 8 - bits > 0) throw new Error('JPEG lossless: truncated entropy-coded segment');
      acc = 0;
      bits = 0;
      fed = 0;
      while (pos + 1 < end && !(b[pos] === 0xff && b[pos + 1]! >= 0xd0 && b[pos + 1]! <= 0xd7)) pos++;
      if (pos + 1 >= end) throw new Error('JPEG lossless: missing restart marker');
      pos += 2;
    }
    const y1 = Math.min(Y, y0 + rowsPerInterval);
    for (let y = y0; y < y1; y++) {
      const row = y * X * nc;
      const above = row - X * nc;
      for (let x = 0; x < X; x++) {
        for (let c = 0; c < nc; c++) {
          // Refill to at least 25 bits: a code (<= 16 bits) always fits.
          while (bits <= 24) {
            let v = 0;
            if (pos < end) {
              v = b[pos]!;
              if (v === 0xff) {
                if (b[pos + 1] === 0) pos += 2;
                else {
                  v = 0; // a marker: feed zeros, stay put
                  fed++;
                }
              } else pos++;
            } else fed++;
            acc = (acc << 8) | v;
            bits += 8;
          }
          const e = tables[c]![(acc >>> (bits - 16)) & 0xffff]!;
          if (e === 0) throw new Error('JPEG lossless: invalid Huffman code');
          bits -= e >> 8;
          const ssss = e & 0xff;
          let diff = 0;
          if (ssss === 16) diff = 32768;
          else if (ssss > 0) {
            while (bits < ssss) {
              let v = 0;
              if (pos < end) {
                v = b[pos]!;
                if (v === 0xff) {
                  if (b[pos + 1] === 0) pos += 2;
                  else {
                    v = 0;
                    fed++;
                  }
                } else pos++;
              } else fed++;
              acc = (acc << 8) | v;
              bits += 8;
            }
            bits -= ssss;
            const r = (acc >>> bits) & ((1 << ssss) - 1);
            diff = r < 1 << (ssss - 1) ? r - (1 << ssss) + 1 : r;
          }
          const i = row + x * nc + c;
          let pred: number;
          if (y === y0) pred = x === 0 ? initial : work[i - nc]!;
          else if (x === 0) pred = work[above + c]!;
          else if (psv === 1) pred = work[i - nc]!;
          else {
            const ra = work[i - nc]!;
            const rb = work[i - X * nc]!;
            const rc = work[i - X * nc - nc]!;
            pred =
              psv === 2
                ? rb
                : psv === 3
                  ? rc
                  : psv === 4
                    ? ra + rb - rc
                    : psv === 5
                      ? ra + ((rb - rc) >> 1)
                      : psv === 6
                        ? rb + ((ra - rc) >> 1)
                        : (ra + rb) >> 1;
          }
          work[i] = (pred + diff) & 0xffff;
        }
      }
    }
  }
  if (fed * 8 - bits > 0) throw new Error('JPEG lossless: truncated entropy-coded segment');
  if (work !== out) for (let i = 0; i < n; i++) out[i] = work[i]! << pt;
  return { data: out, width: X, height: Y, components: nc, planar: false, rgb: false, reduction: 0 };
}

/**
 * The entropy-coded bytes of the scan with byte stuffing removed (FF00 -> FF), up to the first
 * marker, plus 8 zero bytes of tail: lets the hot loop read without checking for FF. Whether the
 * scan ended at a marker or at the end of the data is reported for the truncation check.
 */
function unstuff(b: Uint8Array, start: number): Uint8Array {
  const out = new Uint8Array(b.length - start + 8);
  let o = 0;
  let i = start;
  for (;;) {
    const j = b.indexOf(0xff, i);
    const stop = j < 0 ? b.length : j;
    out.set(b.subarray(i, stop), o);
    o += stop - i;
    if (j < 0 || j + 1 >= b.length) break;
    if (b[j + 1] !== 0) break; // a marker (or fill bytes before one): the scan ends here
    out[o++] = 0xff;
    i = j + 2;
  }
  return out.subarray(0, o + 8);
}

/** Peek width of the one-lookup table: 2^12 entries (16 KiB) stay in L1. */
const PEEK = 12;

/** buildFastTable() for a PEEK-bit lookahead; codes longer than PEEK bits are flagged 64. */
function buildPeekTable(simple: Uint16Array): Int32Array {
  const t = new Int32Array(1 << PEEK);
  for (let peek = 0; peek < 1 << PEEK; peek++) {
    const e = simple[peek << (16 - PEEK)]!;
    if (e === 0) continue;
    const len = e >> 8;
    const ssss = e & 0xff;
    if (len > PEEK) t[peek] = 64;
    else if (ssss === 0) t[peek] = len;
    else if (ssss === 16) t[peek] = (32768 << 8) | len;
    else if (len + ssss <= PEEK) {
      const r = (peek >> (PEEK - len - ssss)) & ((1 << ssss) - 1);
      const diff = r < 1 << (ssss - 1) ? r - (1 << ssss) + 1 : r;
      t[peek] = (diff << 8) | (len + ssss);
    } else t[peek] = (ssss << 8) | 32 | len;
  }
  return t;
}

/** The hot case: one component, predictor 1 (Ra), no restarts. Same decoding as the general loop. */
function decodeSv1Mono(b: Uint8Array, start: number, simple: Uint16Array, out: Uint16Array, X: number, Y: number, initial: number): void {
  const d = unstuff(b, start);
  const dataEnd = d.length - 8; // real bytes; the rest is zero tail
  const t = buildPeekTable(simple);
  let pos = 0;
  let acc = 0;
  let bits = 0;
  let i = 0;
  let above = initial; // first sample of the previous line (Rb at x = 0); the first line uses 2^(P-Pt-1)
  for (let y = 0; y < Y; y++) {
    let prev = above;
    for (let x = 0; x < X; x++) {
      if (bits < 16) {
        acc = (acc << 16) | (d[pos]! << 8) | d[pos + 1]!;
        pos += 2;
        bits += 16;
      }
      const e = t[(acc >>> (bits - PEEK)) & ((1 << PEEK) - 1)]!;
      let diff: number;
      if ((e & 96) === 0) {
        if (e === 0) throw new Error('JPEG lossless: invalid Huffman code');
        bits -= e & 31;
        diff = e >> 8;
      } else {
        let ssss: number;
        if (e & 64) {
          // Long code: the full 16-bit table.
          const f = simple[(acc >>> (bits - 16)) & 0xffff]!;
          if (f === 0) throw new Error('JPEG lossless: invalid Huffman code');
          bits -= f >> 8;
          ssss = f & 0xff;
        } else {
          bits -= e & 31;
          ssss = (e >> 8) & 0xff;
        }
        if (ssss === 16) diff = 32768;
        else if (ssss === 0) diff = 0;
        else {
          if (bits < ssss) {
            acc = (acc << 16) | (d[pos]! << 8) | d[pos + 1]!;
            pos += 2;
            bits += 16;
          }
          bits -= ssss;
          const r = (acc >>> bits) & ((1 << ssss) - 1);
          diff = r < 1 << (ssss - 1) ? r - (1 << ssss) + 1 : r;
        }
      }
      prev = (prev + diff) & 0xffff;
      if (x === 0) above = prev;
      out[i++] = prev;
    }
    if (pos > dataEnd + 4) throw new Error('JPEG lossless: truncated entropy-coded segment');
  }
  // Bits consumed past the real bytes mean the data ended early.
  if (pos * 8 - bits > dataEnd * 8) throw new Error('JPEG lossless: truncated entropy-coded segment');
}
