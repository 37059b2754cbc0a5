// A streaming reader of multipart/related bodies (RFC 2046 §5.1, as WADO-RS sends instances): each
// part's bytes go to a sink as they arrive, so a 50 MB mammogram is never held in memory, let alone
// twice. Only a delimiter's length of bytes is kept back between chunks (a boundary may be split
// across them). A body that ends before its closing delimiter, has no boundary, or a part whose
// headers do not parse is an error that says which part and why.

export class MultipartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MultipartError';
  }
}

/** One part's headers: names lower-cased; `contentType` is the media type alone, lower-cased. */
export interface PartInfo {
  /** 0-based position in the body. */
  index: number;
  headers: Record<string, string>;
  contentType: string | null;
  /** The Content-Type's transfer-syntax parameter (WADO-RS names the part's DICOM transfer syntax there). */
  transferSyntax: string | null;
}

/** Where a part's bytes go. `abort` is called instead of `close` when the body breaks off inside the part. */
export interface PartSink {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

export interface MediaType {
  /** type/subtype, lower-cased. */
  type: string;
  /** Parameter names lower-cased; quoted values unquoted. */
  params: Record<string, string>;
}

/** Parses a Content-Type value: `type/subtype; name=value; name="quoted; value"`. */
export function parseMediaType(value: string): MediaType {
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const params: Record<string, string> = {};
  let i = semi < 0 ? value.length : semi + 1;
  while (i < value.length) {
    while (i < value.length && (value[i] === ' ' || value[i] === '\t' || value[i] === ';')) i++;
    const eq = value.indexOf('=', i);
    if (eq < 0) break;
    const name = value.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let v = '';
    if (value[i] === '"') {
      i++;
      while (i < value.length && value[i] !== '"') {
        if (value[i] === '\\' && i + 1 < value.length) i++;
        v += value[i];
        i++;
      }
      i++; // the closing quote
      const next = value.indexOf(';', i);
      i = next < 0 ? value.length : next;
    } else {
      const next = value.indexOf(';', i);
      v = value.slice(i, next < 0 ? value.length : next).trim();
      i = next < 0 ? value.length : next;
    }
    if (name) params[name] = v;
  }
  return { type, params };
}

/** The boundary of a multipart Content-Type, or a MultipartError saying what is wrong with it. */
export function boundaryOf(contentType: string | null): string {
  if (!contentType) throw new MultipartError('the response has no Content-Type (expected multipart/related)');
  const { type, params } = parseMediaType(contentType);
  if (!type.startsWith('multipart/')) throw new MultipartError(`the response is ${type || 'untyped'}, not multipart/related`);
  const boundary = params.boundary;
  if (!boundary) throw new MultipartError(`the response's Content-Type has no boundary (${contentType})`);
  // RFC 2046: 1 to 70 characters.
  if (boundary.length > 70) throw new MultipartError(`the multipart boundary is ${boundary.length} characters long (at most 70)`);
  return boundary;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
/** Part headers longer than this are not WADO-RS headers: the body is not what it claims. */
const MAX_HEADER_BYTES = 64 * 1024;
/** Transport padding after a delimiter (RFC 2046 allows whitespace before the CRLF). */
const MAX_PADDING = 1024;

type State = 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'epilogue';

/**
 * Reads a multipart body from `body`, opening a sink per part with `openPart` and streaming the
 * part's content into it. Resolves with the number of parts once the closing delimiter has been
 * read; rejects with a MultipartError for a malformed or truncated body (the open sink is aborted).
 */
export async function readMultipart(
  body: AsyncIterable<Uint8Array>,
  boundary: string,
  openPart: (part: PartInfo) => Promise<PartSink>,
): Promise<number> {
  const dash = Buffer.from(`--${boundary}`);
  // Inside a body the delimiter is always preceded by CRLF; before the first part it may open the body.
  const delimiter = Buffer.concat([CRLF, dash]);
  let state: State = 'preamble';
  let buf: Buffer = Buffer.alloc(0);
  let parts = 0;
  let sink: PartSink | null = null;
  let partBytes = 0;
  let atStart = true; // nothing consumed yet: the preamble may be empty

  const where = (): string => `part ${parts + 1}`;
  const fail = async (message: string): Promise<never> => {
    const open = sink;
    sink = null;
    if (open) await open.abort();
    throw new MultipartError(message);
  };

  try {
    for await (const chunk of body) {
      buf = buf.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([buf, chunk]);
      // Consume as much of `buf` as the current state can decide on.
      for (;;) {
        if (state === 'preamble') {
          if (atStart && buf.length >= dash.length && buf.subarray(0, dash.length).equals(dash)) {
            buf = buf.subarray(dash.length);
            state = 'after-delimiter';
            continue;
          }
          if (atStart && buf.length < dash.length && dash.subarray(0, buf.length).equals(buf)) break; // may still be the delimiter
          const at = buf.indexOf(delimiter);
          if (at >= 0) {
            buf = buf.subarray(at + delimiter.length);
            atStart = false;
            state = 'after-delimiter';
            continue;
          }
          // Keep only what may be the start of a delimiter.
          const keep = Math.min(buf.length, delimiter.length - 1);
          buf = Buffer.from(buf.subarray(buf.length - keep));
          atStart = false;
          break;
        }
        if (state === 'after-delimiter') {
          if (buf.length < 2) break;
          if (buf[0] === 0x2d && buf[1] === 0x2d) {
            // "--": the closing delimiter; what follows is the epilogue.
            state = 'epilogue';
            buf = Buffer.alloc(0);
            break;
          }
          const eol = buf.indexOf(CRLF);
          if (eol < 0) {
            if (buf.length > MAX_PADDING) await fail(`${where()}: the boundary is not followed by a line end`);
            break;
          }
          if (/[^ \t]/.test(buf.subarray(0, eol).toString('latin1')))
            await fail(`${where()}: unexpected characters after the boundary (another boundary starting with the same characters?)`);
          buf = buf.subarray(eol + CRLF.length);
          state = 'headers';
          continue;
        }
        if (state === 'headers') {
          // No headers at all: the blank line comes first.
          const end = buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a ? -2 : buf.indexOf(HEADER_END);
          if (end === -1) {
            if (buf.length > MAX_HEADER_BYTES) await fail(`${where()}: no blank line after ${MAX_HEADER_BYTES} bytes of part headers`);
            break;
          }
          const text = end === -2 ? '' : buf.subarray(0, end).toString('latin1');
          buf = buf.subarray(end === -2 ? 2 : end + HEADER_END.length);
          let info: PartInfo;
          try {
            info = partInfo(text, parts);
          } catch (err) {
            return await fail((err as Error).message);
          }
          sink = await openPart(info);
          partBytes = 0;
          state = 'body';
          continue;
        }
        if (state === 'body') {
          const at = buf.indexOf(delimiter);
          if (at >= 0) {
            if (at > 0) await sink!.write(buf.subarray(0, at));
            partBytes += at;
            const done = sink!;
            sink = null;
            await done.close();
            parts++;
            buf = buf.subarray(at + delimiter.length);
            state = 'after-delimiter';
            continue;
          }
          // Everything but a possible delimiter start can go to the sink now.
          const safe = buf.length - (delimiter.length - 1);
          if (safe > 0) {
            await sink!.write(buf.subarray(0, safe));
            partBytes += safe;
            buf = Buffer.from(buf.subarray(safe));
          }
          break;
        }
        // epilogue: ignored.
        buf = Buffer.alloc(0);
        break;
      }
    }
  } catch (err) {
    // A stream error (dropped connection, timeout): the open part is incomplete.
    const open = sink as PartSink | null;
    sink = null;
    if (open) await open.abort();
    throw err;
  }

  if (state === 'epilogue') return parts;
  if (state === 'preamble')
    return fail(parts === 0 && atStart ? 'the multipart body is empty' : `the boundary "${boundary}" never occurs in the multipart body`);
  if (state === 'body')
    return fail(`the multipart body ends inside ${where()} after ${partBytes + buf.length} bytes, before its closing boundary (truncated)`);
  if (state === 'headers') return fail(`the multipart body ends inside the headers of ${where()} (truncated)`);
  return fail(`the multipart body ends after ${parts} part(s) without its closing boundary "--${boundary}--" (truncated)`);
}

function partInfo(text: string, index: number): PartInfo {
  const headers: Record<string, string> = {};
  const lines = text.split('\r\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line === '') continue;
    // Folded header lines (obsolete but legal) continue the previous one.
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1]!)) line += ' ' + lines[++i]!.trim();
    const colon = line.indexOf(':');
    if (colon <= 0 || /[^!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(line.slice(0, colon)))
      throw new MultipartError(`part ${index + 1}: a header line is not "Name: value": ${JSON.stringify(line.slice(0, 80))}`);
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const ct = headers['content-type'];
  const media = ct ? parseMediaType(ct) : null;
  return {
    index,
    headers,
    contentType: media ? media.type : null,
    transferSyntax: media?.params['transfer-syntax'] ?? null,
  };
}
