// RFC 4180 CSV reading: quoted fields may hold commas, doubled quotes and line breaks, so a record
// can span several lines; each record keeps the line it starts on, for messages that name a row.
export interface CsvRecord {
  /** 1-based line of the file where the record starts (the header is line 1). */
  line: number;
  cells: string[];
}

/** Parses CSV text (comma separated, CRLF or LF, optional UTF-8 BOM); blank lines are skipped. */
export function parseCsvRecords(text: string, file = 'CSV'): CsvRecord[] {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const out: CsvRecord[] = [];
  let line = 1;
  let start = 1;
  let cells: string[] = [];
  let cur = '';
  let quoted = false;
  let wasQuoted = false;
  let quoteLine = 0;
  const endCell = () => {
    cells.push(wasQuoted ? cur : cur.trim());
    cur = '';
    wasQuoted = false;
  };
  const endRecord = () => {
    endCell();
    if (cells.length > 1 || cells[0] !== '') out.push({ line: start, cells });
    cells = [];
  };
  for (let i = 0; i < src.length; i++) {
    const ch = src[i]!;
    if (quoted) {
      if (ch === '"') {
        if (src[i + 1] === '"') {
          cur += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        cur += ch;
      }
      continue;
    }
    if (ch === '"') {
      // A quote opens a quoted field only at its start (spaces before it allowed); elsewhere it is text.
      if (cur.trim() === '' && !wasQuoted) {
        quoted = true;
        wasQuoted = true;
        quoteLine = line;
        cur = '';
      } else cur += ch;
    } else if (ch === ',') endCell();
    else if (ch === '\r' || ch === '\n') {
      if (ch === '\r' && src[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else if (wasQuoted) {
      // text after a closing quote: keep it (lenient), but never let whitespace change a quoted value
      if (ch.trim() !== '') cur += ch;
    } else cur += ch;
  }
  if (quoted) throw new Error(`${file}: line ${quoteLine}: a quoted field is never closed (missing ")`);
  if (cur !== '' || cells.length || wasQuoted) endRecord();
  return out;
}
