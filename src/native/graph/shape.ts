/**
 * Static shapes with named symbolic dimensions.
 *
 * A dimension is a number or a symbolic expression over named dims: 'batch', 'batch*seq', 'seq-1',
 * 'n_ctx+seq'. Expressions are integer polynomials, kept in a canonical form so that equal dims compare
 * equal whichever way they were built (a reshape merging [batch, seq] gives 'batch*seq'; slicing off
 * the last token gives 'seq-1'). Everything here runs at build time, so shape mistakes surface at the
 * model line that made them; at run time the emitter evaluates the same expressions from input shapes.
 */
export type Dim = number | string;
export type Shape = readonly Dim[];

export class ShapeError extends Error {
  override name = 'ShapeError';
}

/** Monomial key (sorted symbols joined by '*', '' for the constant term) -> integer coefficient. */
export type Poly = Map<string, number>;

function polyAdd(a: Poly, b: Poly, sign = 1): Poly {
  const out = new Map(a);
  for (const [k, c] of b) {
    const v = (out.get(k) ?? 0) + sign * c;
    if (v === 0) out.delete(k);
    else out.set(k, v);
  }
  return out;
}

function mulKeys(a: string, b: string): string {
  return [...(a ? a.split('*') : []), ...(b ? b.split('*') : [])].sort().join('*');
}

function polyMul(a: Poly, b: Poly): Poly {
  let out: Poly = new Map();
  for (const [ka, ca] of a) for (const [kb, cb] of b) out = polyAdd(out, new Map([[mulKeys(ka, kb), ca * cb]]));
  return out;
}

/** Parse 'a*b + 3 - (c+1)*d' into a polynomial. */
export function toPoly(d: Dim): Poly {
  if (typeof d === 'number') return d === 0 ? new Map() : new Map([['', d]]);
  const tokens = d.match(/\d+|[A-Za-z_][A-Za-z0-9_]*|[-+*()]|\S/g) ?? [];
  let i = 0;
  const fail = (): never => {
    throw new ShapeError(`bad symbolic dim '${d}'`);
  };
  const sum = (): Poly => {
    let p = term();
    while (tokens[i] === '+' || tokens[i] === '-') {
      const sign = tokens[i++] === '+' ? 1 : -1;
      p = polyAdd(p, term(), sign);
    }
    return p;
  };
  const term = (): Poly => {
    let p = atom();
    while (tokens[i] === '*') {
      i++;
      p = polyMul(p, atom());
    }
    return p;
  };
  const atom = (): Poly => {
    const t = tokens[i++];
    if (t === undefined) return fail();
    if (t === '-') return polyMul(new Map([['', -1]]), atom());
    if (t === '(') {
      const p = sum();
      if (tokens[i++] !== ')') fail();
      return p;
    }
    if (/^\d+$/.test(t)) return toPoly(Number(t));
    if (/^[A-Za-z_]/.test(t)) return new Map([[t, 1]]);
    return fail();
  };
  const p = sum();
  if (i !== tokens.length) fail();
  return p;
}

export function fromPoly(p: Poly): Dim {
  const keys = [...p.keys()].filter((k) => k !== '').sort();
  const constant = p.get('') ?? 0;
  if (keys.length === 0) return constant;
  const terms = keys.map((k) => {
    const c = p.get(k)!;
    return c === 1 ? k : c === -1 ? `-${k}` : `${c}*${k}`;
  });
  if (constant !== 0) terms.push(String(constant));
  return terms.join('+').replace(/\+-/g, '-');
}

export function canonicalDim(d: Dim): Dim {
  return typeof d === 'number' ? d : fromPoly(toPoly(d));
}

export function dimEq(a: Dim, b: Dim): boolean {
  return canonicalDim(a) === canonicalDim(b);
}

export function dimAdd(a: Dim, b: Dim): Dim {
  return fromPoly(polyAdd(toPoly(a), toPoly(b)));
}

export function dimSub(a: Dim, b: Dim): Dim {
  return fromPoly(polyAdd(toPoly(a), toPoly(b), -1));
}

export function dimMul(a: Dim, b: Dim): Dim {
  return fromPoly(polyMul(toPoly(a), toPoly(b)));
}

/** Exact division by a monomial (what reshape's -1 needs); null when not exact. */
export function dimDiv(a: Dim, b: Dim): Dim | null {
  const pb = toPoly(b);
  if (pb.size !== 1) return dimEq(a, b) ? 1 : null;
  const [[kb, cb]] = [...pb] as [[string, number]];
  const out: Poly = new Map();
  for (const [ka, ca] of toPoly(a)) {
    const syms = ka ? ka.split('*') : [];
    for (const s of kb ? kb.split('*') : []) {
      const j = syms.indexOf(s);
      if (j < 0) return null;
      syms.splice(j, 1);
    }
    if (ca % cb !== 0) return null;
    out.set(syms.join('*'), ca / cb);
  }
  return fromPoly(out);
}

/** Symbols a dim depends on. */
export function dimSymbols(d: Dim): string[] {
  const out = new Set<string>();
  for (const k of toPoly(d).keys()) for (const s of k ? k.split('*') : []) out.add(s);
  return [...out].sort();
}

export function shapeEq(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => dimEq(d, b[i]!));
}

export function fmtShape(s: Shape): string {
  return `[${s.join(',')}]`;
}

export function isStatic(s: Shape): s is readonly number[] {
  return s.every((d) => typeof d === 'number');
}

export function numel(s: Shape): Dim {
  return s.reduce<Dim>((acc, d) => dimMul(acc, d), 1);
}

export function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new ShapeError(`${what}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Numpy broadcasting; a symbolic dim only broadcasts against 1 or an equal dim. */
export function broadcastShapes(op: string, shapes: Shape[], names: string[] = []): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = i - (rank - s.length);
      if (k < 0) continue;
      const e = s[k]!;
      if (e === 1) continue;
      if (d === 1) d = canonicalDim(e);
      else if (!dimEq(d, e)) {
        const desc = shapes.map((sh, j) => `${names[j] ?? String.fromCharCode(97 + j)}: ${fmtShape(sh)}`).join(', ');
        throw new ShapeError(`${op}: cannot broadcast dims ${d} and ${e} (${desc})`);
      }
    }
    out.push(d);
  }
  return out;
}
