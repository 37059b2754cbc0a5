// Classifies one shard (shard-plan.ts) into a results file (results-file.ts), on any machine: no
// library, no job runner, only the bundle and the images' files. Every study is computed as the
// library's classify job computes it (jobs/kinds/classify.ts: the bundle's preprocessing, the image
// encoder over the study's views, then zero-shot or the trained head), so a merged set of shards
// holds the same numbers as one run of the library.
//
// Resumable: each finished study is appended as one JSON line to `<output>.partial` (the first line
// names the shard's identity, its weight precision included); a rerun of the same command skips the
// studies found there (a line cut by a kill is dropped), and an existing complete output of the same
// identity is left as is. A partial file of another precision is refused: its studies would mix.
import fs from 'node:fs';
import path from 'node:path';
import type { WeightPrecision } from '../../common/precision';
import { bundleSpec, type Engine } from '../features/image-features';
import { prepareFiles } from '../dicom/pipeline/prepare';
import { APP_VERSION } from '../version';
import { openBundle, readPromptSet, type CleftBundle } from '../../native/bundle/index';
import { loadAdaptorHead } from '../../native/cleft/adaptor';
import { imageFeatures } from '../../native/cleft/features';
import { scaledCosineLogits } from '../../native/cleft/math';
import { promptsSha256, type TaskSpec } from '../../native/cleft/tasks';
import {
  imageEmbeddingsFromFeatures,
  promptSetClassEmbeddings,
  taskClassEmbeddings,
  zeroShotProbabilities,
} from '../../native/cleft/zero-shot';
import { crashPoint } from '../../native/io/crash-point';
import { providerLabel } from '../../native/runtime/providers';
import {
  identityDifference,
  readResultsFile,
  writeResultsFile,
  ShardIdentity,
  type ResultsFile,
  type ResultsPrompts,
} from './results-file';
import { combineStudy } from './combine-study';
import { adapterHashes, bundleFileHash, promptSetHash } from './run-identity';
import type { ShardPlan } from './shard-plan';

/** Images per encoder call, as the classify job batches a study's views (image-features.ts). */
const ENCODER_BATCH = 16;

export interface ClassifyShardOptions {
  bundleDir: string;
  task: TaskSpec;
  promptSet: string | null;
  adaptor: string | null;
  plan: ShardPlan;
  /** The list the plan was read from (recorded for people). */
  inputList: string;
  output: string;
  engine: Engine;
  onProgress?: (done: number, total: number, message: string) => void;
}

export interface ClassifyShardOutcome {
  status: 'written' | 'exists';
  output: string;
  studies: number;
  images: number;
  /** Studies found done in the partial file of an earlier, interrupted run. */
  resumed: number;
  skipped: number;
  executionProvider: string;
  /** The encoders' weight precision (recorded in the results file). */
  weights: WeightPrecision;
}

/** One study's results as a line of the partial file. */
interface StudyLine {
  study: string;
  provider: string | null;
  /** Per image in the plan's order: probabilities and (zero-shot) logits. */
  probabilities: number[][];
  logits: number[][] | null;
}

/** The partial file next to an output. */
export const partialFileOf = (output: string): string => `${output}.partial`;

/** The identity, the prompts and the record fields of a bundle, task and prompt choice for a plan. */
function describe(bundle: CleftBundle, o: ClassifyShardOptions) {
  const head = o.adaptor
    ? loadAdaptorHead(
        bundle,
        o.adaptor,
        o.task.classes.map((c) => c.name),
      )
    : null;
  let prompts: ResultsPrompts;
  let promptsHash: string;
  if (head) {
    prompts = { kind: 'adaptor', name: head.entry.name };
    promptsHash = bundleFileHash(bundle, head.entry.path);
  } else if (o.promptSet) {
    const { entry } = readPromptSet(bundle, o.promptSet);
    prompts = { kind: 'learned', name: entry.name, classNames: entry.classNames, classTexts: entry.classTexts ?? entry.classNames };
    promptsHash = promptSetHash(bundle, o.promptSet) ?? '';
  } else {
    prompts = { kind: 'templates', classes: o.task.classes.map((c) => ({ name: c.name, prompts: c.prompts })) };
    promptsHash = promptsSha256(o.task);
  }
  const identity: ShardIdentity = {
    appVersion: APP_VERSION,
    task: o.task.name,
    classes: o.task.classes.map((c) => c.name),
    bundleSha256: bundle.sha256,
    promptSet: head ? null : o.promptSet,
    adaptor: head ? head.entry.name : null,
    promptsSha256: promptsHash,
    preprocessSha256: bundleSpec(bundle).sha256,
    shardCount: o.plan.shard.count,
    inputsSha256: o.plan.inputsSha256,
    weights: o.engine.weights ?? 'float32',
    shardIndex: o.plan.shard.index,
  };
  const adapters = { ...adapterHashes(bundle), ...(head ? { [`adaptor:${head.entry.name}`]: promptsHash } : {}) };
  return { head, prompts, identity, record: { adapters, promptSetSha256: head ? null : promptSetHash(bundle, o.promptSet) } };
}

/** The studies an interrupted run saved (its identity must be this one), and the partial file without a cut-off line. */
function readPartial(file: string, identity: ShardIdentity): Map<string, StudyLine> {
  const done = new Map<string, StudyLine>();
  if (!fs.existsSync(file)) return done;
  const text = fs.readFileSync(file, 'utf8');
  const complete = text.split('\n').slice(0, -1); // the last piece is '' or a line cut off by a kill
  let head: unknown;
  try {
    head = JSON.parse(complete[0] ?? '');
  } catch {
    head = null;
  }
  const parsed = ShardIdentity.safeParse((head as { identity?: unknown } | null)?.identity);
  if (!parsed.success) {
    // Killed before its first line was whole: nothing was saved.
    fs.rmSync(file);
    return done;
  }
  if (parsed.data.weights !== identity.weights)
    throw new Error(
      `${file} holds studies classified with ${parsed.data.weights} weights, this run asks for ${identity.weights}: ` +
        `rerun with --weights ${parsed.data.weights} to resume it, or remove it to start over with ${identity.weights}`,
    );
  const diff = identityDifference(identity, parsed.data);
  if (diff)
    throw new Error(
      `${file} was left by another classification (${diff}); remove it to start this one, or rerun the command that wrote it`,
    );
  for (const line of complete.slice(1)) {
    const s = JSON.parse(line) as StudyLine;
    done.set(s.study, s);
  }
  // Drop a cut-off last line before appending after it.
  const keep = complete.map((l) => `${l}\n`).join('');
  if (keep.length !== text.length) fs.truncateSync(file, Buffer.byteLength(keep));
  return done;
}

function appendLine(fd: number, value: unknown): void {
  // One write of a whole line, then fsync: a kill leaves whole lines and at most one cut-off last line.
  fs.writeSync(fd, `${JSON.stringify(value)}\n`);
  fs.fsyncSync(fd);
}

export async function classifyShard(o: ClassifyShardOptions): Promise<ClassifyShardOutcome> {
  const bundle = await openBundle(o.bundleDir, { verify: 'sizes' });
  const { head, prompts, identity, record } = describe(bundle, o);
  const images = o.plan.studies.reduce((n, s) => n + s.images.length, 0);
  const base = { output: o.output, studies: o.plan.studies.length, images, skipped: o.plan.skipped.length, weights: identity.weights };

  if (fs.existsSync(o.output)) {
    const existing = readResultsFile(o.output);
    if (existing.identity.weights !== identity.weights)
      throw new Error(
        `${o.output} already holds results made with ${existing.identity.weights} weights, this run asks for ${identity.weights}; ` +
          'remove it or choose another --output',
      );
    const diff = identityDifference(identity, existing.identity);
    if (diff) throw new Error(`${o.output} already holds other results (${diff}); remove it or choose another --output`);
    return { ...base, status: 'exists', resumed: 0, executionProvider: existing.executionProvider };
  }

  fs.mkdirSync(path.dirname(o.output), { recursive: true });
  const partial = partialFileOf(o.output);
  const done = readPartial(partial, identity);
  const resumed = o.plan.studies.filter((s) => done.has(s.studyInstanceUid)).length;
  const todo = o.plan.studies.filter((s) => !done.has(s.studyInstanceUid));
  const fd = fs.openSync(partial, 'a');
  try {
    if (!fs.fstatSync(fd).size) appendLine(fd, { identity });
    if (todo.length) {
      const { spec } = bundleSpec(bundle);
      const heads = bundle.heads.heads;
      o.onProgress?.(done.size, o.plan.studies.length, head ? `adaptor "${head.entry.name}"` : 'encoding the class prompts');
      const classEmb = head
        ? null
        : o.promptSet
          ? (await promptSetClassEmbeddings(bundle, o.promptSet, o.engine)).embeddings
          : await taskClassEmbeddings(bundle, o.task, o.engine);
      let n = resumed;
      for (const study of todo) {
        const feats = new Float32Array(study.images.length * heads.imageDim);
        let provider: string | null = null;
        for (let s = 0; s < study.images.length; s += ENCODER_BATCH) {
          const part = study.images.slice(s, s + ENCODER_BATCH);
          const prepared = await prepareFiles(
            part.map((im) => im.file),
            spec,
          );
          const f = await imageFeatures(
            { modelDir: bundle.image.dir, adapterDir: bundle.image.adapter?.dir ?? null, pool: bundle.image.pooling },
            prepared.pixelValues,
            prepared.shape,
            o.engine,
          );
          provider = providerLabel(f.provider);
          feats.set(f.features, s * heads.imageDim);
        }
        let probabilities: number[][];
        let logits: number[][] | null = null;
        if (head) probabilities = head.probabilities(feats);
        else {
          // zeroShot's own steps (zero-shot.ts), keeping the logits it computes on the way.
          const emb = imageEmbeddingsFromFeatures(heads, feats);
          const k = identity.classes.length;
          const flat = scaledCosineLogits(emb, classEmb!, heads.projDim, heads.logitScale);
          logits = study.images.map((_, i) => Array.from(flat.subarray(i * k, (i + 1) * k)));
          probabilities = zeroShotProbabilities(emb, classEmb!, heads.projDim, heads.logitScale);
        }
        const line: StudyLine = { study: study.studyInstanceUid, provider, probabilities, logits };
        appendLine(fd, line);
        done.set(line.study, line);
        crashPoint('classify.shard-study-saved');
        n++;
        o.onProgress?.(n, o.plan.studies.length, `study ${study.studyInstanceUid} (${study.images.length} images)`);
      }
    }
  } finally {
    fs.closeSync(fd);
  }

  const results = assemble(o, identity, prompts, record, done, bundle);
  writeResultsFile(o.output, results);
  fs.rmSync(partial, { force: true });
  return { ...base, status: 'written', resumed, executionProvider: results.executionProvider };
}

/** The results file of a shard whose every study is done. */
function assemble(
  o: ClassifyShardOptions,
  identity: ShardIdentity,
  prompts: ResultsPrompts,
  record: ResultsFile['record'],
  done: Map<string, StudyLine>,
  bundle: CleftBundle,
): ResultsFile {
  const k = identity.classes.length;
  const studies = o.plan.studies;
  const images = studies.flatMap((s) => s.images);
  const probabilities = new Float64Array(images.length * k);
  const logits = identity.adaptor ? null : new Float64Array(images.length * k);
  const exam = new Float64Array(studies.length * k);
  const breast = new Float64Array(studies.length * 2 * k).fill(NaN);
  const providers = new Set<string>();
  let row = 0;
  studies.forEach((study, j) => {
    const line = done.get(study.studyInstanceUid)!;
    if (line.probabilities.length !== study.images.length)
      throw new Error(
        `${partialFileOf(o.output)}: study ${study.studyInstanceUid} has ${line.probabilities.length} results for ${study.images.length} images`,
      );
    if (line.provider) providers.add(line.provider);
    line.probabilities.forEach((p, i) => {
      probabilities.set(p, (row + i) * k);
      if (logits) logits.set(line.logits![i]!, (row + i) * k);
    });
    row += study.images.length;
    const combined = combineStudy(
      line.probabilities.map((p, i) => ({
        sopInstanceUid: study.images[i]!.sopInstanceUid,
        laterality: study.images[i]!.laterality,
        probabilities: p,
      })),
    );
    exam.set(combined.exam, j * k);
    (['R', 'L'] as const).forEach((side, s) => {
      const p = combined.breast[side];
      if (p) breast.set(p, (j * 2 + s) * k);
    });
  });
  return {
    identity,
    bundle: { path: bundle.dir, name: bundle.manifest.name },
    taskSpec: { ...o.task, classes: o.task.classes.map((c) => ({ ...c })) },
    prompts,
    record,
    executionProvider: [...providers].sort().join(', ') || 'none',
    inputList: o.inputList,
    studies: studies.map((s) => s.studyInstanceUid),
    images,
    skipped: o.plan.skipped,
    probabilities,
    logits,
    examProbabilities: exam,
    breastProbabilities: breast,
  };
}
