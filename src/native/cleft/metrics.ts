// Classification metrics for a K-class task from labels and predicted probabilities: accuracy,
// balanced accuracy, per-class sensitivity and specificity, confusion matrix, one-vs-rest ROC and
// AUC (macro over the classes present) with bootstrap 95% intervals, expected calibration error
// and the reliability diagram. Plain arrays in, plain JSON out (stored per run, drawn by the UI).
import { seededRandom } from './random';

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
  bootstrap: { samples: number; seed: number };
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
  const acc = new Array<number>(bins).fill(0);
  const conf = new Array<number>(bins).fill(0);
  const count = new Array<number>(bins).fill(0);
  probs.forEach((p, i) => {
    const pred = argmax(p);
    const c = p[pred]!;
    const b = Math.min(bins - 1, Math.floor(c * bins));
    count[b]!++;
    conf[b]! += c;
    acc[b]! += pred === yTrue[i] ? 1 : 0;
  });
  const n = probs.length;
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

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function evaluate(
  yTrue: number[],
  probs: number[][],
  classes: string[],
  options: { bootstrapSamples?: number; seed?: number; bins?: number } = {},
): ClassificationReport {
  const k = classes.length;
  if (yTrue.length !== probs.length) throw new Error(`evaluate: ${yTrue.length} labels but ${probs.length} probability rows`);
  probs.forEach((p, i) => {
    if (p.length !== k) throw new Error(`evaluate: row ${i} has ${p.length} probabilities for ${k} classes`);
  });
  yTrue.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= k) throw new Error(`evaluate: label ${t} at row ${i} is not a class index`);
  });
  const samples = options.bootstrapSamples ?? 1000;
  const seed = options.seed ?? 0;
  const yPred = probs.map(argmax);
  const confusion = confusionMatrix(yTrue, yPred, k);
  const n = yTrue.length;
  const roc = Array.from({ length: k }, (_, c) =>
    rocCurve(
      probs.map((p) => p[c]!),
      yTrue.map((t) => t === c),
    ),
  );
  const present = roc.filter((r): r is RocCurve => r !== null);
  const macro = present.length ? present.reduce((s, r) => s + r.auc, 0) / present.length : null;

  // Percentile bootstrap over cases; resamples where AUC is undefined are left out.
  const random = seededRandom(seed);
  const accs: number[] = [];
  const aucs: number[] = [];
  for (let s = 0; s < samples && n > 0; s++) {
    const t: number[] = new Array(n);
    const p: number[][] = new Array(n);
    for (let i = 0; i < n; i++) {
      const j = Math.floor(random() * n);
      t[i] = yTrue[j]!;
      p[i] = probs[j]!;
    }
    accs.push(accuracy(t, p.map(argmax)));
    const a = macroAuc(t, p, k);
    if (a !== null) aucs.push(a);
  }
  accs.sort((a, b) => a - b);
  aucs.sort((a, b) => a - b);
  const { ece, reliability } = calibration(yTrue, probs, options.bins);

  return {
    n,
    classes,
    accuracy: { estimate: accuracy(yTrue, yPred), low: percentile(accs, 0.025), high: percentile(accs, 0.975) },
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
    bootstrap: { samples, seed },
  };
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
