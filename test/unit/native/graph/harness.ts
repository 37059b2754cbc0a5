/**
 * Finite-difference gradient checker. A case builds y = f(inputs) with the builder API; the harness adds
 * loss = sum(y * R) with random R (fed as an input, so y may have symbolic dims), emits a forward model
 * (loss only) and a gradient model (loss + grads), runs both in onnxruntime-node and compares every
 * analytic gradient element with a central difference of the forward model.
 */
import * as ort from 'onnxruntime-node';
import { Graph, grad, emitOnnx, type Tensor, type Dim } from '../../../../src/native/graph/index';
import { toPoly } from '../../../../src/native/graph/shape';
import { mulberry32 } from '../../../../src/native/io/random';

export type FloatDType = 'float64' | 'float32';

/** Deterministic PRNG (mulberry32) so failures are reproducible. */
export function rng(seed: number) {
  const next = mulberry32(seed);
  return {
    uniform: (lo = 0, hi = 1) => lo + (hi - lo) * next(),
    normal: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
  };
}
export type Rng = ReturnType<typeof rng>;

export function concreteShape(shape: readonly Dim[], symbols: Record<string, number>): number[] {
  return shape.map((d) => {
    if (typeof d === 'number') return d;
    let v = 0;
    for (const [mono, coef] of toPoly(d)) v += coef * (mono ? mono.split('*').reduce((p, s) => p * symbols[s]!, 1) : 1);
    return v;
  });
}

export function floatTensor(dtype: FloatDType, values: ArrayLike<number>, dims: number[]): ort.Tensor {
  return dtype === 'float64'
    ? new ort.Tensor('float64', Float64Array.from(values), dims)
    : new ort.Tensor('float32', Float32Array.from(values), dims);
}

export function int64Tensor(values: number[], dims: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);
}

export interface GradCase {
  dtype: FloatDType;
  symbols?: Record<string, number>;
  /** Build the function; `wrt` entries are inputs/trainable params the harness fills with random values. */
  build(g: Graph, r: Rng): { wrt: Tensor[]; out: Tensor; feeds?: Record<string, ort.Tensor> };
  /** Value generator for differentiable inputs (default: standard normal). */
  init?: (r: Rng, name: string) => number;
  seed?: number;
  /** |analytic - fd| <= atol + rtol * |fd| per element. */
  atol?: number;
  rtol?: number;
  step?: number;
  /** Check at most this many elements per input (randomly chosen), to keep big cases fast. */
  maxChecks?: number;
}

export interface GradReport {
  checked: number;
  maxAbsErr: number;
  worst: string;
  failures: string[];
}

export async function checkGradients(c: GradCase): Promise<GradReport> {
  const r = rng(c.seed ?? 1234);
  const symbols = c.symbols ?? {};
  const g = new Graph();
  const { wrt, out, feeds: extra = {} } = c.build(g, r);
  const R = g.input('R__weights', out.dtype, out.shape);
  const loss = out.mul(R).sum();
  const grads = grad(loss, wrt);
  const fwd = emitOnnx(g, { outputs: { loss } });
  const outputs: Record<string, Tensor> = { loss };
  grads.forEach((t, i) => (outputs[`grad_${i}`] = t));
  const bwd = emitOnnx(g, { outputs });

  const dt = c.dtype;
  const values = wrt.map((w) => {
    const n = concreteShape(w.shape, symbols).reduce((a, b) => a * b, 1);
    return Float64Array.from({ length: n }, () => (c.init ? c.init(r, w.node.leaf?.name ?? '') : r.normal()));
  });
  const rShape = concreteShape(out.shape, symbols);
  const rVals = Float64Array.from({ length: rShape.reduce((a, b) => a * b, 1) }, () => r.normal());
  // Other float inputs the case did not feed get fixed random values (constant across FD evaluations).
  const fixed: Record<string, ort.Tensor> = {};
  const wrtNames = new Set(wrt.map((w) => w.node.leaf?.name));
  for (const v of bwd.inputs) {
    if (wrtNames.has(v.name) || v.name in extra || v.name === 'R__weights') continue;
    if (v.dataType !== 1 && v.dataType !== 11) throw new Error(`harness: feed non-float input '${v.name}'`);
    const shape = concreteShape(v.shape ?? [], symbols);
    const vals = Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal());
    fixed[v.name] = floatTensor(v.dataType === 11 ? 'float64' : 'float32', vals, shape);
  }
  const feedsFor = (vals: Float64Array[]) => {
    const f: Record<string, ort.Tensor> = { ...extra, ...fixed, R__weights: floatTensor(dt, rVals, rShape) };
    wrt.forEach((w, i) => (f[w.node.leaf!.name!] = floatTensor(dt, vals[i]!, concreteShape(w.shape, symbols))));
    return f;
  };

  const sf = await ort.InferenceSession.create(fwd.bytes);
  const sb = await ort.InferenceSession.create(bwd.bytes);
  const pick = (names: string[], f: Record<string, ort.Tensor>) => Object.fromEntries(names.map((n) => [n, f[n]!]));
  const res = await sb.run(pick([...sb.inputNames], feedsFor(values)));
  const analytic = wrt.map((_, i) => res[`grad_${i}`]!.data as Float64Array | Float32Array);

  const h = c.step ?? (dt === 'float64' ? 1e-6 : 1e-2);
  const atol = c.atol ?? (dt === 'float64' ? 1e-6 : 5e-3);
  const rtol = c.rtol ?? (dt === 'float64' ? 1e-5 : 5e-3);
  const lossAt = async (vals: Float64Array[]) => Number((await sf.run(pick([...sf.inputNames], feedsFor(vals)))).loss!.data[0]);
  const report: GradReport = { checked: 0, maxAbsErr: 0, worst: '', failures: [] };
  for (let i = 0; i < wrt.length; i++) {
    const n = values[i]!.length;
    let idx = [...Array(n).keys()];
    const cap = c.maxChecks ?? 60;
    if (n > cap) idx = Array.from({ length: cap }, () => r.int(0, n - 1));
    for (const j of idx) {
      const plus = values.map((v) => Float64Array.from(v));
      const minus = values.map((v) => Float64Array.from(v));
      plus[i]![j]! += h;
      minus[i]![j]! -= h;
      const fd = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * h);
      const a = Number(analytic[i]![j]);
      const err = Math.abs(a - fd);
      report.checked++;
      if (err > report.maxAbsErr) {
        report.maxAbsErr = err;
        report.worst = `${wrt[i]}[${j}]: analytic ${a} fd ${fd}`;
      }
      if (!(err <= atol + rtol * Math.abs(fd))) report.failures.push(`${wrt[i]}[${j}]: analytic ${a} vs fd ${fd}`);
    }
  }
  await sf.release();
  await sb.release();
  return report;
}

/** Random small shape: `rank` dims each in [lo, hi]. */
export function randShape(r: Rng, rank: number, lo = 2, hi = 4): number[] {
  return Array.from({ length: rank }, () => r.int(lo, hi));
}
