// `cleft evaluate`: metrics of predictions against labels, as JSON and a printed report: accuracy
// and macro one-vs-rest AUC with bootstrap 95% intervals, balanced accuracy, per-class sensitivity,
// specificity and AUC, confusion matrix, expected calibration error.
//
// Inputs: a predictions CSV (a `label` column with class names or indices, probability columns
// `p_<class>` or named after the classes; other columns such as `id` are kept out) or a safetensors
// file with `probs` (N,K) float and `labels` (N) int64 (class names in the metadata `class_names`
// or --classes). --labels FILE (CSV with `label`, or safetensors `labels`) overrides the labels.
import { type Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataFile } from '../../../native/cleft/data';
import { evaluate, type ClassificationReport } from '../../../native/cleft/metrics';
import { writeFileAtomic } from '../../../native/io/atomic-write';
import { num } from './train';
import { parseCsvRecords } from '../../library/csv';

/** Rows of cells (trimmed); quoted fields may hold commas and line breaks (RFC 4180). */
function parseCsv(text: string, file?: string): string[][] {
  return parseCsvRecords(text, file).map((r) => r.cells.map((c) => c.trim()));
}

export interface Predictions {
  classes: string[];
  probs: number[][];
  labels: (string | number)[] | null;
}

export function readPredictions(file: string, classesFlag?: string[]): Predictions {
  if (file.endsWith('.safetensors')) {
    const d = new DataFile(file);
    const p = d.float('probs', 2);
    const [n, k] = p.shape as [number, number];
    const probs = Array.from({ length: n }, (_, i) => Array.from(p.data.subarray(i * k, (i + 1) * k)));
    const classes = classesFlag ?? d.classNames() ?? Array.from({ length: k }, (_, i) => String(i));
    return { classes, probs, labels: d.has('labels') ? d.labels() : null };
  }
  const rows = parseCsv(fs.readFileSync(file, 'utf8'), file);
  const header = rows[0];
  if (!header) throw new Error(`${file}: empty CSV`);
  const labelCol = header.findIndex((h) => /^(label|y|y_true|truth)$/i.test(h));
  let probCols = header.map((h, i) => ({ h, i })).filter(({ h }) => /^(p|prob)_/i.test(h));
  let classes = probCols.map(({ h }) => h.replace(/^(p|prob)_/i, ''));
  if (!probCols.length) {
    const known = classesFlag ?? [];
    probCols = header
      .map((h, i) => ({ h, i }))
      .filter(
        ({ h, i }) => i !== labelCol && (known.length ? known.includes(h) : !/^(id|file|study|image|instance|sop.*|pred.*)$/i.test(h)),
      );
    classes = probCols.map(({ h }) => h);
  }
  if (classesFlag && classesFlag.length !== classes.length)
    throw new Error(`${file}: ${classes.length} probability columns but ${classesFlag.length} --classes`);
  if (classes.length < 2) throw new Error(`${file}: need probability columns p_<class> (found ${header.join(', ')})`);
  const probs = rows.slice(1).map((r, j) =>
    probCols.map(({ i }) => {
      const v = Number(r[i]);
      if (!Number.isFinite(v)) throw new Error(`${file}: row ${j + 2}, column ${header[i]}: "${r[i]}" is not a number`);
      return v;
    }),
  );
  return { classes: classesFlag ?? classes, probs, labels: labelCol >= 0 ? rows.slice(1).map((r) => r[labelCol]!) : null };
}

function labelIndex(v: string | number, classes: string[], row: number): number {
  if (typeof v === 'number') return v;
  const byName = classes.indexOf(v);
  if (byName >= 0) return byName;
  const n = Number(v);
  if (Number.isInteger(n) && n >= 0 && n < classes.length) return n;
  throw new Error(`row ${row + 1}: label "${v}" is neither a class (${classes.join(', ')}) nor a class index`);
}

export function formatReport(r: ClassificationReport): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [
    `n ${r.n}, classes ${r.classes.join(', ')}`,
    `accuracy          ${pct(r.accuracy.estimate)} (95% CI ${pct(r.accuracy.low)}-${pct(r.accuracy.high)})`,
    `balanced accuracy ${pct(r.balancedAccuracy)}`,
    `macro AUC (OvR)   ${r.macroAuc ? `${r.macroAuc.estimate.toFixed(3)} (95% CI ${r.macroAuc.low.toFixed(3)}-${r.macroAuc.high.toFixed(3)})` : '-'}`,
    `ECE               ${r.ece.toFixed(3)}`,
    'per class         support  sensitivity  specificity  AUC',
    ...r.perClass.map(
      (c) =>
        `  ${c.name.padEnd(16)}${String(c.support).padStart(7)}  ${c.sensitivity === null ? '   -  ' : pct(c.sensitivity).padStart(6)}       ${c.specificity === null ? '   -  ' : pct(c.specificity).padStart(6)}       ${c.auc === null ? '-' : c.auc.toFixed(3)}`,
    ),
    'confusion (rows = truth, columns = predicted)',
    `  ${''.padEnd(12)}${r.classes.map((c) => c.slice(0, 8).padStart(9)).join('')}`,
    ...r.confusion.map((row, i) => `  ${r.classes[i]!.slice(0, 12).padEnd(12)}${row.map((v) => String(v).padStart(9)).join('')}`),
    `bootstrap: ${r.bootstrap.samples} resamples, seed ${r.bootstrap.seed}`,
  ];
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('evaluate')
    .description(
      'Metrics of predictions (CSV or safetensors) against labels: accuracy, balanced accuracy, macro AUC with bootstrap CIs, per class, confusion, ECE',
    )
    .requiredOption('--predictions <file>', 'CSV (label, p_<class>...) or safetensors (probs (N,K), labels (N))')
    .option('--labels <file>', 'labels from another file (CSV column label, or safetensors labels)')
    .option('--classes <names>', 'class names separated by "|" (default: from the file)')
    .option('--bootstrap <n>', 'bootstrap resamples for the 95% intervals', '1000')
    .option('--seed <s>', 'bootstrap seed', '0')
    .option('--bins <n>', 'calibration bins', '15')
    .option('--output <file>', 'write the metrics JSON here')
    .option('--json', 'print the metrics JSON instead of the report')
    .action(
      (f: {
        predictions: string;
        labels?: string;
        classes?: string;
        bootstrap: string;
        seed: string;
        bins: string;
        output?: string;
        json?: boolean;
      }) => {
        const classesFlag = f.classes?.split('|').map((s) => s.trim());
        const p = readPredictions(f.predictions, classesFlag);
        let labels = p.labels;
        if (f.labels) labels = f.labels.endsWith('.safetensors') ? new DataFile(f.labels).labels() : readPredictionsLabels(f.labels);
        if (!labels) throw new Error(`${f.predictions}: no labels (a label column / labels tensor, or --labels FILE)`);
        if (labels.length !== p.probs.length) throw new Error(`${labels.length} labels for ${p.probs.length} predictions`);
        const y = labels.map((v, i) => labelIndex(v, p.classes, i));
        const report = evaluate(y, p.probs, p.classes, {
          bootstrapSamples: num(f.bootstrap, '--bootstrap', { int: true, min: 0 })!,
          seed: num(f.seed, '--seed', { int: true })!,
          bins: num(f.bins, '--bins', { int: true, min: 1 })!,
        });
        if (f.output) writeFileAtomic(path.resolve(f.output), JSON.stringify(report, null, 2) + '\n');
        console.log(f.json ? JSON.stringify(report, null, 2) : formatReport(report));
      },
    );
}

function readPredictionsLabels(file: string): string[] {
  const rows = parseCsv(fs.readFileSync(file, 'utf8'), file);
  const col = rows[0]?.findIndex((h) => /^(label|y|y_true|truth)$/i.test(h)) ?? -1;
  if (col < 0) throw new Error(`${file}: no label column`);
  return rows.slice(1).map((r) => r[col]!);
}
