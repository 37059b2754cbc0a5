// Reading a label spreadsheet into a header and rows of text cells, each row with the line it
// starts on: CSV/TSV with csv-parse (delimiter from the header line: tab, comma or semicolon; UTF-8
// with or without BOM; quoted fields with delimiters and line breaks) and XLSX with read-excel-file
// (first sheet, or the one named). Anything else, and text that is not UTF-8, is refused with the
// file and line.
import { parse } from 'csv-parse/sync';
import readXlsxFile from 'read-excel-file/node';
import { CleftError } from '../../common/errors';

export interface LabelTable {
  file: string;
  format: 'csv' | 'tsv' | 'xlsx';
  delimiter: string | null;
  sheet: string | null;
  header: string[];
  /** Data rows (blank ones left out); `line` is 1-based with the header on line 1. */
  rows: { line: number; cells: string[] }[];
}

const bad = (message: string) => new CleftError('invalid_input', message);

const ZIP = [0x50, 0x4b, 0x03, 0x04];
const OLE = [0xd0, 0xcf, 0x11, 0xe0];
const startsWith = (b: Uint8Array, sig: number[]) => sig.every((v, i) => b[i] === v);

/** Reads `bytes` (the contents of `file`) as a label table. */
export async function readLabelTable(file: string, bytes: Buffer, opts: { sheet?: string | undefined } = {}): Promise<LabelTable> {
  if (bytes.length === 0) throw bad(`${file}: the file is empty`);
  if (startsWith(bytes, ZIP)) return readXlsx(file, bytes, opts.sheet);
  if (startsWith(bytes, OLE))
    throw bad(`${file}: an old Excel (.xls) or other OLE file; save it as .xlsx or as CSV UTF-8 (CSV, TSV and XLSX are read)`);
  if (opts.sheet) throw bad(`${file}: --sheet applies to XLSX files; this one is text (CSV/TSV)`);
  return readDelimited(file, bytes);
}

function readDelimited(file: string, bytes: Buffer): LabelTable {
  // NUL bytes first: a binary file is better named as such than as text in a wrong encoding
  const nul = bytes.indexOf(0);
  if (nul >= 0)
    throw bad(`${file}: line ${lineOfByte(bytes, nul)}: contains a NUL byte; not a CSV/TSV/XLSX file (binary, or saved as UTF-16?)`);
  checkUtf8(file, bytes);
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const delimiter = detectDelimiter(bytes.subarray(bom, Math.min(bytes.length, bom + 65536)).toString('utf8'));
  let records: string[][];
  try {
    // blank lines are kept as records (one empty cell), so record k starts on line k + 1 plus the
    // line breaks inside quoted cells before it: no per-record position info needed (3x faster)
    records = parse(bytes, { bom: true, delimiter, relax_column_count: true }) as string[][];
  } catch (e) {
    const err = e as { message?: string; lines?: number };
    const line = typeof err.lines === 'number' ? err.lines : 1;
    throw bad(`${file}: line ${line}: not readable as ${delimiter === '\t' ? 'TSV' : 'CSV'}: ${err.message ?? String(e)}`);
  }
  const out: { line: number; cells: string[] }[] = [];
  let extra = 0;
  for (let k = 0; k < records.length; k++) {
    const cells = records[k]!;
    out.push({ line: k + 1 + extra, cells: cells.map((c) => c.trim()) });
    for (const c of cells) if (c.includes('\n') || c.includes('\r')) extra += (c.match(/\r\n|\r|\n/g) ?? []).length;
  }
  const rows = out.filter((r) => r.cells.some((c) => c !== ''));
  const header = rows.shift();
  if (!header) throw bad(`${file}: the file is empty (no header line)`);
  return {
    file,
    format: delimiter === '\t' ? 'tsv' : 'csv',
    delimiter,
    sheet: null,
    header: header.cells,
    rows,
  };
}

/** The delimiter of the header line: the most frequent of tab, comma and semicolon outside quotes. */
export function detectDelimiter(text: string): string {
  const counts = new Map<string, number>([
    ['\t', 0],
    [',', 0],
    [';', 0],
  ]);
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '\n' || ch === '\r')) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  let best = ',';
  let n = 0;
  for (const [d, c] of counts) if (c > n) [best, n] = [d, c];
  return best;
}

function lineOfByte(bytes: Buffer, at: number): number {
  let line = 1;
  for (let i = bytes.indexOf(0x0a); i >= 0 && i < at; i = bytes.indexOf(0x0a, i + 1)) line++;
  return line;
}

function checkUtf8(file: string, bytes: Buffer): void {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // find the first bad byte for the message (decode shrinking prefixes would be quadratic)
    let at = 0;
    for (let i = 0; i < bytes.length;) {
      const c = bytes[i]!;
      const need = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
      let ok = need >= 0;
      for (let k = 1; ok && k <= need; k++) ok = ((bytes[i + k] ?? 0) & 0xc0) === 0x80;
      if (!ok) {
        at = i;
        break;
      }
      i += need + 1;
    }
    const hex = bytes[at]!.toString(16).toUpperCase().padStart(2, '0');
    throw bad(
      `${file}: line ${lineOfByte(bytes, at)}: not UTF-8 text (byte 0x${hex} at offset ${at}); ` +
        're-save it as UTF-8 (e.g. "CSV UTF-8" in a spreadsheet) or as .xlsx',
    );
  }
}

async function readXlsx(file: string, bytes: Buffer, sheet: string | undefined): Promise<LabelTable> {
  let sheets: { sheet: string; data: unknown[][] }[];
  try {
    // numbers as written (an accession of 16 digits must not become a rounded double)
    sheets = (await readXlsxFile(bytes, { parseNumber: (s: string) => s })) as { sheet: string; data: unknown[][] }[];
  } catch (e) {
    throw bad(`${file}: not a readable XLSX workbook (${e instanceof Error ? e.message : String(e)}); CSV, TSV and XLSX are read`);
  }
  const chosen = sheet === undefined ? sheets[0] : sheets.find((s) => s.sheet === sheet);
  if (!chosen) {
    const names = sheets.map((s) => `"${s.sheet}"`).join(', ');
    throw bad(
      sheet === undefined ? `${file}: the workbook has no sheet` : `${file}: no sheet named "${sheet}" (the workbook has ${names})`,
    );
  }
  const rows = chosen.data.map((r, i) => ({ line: i + 1, cells: r.map(cellText) }));
  const header = rows.shift();
  if (!header || header.cells.every((c) => c === '')) throw bad(`${file}: sheet "${chosen.sheet}" is empty (no header row)`);
  return {
    file,
    format: 'xlsx',
    delimiter: null,
    sheet: chosen.sheet,
    header: header.cells,
    rows: rows.filter((r) => r.cells.some((c) => c !== '')),
  };
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'string') return v.trim();
  return String(v as number | boolean);
}
