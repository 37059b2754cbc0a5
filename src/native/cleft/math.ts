// Plain-JS tensor math of the CLIP heads on small matrices (row-major Float32Arrays): projections,
// L2 normalisation, logits, softmax, cross-entropy. Used by zero-shot classification (after the
// encoders ran in ONNX Runtime), by evaluation and by the linear probe. Accumulates in float64.

/** x [n, d] @ Wᵀ with W [p, d] (nn.Linear without bias): [n, p]. */
export function projectRows(x: Float32Array, n: number, d: number, w: Float32Array, p: number): Float32Array {
  if (x.length !== n * d) throw new Error(`projectRows: x has ${x.length} values, [${n}, ${d}] needs ${n * d}`);
  if (w.length !== p * d) throw new Error(`projectRows: W has ${w.length} values, [${p}, ${d}] needs ${p * d}`);
  const out = new Float32Array(n * p);
  for (let i = 0; i < n; i++) {
    const xi = i * d;
    for (let j = 0; j < p; j++) {
      const wj = j * d;
      let s = 0;
      for (let k = 0; k < d; k++) s += x[xi + k]! * w[wj + k]!;
      out[i * p + j] = s;
    }
  }
  return out;
}

/** Rows scaled to unit L2 norm (torch.nn.functional.normalize, eps 1e-12), in place; returns x. */
export function l2NormalizeRows(x: Float32Array, d: number): Float32Array {
  for (let i = 0; i < x.length; i += d) {
    let s = 0;
    for (let k = 0; k < d; k++) s += x[i + k]! * x[i + k]!;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let k = 0; k < d; k++) x[i + k] = x[i + k]! * inv;
  }
  return x;
}

/** normalize(x Wᵀ): the CLIP head of one modality. */
export function projectAndNormalizeRows(x: Float32Array, n: number, d: number, w: Float32Array, p: number): Float32Array {
  return l2NormalizeRows(projectRows(x, n, d, w, p), p);
}

/** exp(logitScale) * a @ bᵀ: a [n, p], b [m, p] -> [n, m]. */
export function scaledCosineLogits(a: Float32Array, b: Float32Array, p: number, logitScale: number): Float64Array {
  const n = a.length / p;
  const m = b.length / p;
  const s = Math.exp(logitScale);
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let dot = 0;
      for (let k = 0; k < p; k++) dot += a[i * p + k]! * b[j * p + k]!;
      out[i * m + j] = s * dot;
    }
  return out;
}

/** Row-wise softmax of logits [n, k] into arrays of probabilities. */
export function softmaxRows(logits: ArrayLike<number>, k: number): number[][] {
  const n = logits.length / k;
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let c = 0; c < k; c++) m = Math.max(m, logits[i * k + c]!);
    let z = 0;
    const row = new Array<number>(k);
    for (let c = 0; c < k; c++) z += row[c] = Math.exp(logits[i * k + c]! - m);
    for (let c = 0; c < k; c++) row[c] = row[c]! / z;
    out.push(row);
  }
  return out;
}

/** Mean cross-entropy of probability rows against labels. */
export function meanCrossEntropy(probs: number[][], labels: readonly number[]): number {
  let s = 0;
  probs.forEach((p, i) => (s -= Math.log(Math.max(p[labels[i]!]!, 1e-30))));
  return s / Math.max(1, probs.length);
}

/** Rows `idx` of x [*, d]. */
export function takeRows(x: Float32Array, d: number, idx: readonly number[]): Float32Array {
  const out = new Float32Array(idx.length * d);
  idx.forEach((r, i) => out.set(x.subarray(r * d, (r + 1) * d), i * d));
  return out;
}
