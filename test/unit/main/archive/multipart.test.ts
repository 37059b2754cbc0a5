// The streaming multipart/related reader on hand-built bodies: every split of the body into chunks
// (a boundary cut anywhere) gives the same parts; preamble, epilogue and transport padding are
// ignored; a truncated body, a missing boundary and a bad part header are refused with a reason,
// and the sink of the part that broke off is aborted, never closed.
import { describe, expect, it } from 'vitest';
import {
  boundaryOf,
  MultipartError,
  parseMediaType,
  readMultipart,
  type PartInfo,
  type PartSink,
} from '../../../../src/main/archive/multipart';

interface Got {
  info: PartInfo;
  data: Buffer;
  closed: boolean;
  aborted: boolean;
}

async function* chunksOf(body: Buffer, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  let i = 0;
  while (at < body.length) {
    const n = sizes[i++ % sizes.length]!;
    yield new Uint8Array(body.subarray(at, at + n));
    at += n;
  }
}

async function parse(
  body: Buffer,
  boundary: string,
  sizes = [body.length || 1],
  parts: Got[] = [],
): Promise<{ parts: Got[]; count: number }> {
  const count = await readMultipart(chunksOf(body, sizes), boundary, (info) => {
    const got: Got = { info, data: Buffer.alloc(0), closed: false, aborted: false };
    parts.push(got);
    const sink: PartSink = {
      write: (c) => {
        got.data = Buffer.concat([got.data, c]);
        return Promise.resolve();
      },
      close: () => {
        got.closed = true;
        return Promise.resolve();
      },
      abort: () => {
        got.aborted = true;
        return Promise.resolve();
      },
    };
    return Promise.resolve(sink);
  });
  return { parts, count };
}

const B = 'b0undary-XYZ';
/** Binary payloads that contain CRLFs, dashes and a near-boundary. */
const payloads = [
  Buffer.concat([Buffer.from('DICM\r\n--b0undary-XY\r\n'), Buffer.from([0, 1, 2, 255, 13, 10, 45, 45])]),
  Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256)),
];

function body(opts: { preamble?: string; epilogue?: string; padding?: string; close?: boolean } = {}): Buffer {
  const pieces: Buffer[] = [Buffer.from(opts.preamble ?? '')];
  payloads.forEach((p, i) => {
    pieces.push(Buffer.from(`${opts.preamble || i > 0 ? '\r\n' : ''}--${B}${opts.padding ?? ''}\r\n`));
    pieces.push(
      Buffer.from(`Content-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.4.90\r\nContent-Length: ${p.length}\r\n\r\n`),
    );
    pieces.push(p);
  });
  if (opts.close !== false) pieces.push(Buffer.from(`\r\n--${B}--${opts.epilogue ?? ''}`));
  return Buffer.concat(pieces);
}

describe('multipart/related reader', () => {
  it('reads parts with their headers and transfer syntax, whole, in one chunk', async () => {
    const { parts, count } = await parse(body(), B);
    expect(count).toBe(2);
    expect(parts.map((p) => p.data)).toEqual(payloads);
    expect(parts.every((p) => p.closed && !p.aborted)).toBe(true);
    expect(parts[0]!.info.contentType).toBe('application/dicom');
    expect(parts[0]!.info.transferSyntax).toBe('1.2.840.10008.1.2.4.90');
    expect(parts[1]!.info.headers['content-length']).toBe(String(payloads[1]!.length));
  });

  it('gives the same parts however the body is cut into chunks (boundary split anywhere)', async () => {
    const whole = body({ preamble: 'preamble text\r\n', epilogue: '\r\nepilogue --b0undary-XYZ', padding: ' \t' });
    for (const sizes of [[1], [2], [3], [5, 1], [7], [13, 2], [16], [64, 1, 3], [255]]) {
      const { parts, count } = await parse(whole, B, sizes);
      expect(count, `chunks of ${sizes.join(',')}`).toBe(2);
      expect(parts.map((p) => p.data)).toEqual(payloads);
    }
  });

  it('ignores a CRLF preamble, text preamble and an epilogue', async () => {
    for (const preamble of ['\r\n', 'This is a preamble.\r\n']) {
      const { parts } = await parse(body({ preamble, epilogue: '\r\ntrailing epilogue\r\n' }), B, [4]);
      expect(parts.map((p) => p.data)).toEqual(payloads);
    }
  });

  it('takes the boundary from a quoted or unquoted Content-Type parameter', () => {
    expect(boundaryOf(`multipart/related; type="application/dicom"; boundary=${B}`)).toBe(B);
    expect(boundaryOf('Multipart/Related; boundary="a b;c=d"; type="application/dicom; x=1"')).toBe('a b;c=d');
    expect(parseMediaType('multipart/related; type="application/dicom; transfer-syntax=*"; boundary=x').params).toEqual({
      type: 'application/dicom; transfer-syntax=*',
      boundary: 'x',
    });
    expect(() => boundaryOf('multipart/related; type="application/dicom"')).toThrow(/has no boundary/);
    expect(() => boundaryOf('application/json')).toThrow(/application\/json, not multipart\/related/);
    expect(() => boundaryOf(null)).toThrow(/no Content-Type/);
  });

  it('refuses a truncated body and aborts the part it broke off in', async () => {
    const whole = body();
    const cut = whole.subarray(0, whole.length - 40);
    const parts: Got[] = [];
    const err = await parse(cut, B, [10], parts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MultipartError);
    expect((err as Error).message).toMatch(/ends inside part 2 .*truncated/);
    expect(parts.map((p) => (p.closed ? 'closed' : p.aborted ? 'aborted' : 'open'))).toEqual(['closed', 'aborted']);
  });

  it('refuses a body without its closing delimiter, and one that never names the boundary', async () => {
    await expect(parse(body({ close: false }), B)).rejects.toThrow(/ends inside part 2/);
    const full = body();
    await expect(parse(full.subarray(0, full.indexOf(`--${B}--`) + 2 + B.length), B)).rejects.toThrow(/without its closing boundary/);
    await expect(parse(Buffer.from('<html>Internal error</html>'), B)).rejects.toThrow(/boundary "b0undary-XYZ" never occurs/);
    await expect(parse(Buffer.alloc(0), B)).rejects.toThrow(/empty/);
    await expect(parse(body(), 'another-boundary')).rejects.toThrow(/never occurs/);
  });

  it('refuses a part whose headers are not headers, or never end', async () => {
    const bad = Buffer.from(`--${B}\r\nthis is not a header\r\n\r\ndata\r\n--${B}--`);
    await expect(parse(bad, B)).rejects.toThrow(/part 1: a header line is not "Name: value"/);
    const endless = Buffer.concat([Buffer.from(`--${B}\r\nX-A: `), Buffer.alloc(70 * 1024, 0x61)]);
    await expect(parse(endless, B, [4096])).rejects.toThrow(/part 1: no blank line/);
    const junk = Buffer.from(`--${B}junk\r\nContent-Type: a/b\r\n\r\nx\r\n--${B}--`);
    await expect(parse(junk, B)).rejects.toThrow(/part 1: unexpected characters after the boundary/);
  });

  it('reads a part without headers and an empty part', async () => {
    const b = Buffer.from(`--${B}\r\n\r\nabc\r\n--${B}\r\nContent-Type: application/dicom\r\n\r\n\r\n--${B}--`);
    const { parts } = await parse(b, B, [3]);
    expect(parts.map((p) => p.data.toString())).toEqual(['abc', '']);
    expect(parts[0]!.info.contentType).toBeNull();
    expect(parts[1]!.info.transferSyntax).toBeNull();
  });

  it('streams: a large part reaches the sink in pieces, not in one buffer at the end', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    const b = Buffer.concat([Buffer.from(`--${B}\r\nContent-Type: application/dicom\r\n\r\n`), big, Buffer.from(`\r\n--${B}--\r\n`)]);
    let writes = 0;
    let largest = 0;
    let total = 0;
    await readMultipart(chunksOf(b, [65536]), B, () =>
      Promise.resolve({
        write: (c) => {
          writes++;
          largest = Math.max(largest, c.length);
          total += c.length;
          return Promise.resolve();
        },
        close: () => Promise.resolve(),
        abort: () => Promise.resolve(),
      }),
    );
    expect(total).toBe(big.length);
    expect(writes).toBeGreaterThan(60);
    expect(largest).toBeLessThanOrEqual(65536);
  });
});
