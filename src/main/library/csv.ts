// RFC 4180 CSV reading: quoted fields may hold commas, doubled quotes and line breaks, so a record
// can span several lines; each record keeps the line it starts on, for messages that name a row.
// The parser moves by indexOf and slices (never a character at a time into a growing string), so
// time and memory stay linear in the file: a 60 MB quoted report cell is one slice, not 60 million
// concatenations. Files are read as strict UTF-8 text, and NUL bytes and ragged rows are refused
// with the file and line, since a CSV that is not what it seems would import silently wrong.
import fs from 'node:fs';

export interface CsvRecord {
  /** 1-based line of the file where the record starts (the header is line 1). */
  line: number;
  cells: string[];
}

const COMMA = 44;
const QUOTE = 34;
const CR = 13;
const LF = 10;

/** Line (1-based) of a character offset: one more than the line feeds before it. */
function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** Line feeds in text[from, to). */
function countLf(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * Calls `onRecord` for each record of CSV text (comma separated, CRLF or LF, optional UTF-8 BOM);
 * blank lines are skipped. Unquoted cells are trimmed, quoted ones kept as written. Every record
 * must have as many cells as the first (the header); a NUL character is refused.
 */
export function forEachCsvRecord(text: string, file: string, onRecord: (cells: string[], line: number) => void): void {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const nul = src.indexOf('\0');
  if (nul >= 0)
    throw new Error(`${file}: line ${lineAt(src, nul)}: contains a NUL byte; this is not a text CSV (binary, or saved as UTF-16?)`);
  const n = src.length;
  let width = -1;
  let line = 1;
  let i = 0;
  while (i < n) {
    const start = line;
    const cells: string[] = [];
    for (;;) {
      // A quote opens a quoted field only at its start (spaces before it allowed); elsewhere it is text.
      let j = i;
      while (j < n && (src.charCodeAt(j) === 32 || src.charCodeAt(j) === 9)) j++;
      let cell: string;
      if (j < n && src.charCodeAt(j) === QUOTE) {
        // the closing quote is the first one not doubled; the value is one slice, undoubled once
        let q = src.indexOf('"', j + 1);
        let doubled = false;
        while (q >= 0 && src.charCodeAt(q + 1) === QUOTE) {
          doubled = true;
          q = src.indexOf('"', q + 2);
        }
        if (q < 0) throw new Error(`${file}: line ${line}: a quoted field is never closed (missing ")`);
        line += countLf(src, j + 1, q);
        const value = doubled ? src.slice(j + 1, q).replaceAll('""', '"') : src.slice(j + 1, q);
        const k = q + 1;
        // text after the closing quote: kept (lenient), but whitespace never changes a quoted value
        let m = k;
        while (m < n) {
          const c = src.charCodeAt(m);
          if (c === COMMA || c === CR || c === LF) break;
          m++;
        }
        const after = m > k ? src.slice(k, m).replace(/\s+/g, '') : '';
        cell = after ? value + after : value;
        i = m;
      } else {
        let m = i;
        while (m < n) {
          const c = src.charCodeAt(m);
          if (c === COMMA || c === CR || c === LF) break;
          m++;
        }
        cell = src.slice(i, m).trim();
        i = m;
      }
      cells.push(cell);
      if (i >= n) break;
      const c = src.charCodeAt(i);
      if (c === COMMA) {
        i++;
        if (i < n) continue;
        cells.push(''); // a comma at the very end of the text ends a last, empty cell
        break;
      }
      i += c === CR && src.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
      break;
    }
    if (cells.length === 1 && cells[0] === '') continue; // a blank line (or a lone "")
    if (width < 0) width = cells.length;
    else if (cells.length !== width)
      throw new Error(
        `${file}: line ${start}: expected ${width} column${width === 1 ? '' : 's'} (as in the header) but found ${cells.length}` +
          (cells.length < width ? ' (a missing comma, or a line break in an unquoted field?)' : ' (an unquoted comma in a field?)'),
      );
    onRecord(cells, start);
  }
}

/** Parses CSV text into records (see forEachCsvRecord). */
export function parseCsvRecords(text: string, file = 'CSV'): CsvRecord[] {
  const out: CsvRecord[] = [];
  forEachCsvRecord(text, file, (cells, line) => out.push({ line, cells }));
  return out;
}

/** The offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) [need, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [need, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** Why a file cannot be read, in words (no raw ENOENT / EISDIR). */
export function readFailure(file: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EISDIR'
        ? 'it is a folder, not a file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : e instanceof Error
            ? e.message
            : String(e);
  return new Error(`cannot read ${file}: ${why}`);
}

/**
 * A text file's contents, refusing anything that is not UTF-8 with the line of the first bad byte
 * (a Latin-1 or Windows-1252 export would otherwise turn accented letters into U+FFFD silently).
 */
export function readUtf8File(file: string): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw readFailure(file, e);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    let line = 1;
    for (let i = bytes.indexOf(LF); i >= 0 && i < at; i = bytes.indexOf(LF, i + 1)) line++;
    const hex = at >= 0 ? ` (byte 0x${bytes[at]!.toString(16).toUpperCase().padStart(2, '0')} at offset ${at})` : '';
    throw new Error(`${file}: line ${line}: not UTF-8 text${hex}; re-save the file as UTF-8 (e.g. "CSV UTF-8" in a spreadsheet)`);
  }
}
