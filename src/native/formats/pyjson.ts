/**
 * JSON as Python's `json` module reads and writes it, for byte-compatible config files
 * (PEFT's adapter_config.json is `json.dumps(d, indent=2, sort_keys=True)`).
 *
 * Python distinguishes ints from floats (`0.0` vs `0`); JavaScript does not. Parsed floats become
 * `PyFloat` instances so they are written back as Python would (`0.0`, `1e-05`); `toPlain` turns a
 * parsed value into ordinary JS values.
 */

import { scanJson } from './json-scan';

export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
}

export type PyJson = null | boolean | number | PyFloat | string | PyJson[] | { [k: string]: PyJson };

/** Python `repr(float)`: shortest round-trip digits, exponent outside [1e-4, 1e16). */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expStr] = x.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  if (exp >= -5 && exp < 16) {
    // Python's repr switches to exponent when exp < -4
    if (exp < -4) return `${neg ? '-' : ''}${digits[0]}${digits.length > 1 ? '.' + digits.slice(1) : ''}e-${String(-exp).padStart(2, '0')}`;
    let s: string;
    if (exp < 0) s = '0.' + '0'.repeat(-exp - 1) + digits;
    else if (digits.length <= exp + 1) s = digits + '0'.repeat(exp + 1 - digits.length) + '.0';
    else s = digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
    return (neg ? '-' : '') + s;
  }
  const m = digits[0]! + (digits.length > 1 ? '.' + digits.slice(1) : '');
  return `${neg ? '-' : ''}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** A JSON string as Python's json.dumps writes it (ensure_ascii=True). */
export function pyJsonString(s: string, ensureAscii = true): string {
  let out = '"';
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || (ensureAscii && c > 0x7e)) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += s[k];
  }
  return out + '"';
}

export interface PyDumpsOptions {
  /** None (compact one line, ", " / ": ") when undefined, else spaces per level. */
  indent?: number;
  sortKeys?: boolean;
  ensureAscii?: boolean;
}

/** `json.dumps(value, indent=..., sort_keys=...)`. */
export function pyDumps(value: PyJson | undefined, options: PyDumpsOptions = {}): string {
  const { indent, sortKeys = false, ensureAscii = true } = options;
  const itemSep = indent === undefined ? ', ' : ',';
  const enc = (v: PyJson | undefined, level: number): string => {
    if (v === null || v === undefined) return 'null';
    if (v === true) return 'true';
    if (v === false) return 'false';
    if (v instanceof PyFloat) return pyFloatRepr(v.value);
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pyFloatRepr(v);
    if (typeof v === 'string') return pyJsonString(v, ensureAscii);
    const nl = indent === undefined ? '' : '\n' + ' '.repeat(indent * (level + 1));
    const close = indent === undefined ? '' : '\n' + ' '.repeat(indent * level);
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      return '[' + v.map((x) => nl + enc(x, level + 1)).join(itemSep) + close + ']';
    }
    let keys = Object.keys(v);
    if (keys.length === 0) return '{}';
    if (sortKeys) keys = keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return '{' + keys.map((k) => nl + pyJsonString(k, ensureAscii) + ': ' + enc(v[k], level + 1)).join(itemSep) + close + '}';
  };
  return enc(value, 0);
}

/**
 * Parses JSON keeping floats as PyFloat (a number whose text has '.', 'e' or 'E'). Own parser:
 * Node 20's JSON.parse does not give revivers the source text.
 */
export function pyLoads(text: string): PyJson {
  return scanJson(text, {
    bom: true,
    // as Python's json: a repeated key keeps its first place and takes the last value
    object: (entries) => {
      const o: { [k: string]: PyJson } = {};
      for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
      return o;
    },
    number: (raw, isFloat) => (isFloat ? new PyFloat(Number(raw)) : Number(raw)),
    nonFinite: (v) => new PyFloat(v),
    error: (what, at) => new SyntaxError(`JSON: ${what} at position ${at}`),
  }) as PyJson;
}

/** PyFloat -> number, recursively. */
export function toPlain(v: PyJson): unknown {
  if (v instanceof PyFloat) return v.value;
  if (Array.isArray(v)) return v.map(toPlain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x)]));
  return v;
}

export interface PyJsonFormat {
  indent?: number;
  sortKeys: boolean;
  trailingNewline: boolean;
}

/** Finds the json.dumps options that reproduce `text` exactly from its parsed value, or null. */
export function detectPyJsonFormat(text: string, value: PyJson): PyJsonFormat | null {
  for (const indent of [2, 4, 1, undefined])
    for (const sortKeys of [true, false])
      for (const trailingNewline of [false, true]) {
        const out = pyDumps(value, indent === undefined ? { sortKeys } : { indent, sortKeys }) + (trailingNewline ? '\n' : '');
        if (out === text) return indent === undefined ? { sortKeys, trailingNewline } : { indent, sortKeys, trailingNewline };
      }
  return null;
}
