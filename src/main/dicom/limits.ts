// Size bounds checked before anything is allocated: the decoded size of a frame and of a whole
// decode, and how deep sequences may nest. A file may claim 65500x65500 pixels, 2^31 frames or
// sequences 10,000 deep in a few bytes; these checks turn such claims into a refusal naming the
// limit instead of an engine crash. Also the shared check of what a codestream says about itself
// (JPEG SOF, JPEG-LS SOF55, JPEG 2000 SIZ) against the header, for decode.ts and the codecs.
import { DicomDataError } from './errors';

export interface DicomLimits {
  /** Largest decoded frame in bytes (rows x columns x samples x 4, as Int32 stored values). */
  maxFrameBytes: number;
  /** Largest total one decode of all frames may hold (`cleft dicom pixels`, decodeAllFrames). */
  maxDecodedBytes: number;
  /** Deepest nesting of sequences the parser follows. */
  maxSequenceDepth: number;
}

const MB = 1024 * 1024;
const DEFAULTS: DicomLimits = { maxFrameBytes: 1024 * MB, maxDecodedBytes: 2048 * MB, maxSequenceDepth: 64 };

/** Environment overrides, so a CLI user or a test child process can lower or raise a limit. */
const ENV: Record<keyof DicomLimits, { name: string; scale: number }> = {
  maxFrameBytes: { name: 'CLEFT_DICOM_MAX_FRAME_MB', scale: MB },
  maxDecodedBytes: { name: 'CLEFT_DICOM_MAX_DECODED_MB', scale: MB },
  maxSequenceDepth: { name: 'CLEFT_DICOM_MAX_SEQUENCE_DEPTH', scale: 1 },
};

let current: DicomLimits | undefined;

export function dicomLimits(): DicomLimits {
  if (!current) {
    current = { ...DEFAULTS };
    for (const key of Object.keys(ENV) as (keyof DicomLimits)[]) {
      const raw = process.env[ENV[key].name];
      const v = raw === undefined ? NaN : Number(raw);
      if (Number.isFinite(v) && v > 0) current[key] = Math.floor(v * ENV[key].scale);
    }
  }
  return current;
}

/** Overrides some limits for this process (tests, embedding); `undefined` restores the defaults and environment. */
export function setDicomLimits(limits: Partial<DicomLimits> | undefined): void {
  current = undefined;
  if (limits) current = { ...dicomLimits(), ...limits };
}

export function limitName(key: keyof DicomLimits): string {
  return ENV[key].name;
}

function mb(bytes: number): string {
  if (bytes < MB / 10) return `${bytes} bytes`;
  return bytes >= 10 * MB ? `${Math.round(bytes / MB)} MB` : `${(bytes / MB).toFixed(1)} MB`;
}

/** Throws 'too_large' when one decoded frame of this size would exceed maxFrameBytes. */
export function checkFrameSize(rows: number, columns: number, samples: number): void {
  const bytes = rows * columns * samples * 4;
  const max = dicomLimits().maxFrameBytes;
  if (bytes > max) {
    throw new DicomDataError(
      'too_large',
      `one ${columns}x${rows}${samples > 1 ? `x${samples}` : ''} frame would take ${mb(bytes)} decoded; the limit is ${mb(max)} (${limitName('maxFrameBytes')})`,
    );
  }
}

/** Throws 'too_large' when decoding `frames` frames at once would exceed maxDecodedBytes. */
export function checkDecodedTotal(frames: number, rows: number, columns: number, samples: number): void {
  const bytes = frames * rows * columns * samples * 4;
  const max = dicomLimits().maxDecodedBytes;
  if (bytes > max) {
    throw new DicomDataError(
      'too_large',
      `${frames} frames of ${columns}x${rows} would take ${mb(bytes)} decoded; the limit is ${mb(max)} (${limitName('maxDecodedBytes')}); decode one frame at a time`,
    );
  }
}

/** What a codestream says about its own image, read from its first marker segments. */
export interface CodestreamClaim {
  kind: 'JPEG' | 'JPEG-LS' | 'JPEG 2000';
  width: number;
  /** 0 when a JPEG defers the height to a DNL marker. */
  height: number;
  components: number;
  /** Bits per sample as coded (JPEG P, JPEG 2000 Ssiz of the first component). */
  precision: number;
}

/** What the DICOM header says the codestream must hold. */
export interface ExpectedGeometry {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  /** When given, a stream with more bits per sample than this is refused. */
  bitsAllocated?: number;
}

const u16 = (b: Uint8Array, i: number): number => (b[i]! << 8) | b[i + 1]!;
const u32 = (b: Uint8Array, i: number): number => u16(b, i) * 65536 + u16(b, i + 2);

/**
 * Reads the frame header of a JPEG-family or JPEG 2000 codestream (JP2 boxes allowed), or returns
 * null when none is found in the bytes given (then the codec decides). Never throws.
 */
export function codestreamClaim(b: Uint8Array): CodestreamClaim | null {
  if (b.length < 4) return null;
  if (b[0] === 0xff && b[1] === 0xd8) {
    // JPEG: walk marker segments to the first SOFn (or SOF55 for JPEG-LS).
    let i = 2;
    while (i + 4 <= b.length) {
      if (b[i] !== 0xff) return null;
      const m = b[i + 1]!;
      if (m === 0xff) {
        i++;
        continue;
      }
      if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
        i += 2;
        continue;
      }
      const len = u16(b, i + 2);
      const isSof = (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) || m === 0xf7;
      if (isSof) {
        if (i + 10 > b.length) return null;
        return {
          kind: m === 0xf7 ? 'JPEG-LS' : 'JPEG',
          precision: b[i + 4]!,
          height: u16(b, i + 5),
          width: u16(b, i + 7),
          components: b[i + 9]!,
        };
      }
      if (m === 0xda || m === 0xd9 || len < 2) return null;
      i += 2 + len;
    }
    return null;
  }
  // JPEG 2000: SOC then SIZ (possibly after JP2 boxes: search a little way in).
  const limit = Math.min(b.length - 40, 4096);
  for (let i = 0; i <= limit; i++) {
    if (b[i] === 0xff && b[i + 1] === 0x4f && b[i + 2] === 0xff && b[i + 3] === 0x51) {
      const s = i + 4; // Lsiz at s, Rsiz s+2, Xsiz s+4, Ysiz s+8, XOsiz s+12, YOsiz s+16, ..., Csiz s+36
      const width = u32(b, s + 4) - u32(b, s + 12);
      const height = u32(b, s + 8) - u32(b, s + 16);
      return {
        kind: 'JPEG 2000',
        width: Math.max(0, width),
        height: Math.max(0, height),
        components: u16(b, s + 36),
        precision: ((b[s + 38] ?? 0) & 0x7f) + 1,
      };
    }
  }
  return null;
}

/**
 * Checks a codestream's own frame header against the DICOM header before a codec allocates
 * anything: a stream claiming another size or component count is refused ('corrupt'), and so is
 * one whose size is over the frame limit ('too_large'). Codecs may call it on their own headers.
 */
export function checkCodestreamClaim(b: Uint8Array, expect: ExpectedGeometry): void {
  const c = codestreamClaim(b);
  if (!c) return;
  checkClaim(c, expect);
}

export function checkClaim(c: CodestreamClaim, expect: ExpectedGeometry): void {
  if (c.width !== expect.columns || (c.height !== 0 && c.height !== expect.rows)) {
    throw new DicomDataError(
      'corrupt',
      `the ${c.kind} stream is ${c.width}x${c.height || '?'}, the header says ${expect.columns}x${expect.rows}`,
    );
  }
  if (c.components !== expect.samplesPerPixel) {
    throw new DicomDataError('corrupt', `the ${c.kind} stream has ${c.components} components, the header says ${expect.samplesPerPixel}`);
  }
  if (expect.bitsAllocated !== undefined && c.precision > expect.bitsAllocated) {
    throw new DicomDataError('corrupt', `the ${c.kind} stream has ${c.precision}-bit samples, BitsAllocated is ${expect.bitsAllocated}`);
  }
  checkFrameSize(c.height || expect.rows, c.width, c.components);
}

/**
 * The RLE counterpart of checkCodestreamClaim: the header's segment count must be one per byte of
 * each sample (SamplesPerPixel x BitsAllocated/8), offsets inside the frame, and the frame long
 * enough to expand to Rows x Columns (PackBits turns 2 bytes into at most 128).
 */
export function checkRleFrame(b: Uint8Array, frameLength: number, expect: ExpectedGeometry & { bitsAllocated: number }): void {
  if (b.length < 64) throw new DicomDataError('corrupt', `the RLE frame is ${b.length} bytes, shorter than its 64-byte header`);
  const dv = new DataView(b.buffer, b.byteOffset, 64);
  const segments = dv.getUint32(0, true);
  const want = expect.samplesPerPixel * Math.ceil(expect.bitsAllocated / 8);
  if (segments !== want) {
    throw new DicomDataError('corrupt', `the RLE header lists ${segments} segments, the header's geometry needs ${want}`);
  }
  for (let k = 0; k < segments; k++) {
    const off = dv.getUint32(4 + 4 * k, true);
    if (off < 64 || off >= frameLength)
      throw new DicomDataError('corrupt', `RLE segment ${k + 1} starts at ${off}, outside the ${frameLength}-byte frame`);
  }
  const pixels = expect.rows * expect.columns;
  if ((frameLength - 64) * 64 < segments * pixels) {
    throw new DicomDataError(
      'corrupt',
      `${frameLength} bytes of RLE data cannot expand to ${segments} segments of ${expect.columns}x${expect.rows}`,
    );
  }
}
