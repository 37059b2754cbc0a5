// Classification metrics for a K-class task from labels and predicted probabilities: accuracy,
// balanced accuracy, per-class sensitivity and specificity, confusion matrix, one-vs-rest ROC and
// AUC (macro over the classes present) with bootstrap 95% intervals, expected calibration error
// and the reliability diagram. Plain arrays in, plain JSON out (stored per run, drawn by the UI).
import { seededMultiplicities } from './random';

export interface RocCurve {
  fpr: number[];
  tpr: number[];
  auc: number;
}

export interface ReliabilityBin {
  lower: number;
  upper: number;
  count: number;
  confidence: number; // mean max-probability in the bin
  accuracy: number; // fraction correct in the bin
}

export interface Interval {
  estimate: number;
  low: number;
  high: number;
}

export interface ClassificationReport {
  n: number;
  classes: string[];
  accuracy: Interval;
  balancedAccuracy: number;
  /** Macro one-vs-rest AUC over classes with both positives and negatives; null if none. */
  macroAuc: Interval | null;
  perClass: { name: string; support: number; sensitivity: number | null; specificity: number | null; auc: number | null }[];
  /** confusion[true][predicted] */
  confusion: number[][];
  ece: number;
  reliability: ReliabilityBin[];
  roc: (RocCurve | null)[];
  /** `clusters`: how many groups (patients) a cluster bootstrap resampled; absent when it resampled rows. */
  bootstrap: { samples: number; seed: number; clusters?: number };
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

export function confusionMatrix(yTrue: number[], yPred: number[], k: number): number[][] {
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  yTrue.forEach((t, i) => m[t]![yPred[i]!]!++);
  return m;
}

export function accuracy(yTrue: number[], yPred: number[]): number {
  if (yTrue.length === 0) return NaN;
  let hit = 0;
  yTrue.forEach((t, i) => (hit += t === yPred[i] ? 1 : 0));
  return hit / yTrue.length;
}

/** Mean recall over the classes that occur in yTrue (as scikit-learn's balanced_accuracy_score). */
export function balancedAccuracy(confusion: number[][]): number {
  const recalls = confusion
    .map((row, c) => {
      const support = row.reduce((a, b) => a + b, 0);
      return support > 0 ? row[c]! / support : null;
    })
    .filter((r): r is number => r !== null);
  return recalls.length ? recalls.reduce((a, b) => a + b, 0) / recalls.length : NaN;
}

/**
 * ROC curve of `scores` for binary `positive`, with ties handled as one threshold (the curve
 * moves diagonally through tied scores), and its area by the trapezoid rule, which equals the
 * Mann-Whitney probability P(score+ > score-) + 0.5 P(tie).
 */
export function rocCurve(scores: number[], positive: boolean[]): RocCurve | null {
  const P = positive.filter(Boolean).length;
  const N = positive.length - P;
  if (P === 0 || N === 0) return null;
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const fpr = [0];
  const tpr = [0];
  let tp = 0;
  let fp = 0;
  let auc = 0;
  for (let i = 0; i < order.length;) {
    const s = scores[order[i]!]!;
    let j = i;
    let dtp = 0;
    let dfp = 0;
    while (j < order.length && scores[order[j]!] === s) {
      if (positive[order[j]!]) dtp++;
      else dfp++;
      j++;
    }
    const prevT = tp / P;
    const prevF = fp / N;
    tp += dtp;
    fp += dfp;
    fpr.push(fp / N);
    tpr.push(tp / P);
    auc += ((fp / N - prevF) * (tp / P + prevT)) / 2;
    i = j;
  }
  return { fpr, tpr, auc };
}

/** Per-class one-vs-rest AUCs (null where a class has no positives or no negatives). */
export function ovrAucs(yTrue: number[], probs: number[][], k: number): (number | null)[] {
  return Array.from(
    { length: k },
    (_, c) =>
      rocCurve(
        probs.map((p) => p[c]!),
        yTrue.map((t) => t === c),
      )?.auc ?? null,
  );
}

export function macroAuc(yTrue: number[], probs: number[][], k: number): number | null {
  const aucs = ovrAucs(yTrue, probs, k).filter((a): a is number => a !== null);
  return aucs.length ? aucs.reduce((a, b) => a + b, 0) / aucs.length : null;
}

/** Expected calibration error over equal-width confidence bins (default 15, as is customary). */
export function calibration(yTrue: number[], probs: number[][], bins = 15): { ece: number; reliability: ReliabilityBin[] } {
  const k = probs[0]?.length ?? 0;
  return calibrationOf(toMatrix(probs, k), yTrue, bins);
}

function calibrationOf(m: ProbMatrix, yTrue: ArrayLike<number>, bins = 15): { ece: number; reliability: ReliabilityBin[] } {
  const acc = new Array<number>(bins).fill(0);
  const conf = new Array<number>(bins).fill(0);
  const count = new Array<number>(bins).fill(0);
  const { n, k, data } = m;
  for (let i = 0; i < n; i++) {
    const p = data.subarray(i * k, (i + 1) * k);
    const pred = argmax(p);
    const c = p[pred]!;
    const b = Math.min(bins - 1, Math.floor(c * bins));
    count[b]!++;
    conf[b]! += c;
    acc[b]! += pred === yTrue[i] ? 1 : 0;
  }
  let ece = 0;
  const reliability: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    const cnt = count[b]!;
    const bin = {
      lower: b / bins,
      upper: (b + 1) / bins,
      count: cnt,
      confidence: cnt ? conf[b]! / cnt : 0,
      accuracy: cnt ? acc[b]! / cnt : 0,
    };
    reliability.push(bin);
    if (cnt) ece += (cnt / n) * Math.abs(bin.accuracy - bin.confidence);
  }
  return { ece, reliability };
}

function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Most classes `evaluate` takes: the confusion matrix is K x K and the bootstrap keeps one sort
 * order per class, so a file with 200,000 probability columns would fill the memory.
 */
export const MAX_CLASSES = 1000;

/** Probabilities as one row-major block: row i is data[i*k, (i+1)*k). */
export interface ProbMatrix {
  n: number;
  k: number;
  data: Float64Array;
}

function toMatrix(probs: number[][] | ProbMatrix, k: number): ProbMatrix {
  if (!Array.isArray(probs)) {
    if (probs.k !== k) throw new Error(`evaluate: ${probs.k} probabilities per row for ${k} classes`);
    if (probs.data.length !== probs.n * k) throw new Error(`evaluate: ${probs.data.length} probabilities for ${probs.n} rows of ${k}`);
    return probs;
  }
  const data = new Float64Array(probs.length * k);
  probs.forEach((p, i) => {
    if (p.length !== k) throw new Error(`evaluate: row ${i} has ${p.length} probabilities for ${k} classes`);
    data.set(p, i * k);
  });
  return { n: probs.length, k, data };
}

/**
 * One class's rows in descending score order, cut into runs of equal scores: the one sort the
 * ROC curve and every bootstrap resample's AUC share (a resample only changes row weights).
 */
interface ClassOrder {
  rows: Int32Array;
  positive: Uint8Array; // in `rows` order
  /** End (exclusive) of each run of equal scores in `rows`. */
  runEnds: Int32Array;
}

function classOrder(m: ProbMatrix, yTrue: Int32Array, c: number): ClassOrder {
  const { n, k, data } = m;
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) scores[i] = data[i * k + c]!;
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  rows.sort((a, b) => scores[b]! - scores[a]!);
  const positive = new Uint8Array(n);
  const ends: number[] = [];
  for (let t = 0; t < n; t++) {
    positive[t] = yTrue[rows[t]!] === c ? 1 : 0;
    if (t + 1 === n || scores[rows[t + 1]!] !== scores[rows[t]!]) ends.push(t + 1);
  }
  return { rows, positive, runEnds: Int32Array.from(ends) };
}

/**
 * Whether two classes rank every pair of rows in opposite orders with the same ties (binary
 * probabilities p and 1 - p): their one-vs-rest AUCs are then equal in every resample, since a
 * pair one ranks right the other ranks right too, so the bootstrap computes one of them.
 */
function mirrored(a: ClassOrder, b: ClassOrder): boolean {
  const runs = a.runEnds.length;
  if (runs !== b.runEnds.length) return false;
  const runOfA = new Int32Array(a.rows.length);
  let t = 0;
  for (let g = 0; g < runs; g++) for (const end = a.runEnds[g]!; t < end; t++) runOfA[a.rows[t]!] = g;
  t = 0;
  for (let g = 0; g < runs; g++) for (const end = b.runEnds[g]!; t < end; t++) if (runOfA[b.rows[t]!] !== runs - 1 - g) return false;
  return true;
}

/** The ROC curve and AUC of one class over all rows, as rocCurve computes them, from its sort order. */
function orderedRoc(o: ClassOrder, P: number): RocCurve | null {
  const N = o.rows.length - P;
  if (P === 0 || N === 0) return null;
  const fpr = [0];
  const tpr = [0];
  let tp = 0;
  let fp = 0;
  let auc = 0;
  let t = 0;
  for (const end of o.runEnds) {
    const prevT = tp / P;
    const prevF = fp / N;
    for (; t < end; t++) {
      if (o.positive[t]) tp++;
      else fp++;
    }
    fpr.push(fp / N);
    tpr.push(tp / P);
    auc += ((fp / N - prevF) * (tp / P + prevT)) / 2;
  }
  return { fpr, tpr, auc };
}

/**
 * AUC of one class over rows weighted by bootstrap multiplicities: the Mann-Whitney count (a
 * positive above a negative counts 2, a tie 1) summed in integers over runs of tied scores and
 * divided once, the trapezoid area of rocCurve without a division per point; null without
 * positives or negatives. When `flag` (in the class's row order) is given, `flagged` is the
 * drawn count of flagged rows: the resample's correct predictions, counted in the same pass.
 */
function weightedAuc(o: ClassOrder, weight: Int32Array, flag: Uint8Array | null): { auc: number | null; flagged: number } {
  const { rows, positive, runEnds } = o;
  let tp = 0;
  let total = 0;
  let flagged = 0;
  let twice = 0; // 2 x (pairs ordered right) + (tied pairs) <= n^2 / 2: exact below 2^53 (n < 1.3e8)
  let t = 0;
  for (let g = 0; g < runEnds.length; g++) {
    const end = runEnds[g]!;
    let dtp = 0;
    let dw = 0;
    if (flag) {
      for (; t < end; t++) {
        const w = weight[rows[t]!]!;
        dw += w;
        dtp += w & -positive[t]!; // branch-free: w when positive, else 0
        flagged += w & -flag[t]!;
      }
    } else {
      for (; t < end; t++) {
        const w = weight[rows[t]!]!;
        dw += w;
        dtp += w & -positive[t]!;
      }
    }
    twice += (dw - dtp) * (2 * tp + dtp);
    tp += dtp;
    total += dw;
  }
  const N = total - tp;
  return { auc: tp === 0 || N === 0 ? null : twice / (2 * tp * N), flagged };
}

export function evaluate(
  yTrue: ArrayLike<number>,
  probs: number[][] | ProbMatrix,
  classes: string[],
  options: {
    bootstrapSamples?: number;
    seed?: number;
    bins?: number;
    /**
     * A group key per row (PatientID): the bootstrap then resamples whole groups, so a patient's
     * correlated images move together and the intervals are not too narrow (cluster bootstrap).
     */
    clusters?: ArrayLike<string>;
    onProgress?: (done: number, total: number) => void;
  } = {},
): ClassificationReport {
  const k = classes.length;
  if (k > MAX_CLASSES) throw new Error(`evaluate: ${k} classes; at most ${MAX_CLASSES} are supported`);
  const rowCount = Array.isArray(probs) ? probs.length : probs.n;
  if (yTrue.length !== rowCount) throw new Error(`evaluate: ${yTrue.length} labels but ${rowCount} probability rows`);
  const m = toMatrix(probs, k);
  const n = m.n;
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const t = yTrue[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= k) throw new Error(`evaluate: label ${t} at row ${i} is not a class index`);
    y[i] = t;
  }
  const samples = options.bootstrapSamples ?? 1000;
  const groups = options.clusters ? clusterIndex(options.clusters, n) : null;
  const seed = options.seed ?? 0;
  const yPred: number[] = new Array<number>(n);
  const correct = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    yPred[i] = argmax(m.data.subarray(i * k, (i + 1) * k));
    correct[i] = yPred[i] === y[i] ? 1 : 0;
  }
  const yList = Array.from(y);
  const confusion = confusionMatrix(yList, yPred, k);
  const orders = Array.from({ length: k }, (_, c) => classOrder(m, y, c));
  const support = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) support[y[i]!]!++;
  const roc = orders.map((o, c) => orderedRoc(o, support[c]!));
  const present = roc.filter((r): r is RocCurve => r !== null);
  const macro = present.length ? present.reduce((s, r) => s + r.auc, 0) / present.length : null;

  // Percentile bootstrap over cases; resamples where AUC is undefined are left out. A resample is
  // the multiplicity of each row (same generator draws as resampling the rows themselves), so
  // each metric is one pass over precomputed arrays instead of re-sorting copied rows.
  const binaryMirror = k === 2 && samples > 0 && mirrored(orders[0]!, orders[1]!);
  const draws = seededMultiplicities(seed);
  const accs = new Float64Array(n > 0 ? samples : 0);
  const aucs: number[] = [];
  const weight = new Int32Array(n);
  const groupWeight = groups ? new Int32Array(groups.count) : null;
  // correct predictions in class 0's order, counted during its AUC walk (no pass of their own)
  const correct0 = k > 0 ? Uint8Array.from(orders[0]!.rows, (r) => correct[r]!) : new Uint8Array(0);
  for (let s = 0; s < samples && n > 0; s++) {
    let total = n;
    if (groups && groupWeight) {
      // draw groups with replacement; each row weighs as often as its group was drawn
      draws.draw(groupWeight);
      total = 0;
      for (let i = 0; i < n; i++) total += weight[i] = groupWeight[groups.of[i]!]!;
    } else draws.draw(weight);
    let sum = 0;
    let count = 0;
    let a: number | null = null;
    for (let c = 0; c < k; c++) {
      if (c === 0) {
        const r = weightedAuc(orders[0]!, weight, correct0);
        accs[s] = r.flagged / total;
        a = r.auc;
      } else if (!(c === 1 && binaryMirror)) a = weightedAuc(orders[c]!, weight, null).auc;
      if (a === null) continue;
      sum += a;
      count++;
    }
    if (count) aucs.push(sum / count);
    options.onProgress?.(s + 1, samples);
  }
  accs.sort();
  aucs.sort((a, b) => a - b);
  const { ece, reliability } = calibrationOf(m, y, options.bins);

  return {
    n,
    classes,
    accuracy: { estimate: accuracy(yList, yPred), low: percentile(accs, 0.025), high: percentile(accs, 0.975) },
    balancedAccuracy: balancedAccuracy(confusion),
    macroAuc: macro === null ? null : { estimate: macro, low: percentile(aucs, 0.025), high: percentile(aucs, 0.975) },
    perClass: classes.map((name, c) => {
      const support = confusion[c]!.reduce((a, b) => a + b, 0);
      const tp = confusion[c]![c]!;
      const predicted = confusion.reduce((s, row) => s + row[c]!, 0);
      const negatives = n - support;
      const tn = negatives - (predicted - tp);
      return {
        name,
        support,
        sensitivity: support ? tp / support : null,
        specificity: negatives ? tn / negatives : null,
        auc: roc[c]?.auc ?? null,
      };
    }),
    confusion,
    ece,
    reliability,
    roc,
    bootstrap: groups ? { samples, seed, clusters: groups.count } : { samples, seed },
  };
}

/** Each row's group as an index 0..count-1 (groups numbered in order of first appearance). */
function clusterIndex(keys: ArrayLike<string>, n: number): { of: Int32Array; count: number } {
  if (keys.length !== n) throw new Error(`evaluate: ${keys.length} cluster keys for ${n} rows`);
  const ids = new Map<string, number>();
  const of = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    let g = ids.get(k);
    if (g === undefined) ids.set(k, (g = ids.size));
    of[i] = g;
  }
  return { of, count: ids.size };
}

/**
 * Accuracy, balanced accuracy and macro AUC of a held-out split, with null (never NaN) where a
 * metric cannot be measured, and a note saying why (an empty split; classes missing from it).
 */
export function heldOutMetrics(
  yTrue: number[],
  probs: number[][],
  classes: string[],
  seed = 0,
): { metrics: { accuracy: number | null; balancedAccuracy: number | null; macroAuc: number | null; n: number }; notes: string[] } {
  if (yTrue.length === 0)
    return {
      metrics: { accuracy: null, balancedAccuracy: null, macroAuc: null, n: 0 },
      notes: ['no held-out images (too few labelled images per class, or a validation fraction of 0)'],
    };
  const r = evaluate(yTrue, probs, classes, { seed, bootstrapSamples: 0 });
  const notes: string[] = [];
  const missing = classes.filter((_, c) => !yTrue.includes(c));
  if (missing.length)
    notes.push(`held-out split has no images of ${missing.join(', ')}: balanced accuracy and AUC cover the other classes`);
  if (r.macroAuc === null) notes.push('AUC needs held-out images of at least two classes');
  const finite = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? null : v);
  return {
    metrics: {
      accuracy: finite(r.accuracy.estimate),
      balancedAccuracy: finite(r.balancedAccuracy),
      macroAuc: finite(r.macroAuc?.estimate),
      n: r.n,
    },
    notes,
  };
}
