// The results file of a (sharded) classification: one safetensors file per shard that says what
// ran on what (bundle, prompts, task, app version, shard K/N, every input's UIDs and file) next to
// the per-image probabilities, so `cleft runs merge` can check a set of shards and import it as one
// run without anything else. Layout, tensor names and metadata keys: docs/classification-results.md.
import fs from 'node:fs';
import { z } from 'zod';
import { readSafetensorsHeader, readTensors, writeSafetensors, type TensorInput } from '../../native/formats/safetensors';
import { canonicalJson, sha256Hex } from '../../native/io/hash';
import { WEIGHT_PRECISIONS, WeightPrecision } from '../../common/precision';

export const RESULTS_FORMAT = 'cleft-classification-results';
export const RESULTS_FORMAT_VERSION = '1';

/** What every shard of one run has in common: `cleft runs merge` refuses files that differ in any of it. */
export const RunIdentity = z.object({
  appVersion: z.string(),
  task: z.string(),
  classes: z.array(z.string()).min(1),
  bundleSha256: z.string(),
  /** A learned prompt set of the bundle, or null for the task's prompt templates. */
  promptSet: z.string().nullable(),
  /** A trained head of the bundle used instead of text embeddings, or null. */
  adaptor: z.string().nullable(),
  /** Templates: hash of the task's prompt texts; learned set or adaptor: hash of its file in the bundle. */
  promptsSha256: z.string(),
  preprocessSha256: z.string(),
  shardCount: z.number().int().min(1),
  /** sha256 of the sorted StudyInstanceUIDs of the whole input (all shards): the same list, whatever its order. */
  inputsSha256: z.string(),
  /** The frozen encoders' weight precision; absent (files and partial files written before it existed): float32. */
  weights: WeightPrecision.default('float32'),
});
export type RunIdentity = z.infer<typeof RunIdentity>;

export const ShardIdentity = RunIdentity.extend({ shardIndex: z.number().int().min(1) });
export type ShardIdentity = z.infer<typeof ShardIdentity>;

export const ResultsImage = z.object({
  file: z.string(),
  sopInstanceUid: z.string(),
  studyInstanceUid: z.string(),
  laterality: z.enum(['L', 'R']).nullable(),
  view: z.string().nullable(),
});
export type ResultsImage = z.infer<typeof ResultsImage>;

export const ResultsSkipped = z.object({
  file: z.string(),
  sopInstanceUid: z.string().nullable(),
  studyInstanceUid: z.string().nullable(),
  reason: z.string(),
});
export type ResultsSkipped = z.infer<typeof ResultsSkipped>;

/** The prompt texts that ran (templates per class), or which learned set or head. */
export const ResultsPrompts = z.union([
  z.object({ kind: z.literal('templates'), classes: z.array(z.object({ name: z.string(), prompts: z.array(z.string()) })) }),
  z.object({ kind: z.literal('learned'), name: z.string(), classNames: z.array(z.string()), classTexts: z.array(z.string()) }),
  z.object({ kind: z.literal('adaptor'), name: z.string() }),
]);
export type ResultsPrompts = z.infer<typeof ResultsPrompts>;

export const TaskSpecJson = z.object({
  name: z.string(),
  description: z.string().optional(),
  scope: z.string(),
  classes: z.array(z.object({ name: z.string(), label: z.string().optional(), prompts: z.array(z.string()) })),
});

export interface ResultsFile {
  identity: ShardIdentity;
  bundle: { path: string; name: string };
  taskSpec: z.infer<typeof TaskSpecJson>;
  prompts: ResultsPrompts;
  /** What the library's run record needs beyond the identity. */
  record: { adapters: Record<string, string>; promptSetSha256: string | null };
  /** The execution provider that encoded the images ('cpu', 'cuda:0'). */
  executionProvider: string;
  /** The list the shard was cut from (as given), for people. */
  inputList: string;
  /** This shard's studies, sorted by UID; studies without a classifiable image are not listed. */
  studies: string[];
  /** This shard's images: rows of the tensors, grouped by study in `studies` order. */
  images: ResultsImage[];
  skipped: ResultsSkipped[];
  /** [images, classes] float64, each row sums to 1. */
  probabilities: Float64Array;
  /** [images, classes] float64: exp(logit_scale) x cosine (zero-shot; null for a trained head). */
  logits: Float64Array | null;
  /** [studies, classes] float64: mean of the study's image probabilities (combine-study.ts, as the library's runs). */
  examProbabilities: Float64Array;
  /** [studies, 2, classes] float64, right then left breast; NaN where the study has no view of that side. */
  breastProbabilities: Float64Array;
}

/** sha256 of the sorted, distinct StudyInstanceUIDs of a whole input. */
export function inputsSha256(studyUids: Iterable<string>): string {
  return sha256Hex(canonicalJson([...new Set(studyUids)].sort()));
}

/** The first field in which two identities differ, with both values, or null when equal. */
export function identityDifference<T extends Record<string, unknown>>(a: T, b: T): string | null {
  for (const key of Object.keys(a) as (keyof T & string)[]) {
    const x = canonicalJson(a[key]);
    const y = canonicalJson(b[key]);
    if (x !== y) return `${key} ${x} vs ${y}`;
  }
  return null;
}

const META = {
  format: 'format',
  formatVersion: 'format_version',
  appVersion: 'app_version',
  task: 'task',
  taskSpec: 'task_spec',
  classes: 'classes',
  bundleSha256: 'bundle_sha256',
  bundleName: 'bundle_name',
  bundlePath: 'bundle_path',
  promptSet: 'prompt_set',
  promptSetSha256: 'prompt_set_sha256',
  promptsSha256: 'prompts_sha256',
  prompts: 'prompts',
  adaptor: 'adaptor',
  adapters: 'adapters',
  preprocessSha256: 'preprocess_sha256',
  shard: 'shard',
  shardIndex: 'shard_index',
  shardCount: 'shard_count',
  inputsSha256: 'inputs_sha256',
  inputList: 'input_list',
  executionProvider: 'execution_provider',
  weights: 'weights',
  combination: 'combination',
  studies: 'studies',
  images: 'images',
  skipped: 'skipped',
} as const;

export const TENSORS = {
  probabilities: 'probabilities',
  logits: 'logits',
  exam: 'exam_probabilities',
  breast: 'breast_probabilities',
} as const;

const f64 = (data: Float64Array, shape: number[]): TensorInput => ({ dtype: 'F64', shape, data });

/** Writes the results file atomically (a temporary file renamed into place). */
export function writeResultsFile(file: string, r: ResultsFile): void {
  const k = r.identity.classes.length;
  const id = r.identity;
  const metadata: Record<string, string> = {
    [META.format]: RESULTS_FORMAT,
    [META.formatVersion]: RESULTS_FORMAT_VERSION,
    [META.appVersion]: id.appVersion,
    [META.task]: id.task,
    [META.taskSpec]: JSON.stringify(r.taskSpec),
    [META.classes]: JSON.stringify(id.classes),
    [META.bundleSha256]: id.bundleSha256,
    [META.bundleName]: r.bundle.name,
    [META.bundlePath]: r.bundle.path,
    [META.promptSet]: id.promptSet ?? '',
    [META.promptSetSha256]: r.record.promptSetSha256 ?? '',
    [META.promptsSha256]: id.promptsSha256,
    [META.prompts]: JSON.stringify(r.prompts),
    [META.adaptor]: id.adaptor ?? '',
    [META.adapters]: JSON.stringify(r.record.adapters),
    [META.preprocessSha256]: id.preprocessSha256,
    [META.shard]: `${id.shardIndex}/${id.shardCount}`,
    [META.shardIndex]: String(id.shardIndex),
    [META.shardCount]: String(id.shardCount),
    [META.inputsSha256]: id.inputsSha256,
    [META.inputList]: r.inputList,
    [META.executionProvider]: r.executionProvider,
    [META.weights]: id.weights,
    [META.combination]: 'mean of the views\u2019 probabilities',
    [META.studies]: JSON.stringify(r.studies),
    [META.images]: JSON.stringify(r.images),
    [META.skipped]: JSON.stringify(r.skipped),
  };
  const tensors: Record<string, TensorInput> = {
    [TENSORS.probabilities]: f64(r.probabilities, [r.images.length, k]),
    [TENSORS.exam]: f64(r.examProbabilities, [r.studies.length, k]),
    [TENSORS.breast]: f64(r.breastProbabilities, [r.studies.length, 2, k]),
  };
  if (r.logits) tensors[TENSORS.logits] = f64(r.logits, [r.images.length, k]);
  writeSafetensors(file, tensors, metadata);
}

/** A results file that is not one, or not whole: the message names the file and the reason. */
export class ResultsFileError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'ResultsFileError';
  }
}

/** Reads and checks a results file; anything missing or inconsistent throws naming the file. */
export function readResultsFile(file: string): ResultsFile {
  if (!fs.existsSync(file)) throw new ResultsFileError(file, 'no such file');
  let header: ReturnType<typeof readSafetensorsHeader>;
  try {
    header = readSafetensorsHeader(file);
  } catch (err) {
    throw new ResultsFileError(file, `not a safetensors file (${err instanceof Error ? err.message : String(err)})`);
  }
  const m = header.metadata ?? {};
  if (m[META.format] !== RESULTS_FORMAT)
    throw new ResultsFileError(file, `not a CLEFT classification results file (no "${META.format}": "${RESULTS_FORMAT}")`);
  if (m[META.formatVersion] !== RESULTS_FORMAT_VERSION)
    throw new ResultsFileError(
      file,
      `results format version ${m[META.formatVersion] ?? '?'}; this version reads ${RESULTS_FORMAT_VERSION}`,
    );
  const str = (key: string): string => {
    const v = m[key];
    if (v === undefined) throw new ResultsFileError(file, `metadata "${key}" is missing`);
    return v;
  };
  const json = <T>(key: string, schema: z.ZodType<T>): T => {
    let v: unknown;
    try {
      v = JSON.parse(str(key));
    } catch {
      throw new ResultsFileError(file, `metadata "${key}" is not JSON`);
    }
    const parsed = schema.safeParse(v);
    if (!parsed.success) throw new ResultsFileError(file, `metadata "${key}": ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  };
  const int = (key: string): number => {
    const n = Number(str(key));
    if (!Number.isInteger(n) || n < 1) throw new ResultsFileError(file, `metadata "${key}" is not a positive integer`);
    return n;
  };
  const weights = m[META.weights] ?? 'float32'; // absent in files written before it existed
  if (!(WEIGHT_PRECISIONS as readonly string[]).includes(weights))
    throw new ResultsFileError(file, `metadata "${META.weights}" is "${weights}", expected one of ${WEIGHT_PRECISIONS.join(', ')}`);
  const identity: ShardIdentity = {
    appVersion: str(META.appVersion),
    task: str(META.task),
    classes: json(META.classes, z.array(z.string()).min(1)),
    bundleSha256: str(META.bundleSha256),
    promptSet: str(META.promptSet) || null,
    adaptor: str(META.adaptor) || null,
    promptsSha256: str(META.promptsSha256),
    preprocessSha256: str(META.preprocessSha256),
    shardCount: int(META.shardCount),
    inputsSha256: str(META.inputsSha256),
    weights: weights as WeightPrecision,
    shardIndex: int(META.shardIndex),
  };
  if (identity.shardIndex > identity.shardCount)
    throw new ResultsFileError(file, `shard ${identity.shardIndex}/${identity.shardCount} is out of range`);
  const studies = json(META.studies, z.array(z.string()));
  const images = json(META.images, z.array(ResultsImage));
  const inStudies = new Set(studies);
  const stray = images.find((im) => !inStudies.has(im.studyInstanceUid));
  if (stray)
    throw new ResultsFileError(
      file,
      `image ${stray.sopInstanceUid} belongs to study ${stray.studyInstanceUid}, which "studies" does not list`,
    );
  const k = identity.classes.length;
  const want: Record<string, number[]> = {
    [TENSORS.probabilities]: [images.length, k],
    [TENSORS.exam]: [studies.length, k],
    [TENSORS.breast]: [studies.length, 2, k],
  };
  const hasLogits = header.tensors.has(TENSORS.logits);
  if (hasLogits) want[TENSORS.logits] = [images.length, k];
  for (const [name, shape] of Object.entries(want)) {
    const t = header.tensors.get(name);
    if (!t) throw new ResultsFileError(file, `tensor "${name}" is missing`);
    if (t.dtype !== 'F64' || t.shape.join(',') !== shape.join(','))
      throw new ResultsFileError(file, `tensor "${name}" is ${t.dtype} [${t.shape.join(', ')}], expected F64 [${shape.join(', ')}]`);
  }
  let data: ReturnType<typeof readTensors>;
  try {
    data = readTensors(header, Object.keys(want));
  } catch (err) {
    throw new ResultsFileError(file, err instanceof Error ? err.message : String(err));
  }
  const tensor = (name: string): Float64Array => data.get(name)!.data as Float64Array;
  return {
    identity,
    bundle: { path: str(META.bundlePath), name: str(META.bundleName) },
    taskSpec: json(META.taskSpec, TaskSpecJson),
    prompts: json(META.prompts, ResultsPrompts),
    record: { adapters: json(META.adapters, z.record(z.string(), z.string())), promptSetSha256: str(META.promptSetSha256) || null },
    executionProvider: str(META.executionProvider),
    inputList: str(META.inputList),
    studies,
    images,
    skipped: json(META.skipped, z.array(ResultsSkipped)),
    probabilities: tensor(TENSORS.probabilities),
    logits: hasLogits ? tensor(TENSORS.logits) : null,
    examProbabilities: tensor(TENSORS.exam),
    breastProbabilities: tensor(TENSORS.breast),
  };
}
