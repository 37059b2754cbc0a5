// One strict JSON reader for the two places that cannot use JSON.parse: safetensors headers (key
// order and duplicate keys matter; JSON.parse reorders integer-like keys and keeps the last
// duplicate) and Python-written configs (floats must stay floats: `0.0` is not `0`, and Python
// writes NaN / Infinity). The caller decides what objects and numbers become.

export interface JsonScanOptions {
  /** An object from its entries in file order (duplicates included: the builder decides). */
  object(entries: [string, unknown][], fail: (what: string) => never): unknown;
  /** A number from its source text; `isFloat` when it has a fraction or an exponent. */
  number(raw: string, isFloat: boolean): unknown;
  /** Python's NaN, Infinity and -Infinity, when accepted. */
  nonFinite?: (value: number) => unknown;
  /** Skip a leading byte-order mark. */
  bom?: boolean;
  /** The error for a problem at a character position. */
  error(what: string, at: number): Error;
}

const NON_FINITE: readonly [string, number][] = [
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
];

export function scanJson(text: string, o: JsonScanOptions): unknown {
  let i = o.bom && text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const fail = (what: string): never => {
    throw o.error(what, i);
  };
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const str = (): string => {
    const start = i++; // text[start] === '"'
    let hasEscape = false;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        hasEscape = true;
        i += 2;
        continue;
      }
      if (c < 0x20) fail('control character in string');
      i++;
    }
    if (i >= text.length) fail('unterminated string');
    i++;
    const raw = text.slice(start, i);
    if (!hasEscape) return raw.slice(1, -1);
    try {
      return JSON.parse(raw) as string;
    } catch {
      return fail('invalid string escape');
    }
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const entries: [string, unknown][] = [];
      ws();
      if (text[i] === '}') {
        i++;
        return o.object(entries, fail);
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a string key');
        const k = str();
        ws();
        if (text[i++] !== ':') fail("expected ':'");
        entries.push([k, value()]);
        ws();
        const d = text[i++];
        if (d === '}') return o.object(entries, fail);
        if (d !== ',') fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const items: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return items;
      }
      for (;;) {
        items.push(value());
        ws();
        const d = text[i++];
        if (d === ']') return items;
        if (d !== ',') fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    for (const [lit, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const)
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return v;
      }
    if (o.nonFinite)
      for (const [lit, v] of NON_FINITE)
        if (text.startsWith(lit, i)) {
          i += lit.length;
          return o.nonFinite(v);
        }
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail('unexpected token');
    i += m[0].length;
    return o.number(m[0], m[1] !== undefined || m[2] !== undefined);
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}
