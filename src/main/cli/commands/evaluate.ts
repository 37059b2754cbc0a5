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
import { evaluate, MAX_CLASSES, type ProbMatrix } from '../../../native/cleft/metrics';
import type { ClassificationReport as RunReport } from '../../../common/runs';
import { writeFileAtomic } from '../../../native/io/atomic-write';
import { num } from './train';
import { forEachCsvRecord, readFailure, readUtf8File } from '../../library/csv';
import { ProgressPrinter, renderBar } from '../progress-bar';

const LABEL_HEADER = /^(label|y|y_true|truth)$/i;
/** Flag ceilings: each resample keeps a number and each bin an entry, so 1e9 would fill the memory. */
const MAX_BOOTSTRAP = 100_000;
const MAX_BINS = 1000;

function atMost(v: number, max: number, flag: string): number {
  if (v > max) throw new Error(`${flag} must be at most ${max}, got ${v}`);
  return v;
}

export interface Predictions {
  file: string;
  classes: string[];
  probs: ProbMatrix;
  labels: Labels | null;
  /** PatientID per row when the CSV has that column: the bootstrap then resamples patients. */
  clusters?: string[];
}

/** A CSV column of patient IDs (as `cleft runs export` writes it, or EMBED's empi_anon). */
const PATIENT_HEADER = /^(patientid|patient_id|empi_anon)$/i;

/** Labels as read, with where each came from (a CSV line, or a tensor row), for messages. */
export interface Labels {
  file: string;
  values: (string | number)[];
  /** CSV line of each label; null for a safetensors file (rows counted from 1). */
  lines: number[] | null;
}

/** A file that exists and is not a folder, or a plain-words refusal (never a raw ENOENT / EISDIR). */
function checkFile(file: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw readFailure(file, e);
  }
  if (st.isDirectory()) throw new Error(`cannot read ${file}: it is a folder, not a file`);
}

function checkClassCount(file: string, k: number, what: string): void {
  if (k > MAX_CLASSES) throw new Error(`${file}: ${k} ${what}; evaluate takes at most ${MAX_CLASSES} classes`);
}

/** Refuses a probability outside [0, 1] (or NaN): ECE and the argmax read them as probabilities. */
function probabilityProblem(v: number): string | null {
  if (Number.isNaN(v)) return 'is not a number';
  if (v < 0 || v > 1) return 'is not a probability between 0 and 1';
  return null;
}

export function readPredictions(file: string, classesFlag?: string[]): Predictions {
  checkFile(file);
  if (file.endsWith('.safetensors')) {
    const d = new DataFile(file);
    const p = d.float('probs', 2);
    const [n, k] = p.shape as [number, number];
    checkClassCount(file, k, 'probability columns in "probs"');
    if (n === 0) throw new Error(`${file}: "probs" has no rows`);
    const data = Float64Array.from(p.data);
    for (let i = 0; i < data.length; i++) {
      const why = probabilityProblem(data[i]!);
      if (why) throw new Error(`${file}: "probs" row ${Math.floor(i / k) + 1}, column ${(i % k) + 1}: ${data[i]} ${why}`);
    }
    const classes = classesFlag ?? d.classNames() ?? Array.from({ length: k }, (_, i) => String(i));
    if (classes.length !== k) throw new Error(`${file}: "probs" has ${k} columns but ${classes.length} class names`);
    return { file, classes, probs: { n, k, data }, labels: d.has('labels') ? { file, values: d.labels(), lines: null } : null };
  }

  let header = null as string[] | null; // set by the first record (a cast: TS cannot see the callback assign it)
  let probCols: number[] = [];
  let labelCol = -1;
  let patientCol = -1;
  const patients: string[] = [];
  const values: number[] = [];
  const labels: string[] = [];
  const lines: number[] = [];
  forEachCsvRecord(readUtf8File(file), file, (cells, line) => {
    if (!header) {
      header = cells;
      labelCol = cells.findIndex((h) => LABEL_HEADER.test(h));
      patientCol = cells.findIndex((h) => PATIENT_HEADER.test(h));
      probCols = probabilityColumns(file, cells, labelCol, classesFlag, patientCol);
      return;
    }
    // a row without a PatientID is its own cluster (StudyInstanceUID, else the line)
    if (patientCol >= 0) {
      const study = cells[header.indexOf('StudyInstanceUID')] ?? '';
      patients.push(cells[patientCol] || (study ? `(study) ${study}` : `(line) ${line}`));
    }
    for (const i of probCols) {
      const cell = cells[i]!;
      if (cell === '') throw new Error(`${file}: line ${line}: column ${header[i]} is empty`);
      const v = Number(cell);
      const why = probabilityProblem(v);
      if (why) throw new Error(`${file}: line ${line}, column ${header[i]}: "${cell}" ${why}`);
      values.push(v);
    }
    if (labelCol >= 0) labels.push(cells[labelCol]!);
    lines.push(line);
  });
  const head = header;
  if (!head) throw new Error(`${file}: the CSV is empty`);
  if (!lines.length) throw new Error(`${file}: no rows, only a header`);
  const classes = classesFlag ?? probCols.map((i) => head[i]!.replace(/^(p|prob)_/i, ''));
  return {
    file,
    classes,
    probs: { n: lines.length, k: probCols.length, data: Float64Array.from(values) },
    labels: labelCol >= 0 ? { file, values: labels, lines } : null,
    ...(patientCol >= 0 ? { clusters: patients } : {}),
  };
}

/** The probability columns of a predictions CSV header: p_<class> (or prob_), else the class-named ones. */
function probabilityColumns(file: string, header: string[], labelCol: number, classesFlag?: string[], patientCol = -1): number[] {
  let cols = header.flatMap((h, i) => (/^(p|prob)_/i.test(h) ? [i] : []));
  let names = cols.map((i) => header[i]!.replace(/^(p|prob)_/i, ''));
  if (!cols.length) {
    const known = classesFlag ?? [];
    cols = header.flatMap((h, i) =>
      i !== labelCol && i !== patientCol && (known.length ? known.includes(h) : !/^(id|file|study|image|instance|sop.*|pred.*)$/i.test(h))
        ? [i]
        : [],
    );
    names = cols.map((i) => header[i]!);
  }
  checkClassCount(file, cols.length, 'probability columns');
  const seen = new Map<string, number>();
  names.forEach((name, j) => {
    const earlier = seen.get(name);
    if (earlier !== undefined)
      throw new Error(
        `${file}: class "${name}" has two probability columns ("${header[earlier]}" is column ${earlier + 1}, "${header[cols[j]!]}" column ${cols[j]! + 1})`,
      );
    seen.set(name, cols[j]!);
  });
  if (classesFlag && classesFlag.length !== cols.length)
    throw new Error(`${file}: ${cols.length} probability columns but ${classesFlag.length} --classes`);
  if (cols.length < 2) throw new Error(`${file}: need probability columns p_<class> (found ${header.join(', ')})`);
  return cols;
}

/** Class indices of the labels; a label that is no class is refused with its file and line. */
export function labelIndices(labels: Labels, classes: string[]): Int32Array {
  const byName = new Map(classes.map((c, i) => [c, i] as const));
  const out = new Int32Array(labels.values.length);
  labels.values.forEach((v, i) => {
    const where = labels.lines ? `${labels.file}: line ${labels.lines[i]}` : `${labels.file}: "labels" row ${i + 1}`;
    const named = typeof v === 'string' ? byName.get(v) : undefined;
    const n = named ?? (v === '' ? NaN : Number(v));
    if (!Number.isInteger(n) || n < 0 || n >= classes.length) {
      const list = classes.length > 12 ? `${classes.slice(0, 12).join(', ')}, ...` : classes.join(', ');
      throw new Error(`${where}: label "${v}" is neither a class (${list}) nor a class index (0 to ${classes.length - 1})`);
    }
    out[i] = n;
  });
  return out;
}

/** The report as text; `r` is a report of `evaluate` or of `runs.evaluate` (which may be empty, n 0, saying why). */
export function formatReport(r: RunReport): string {
  const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);
  const lines = r.accuracy
    ? [
        `n ${r.n}, classes ${r.classes.join(', ')}`,
        `accuracy          ${pct(r.accuracy.estimate)} (95% CI ${pct(r.accuracy.low)}-${pct(r.accuracy.high)})`,
        `balanced accuracy ${pct(r.balancedAccuracy)}`,
        `macro AUC (OvR)   ${r.macroAuc ? `${r.macroAuc.estimate.toFixed(3)} (95% CI ${r.macroAuc.low.toFixed(3)}-${r.macroAuc.high.toFixed(3)})` : '-'}`,
        `ECE               ${r.ece === null ? '-' : r.ece.toFixed(3)}`,
        'per class         support  sensitivity  specificity  AUC',
        ...r.perClass.map(
          (c) =>
            `  ${c.name.padEnd(16)}${String(c.support).padStart(7)}  ${c.sensitivity === null ? '   -  ' : pct(c.sensitivity).padStart(6)}       ${c.specificity === null ? '   -  ' : pct(c.specificity).padStart(6)}       ${c.auc === null ? '-' : c.auc.toFixed(3)}`,
        ),
        'confusion (rows = truth, columns = predicted)',
        `  ${''.padEnd(12)}${r.classes.map((c) => c.slice(0, 8).padStart(9)).join('')}`,
        ...r.confusion.map((row, i) => `  ${r.classes[i]!.slice(0, 12).padEnd(12)}${row.map((v) => String(v).padStart(9)).join('')}`),
        `bootstrap: ${r.bootstrap.samples} resamples, seed ${r.bootstrap.seed}` +
          (r.bootstrap.clusters !== undefined ? `, by patient (${r.bootstrap.clusters} patients resampled)` : ', by row'),
      ]
    : [`n 0, classes ${r.classes.join(', ')}: ${r.emptyReason ?? 'nothing to measure'}`];
  if (r.evaluationSet) {
    const e = r.evaluationSet;
    lines.unshift(
      `evaluated on: ${e.description} (${e.studies} studies${e.excludedStudies ? `; ${e.excludedStudies} used in training or validation left out` : ''})` +
        (e.includesTrainingData
          ? '\nINCLUDES TRAINING DATA: studies the model or prompt set was trained or validated on are counted'
          : '') +
        (e.trainingDataUnknown
          ? '\nTRAINING DATA UNKNOWN: part of this model or prompt set came from elsewhere without saying which studies trained it'
          : ''),
    );
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('evaluate')
    .description(
      'Metrics of predictions (CSV or safetensors) against labels: accuracy, balanced accuracy, macro AUC with bootstrap CIs, per class, confusion, ECE',
    )
    .requiredOption(
      '--predictions <file>',
      'CSV (label, p_<class>...; with a PatientID column the intervals resample patients, not rows) or safetensors (probs (N,K), labels (N))',
    )
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
        if (f.labels) labels = readLabels(f.labels);
        if (!labels) throw new Error(`${f.predictions}: no labels (a label column / labels tensor, or --labels FILE)`);
        if (labels.values.length !== p.probs.n)
          throw new Error(`${labels.file}: ${labels.values.length} labels for ${p.probs.n} predictions in ${p.file}`);
        const y = labelIndices(labels, p.classes);
        const samples = atMost(num(f.bootstrap, '--bootstrap', { int: true, min: 0 })!, MAX_BOOTSTRAP, '--bootstrap');
        const bins = atMost(num(f.bins, '--bins', { int: true, min: 1 })!, MAX_BINS, '--bins');
        const progress = new ProgressPrinter();
        const t0 = Date.now();
        const report = evaluate(y, p.probs, p.classes, {
          bootstrapSamples: samples,
          seed: num(f.seed, '--seed', { int: true })!,
          bins,
          ...(p.clusters ? { clusters: p.clusters } : {}),
          // only once it takes a while: small files print nothing on stderr
          onProgress: (done, total) => {
            if (Date.now() - t0 > 1000)
              progress.update(`bootstrap ${renderBar(done / total)} ${done}/${total} resamples of ${p.probs.n} rows`);
          },
        });
        if (Date.now() - t0 > 1000) progress.done();
        if (f.output) writeFileAtomic(path.resolve(f.output), JSON.stringify(report, null, 2) + '\n');
        console.log(f.json ? JSON.stringify(report, null, 2) : formatReport(report));
      },
    );
}

function readLabels(file: string): Labels {
  checkFile(file);
  if (file.endsWith('.safetensors')) return { file, values: new DataFile(file).labels(), lines: null };
  let col = -1;
  let header = null as string[] | null;
  const values: string[] = [];
  const lines: number[] = [];
  forEachCsvRecord(readUtf8File(file), file, (cells, line) => {
    if (!header) {
      header = cells;
      col = cells.findIndex((h) => LABEL_HEADER.test(h));
      if (col < 0) throw new Error(`${file}: no label column (label, y, y_true or truth); the header has ${cells.join(', ')}`);
      return;
    }
    values.push(cells[col]!);
    lines.push(line);
  });
  if (!header) throw new Error(`${file}: the CSV is empty`);
  return { file, values, lines };
}
