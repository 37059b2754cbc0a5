// `cleft classify`: one-click zero-shot classification of studies of the library or of DICOM files
// with a CLEFT bundle: per-view probabilities, combined per breast and per exam (mean of the views'
// probabilities), with the model, prompt set and device that ran.
//
//   cleft classify --bundle DIR --task NAME (--study UID... | --dicom FILE...) [--prompt-set NAME | --adaptor NAME] [--json]
//   cleft classify --bundle DIR --task NAME (--dicom-list FILE | --study-list FILE --data-dir D) [--shard K/N] --output F.safetensors
//
// Studies of the library run as the app's Classify does: the `classify` job kind (cli/run-job.ts),
// which records a run (its id is printed, "runId" in --json) that Predictions, `cleft runs` and
// exports read. DICOM files outside the library are classified and printed, not recorded.
// A list (of files, or of studies of a library) is classified into a results file, all of it or
// shard K of N, on any machine and without the library's job runner (runs/classify-shard.ts);
// `cleft runs merge` imports the shards' files into a library as one run.
import { type Command, Option } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isJobOf, type ClassifyParams, type Job } from '../../../common/jobs';
import type { Prediction } from '../../../common/runs';
import { WEIGHT_PRECISIONS, weightsNote, type WeightPrecision } from '../../../common/precision';
import { resolveDataDir } from '../../data-dir';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { ImagesRepo } from '../../db/images-repo';
import { RunsRepo } from '../../db/runs-repo';
import { TasksRepo } from '../../db/tasks-repo';
import { getModel } from '../../models/registry';
import { libraryModelOfBundle, registeredModelOfBundle } from '../../models/bundle-model';
import { resolveClassifyPromptSet } from '../../models/prompt-sets';
import { cachedClassEmbeddings, type ClassEmbeddings } from '../../features/class-embeddings';
import type { Engine } from '../../features/image-features';
import { openCliJobHost, runJobInTerminal } from '../run-job';
import { prepareFiles } from '../../dicom/pipeline/prepare';
import { PreprocessSpec, presetSpec } from '../../dicom/pipeline/spec';
import { openBundle, type CleftBundle } from '../../../native/bundle/index';
import { builtinTask, parseTask, type TaskSpec } from '../../../native/cleft/tasks';
import { zeroShot } from '../../../native/cleft/zero-shot';
import { parseProviderChoice, providerLabel } from '../../../native/runtime/providers';
import { DeviceRecorder } from '../../../native/runtime/device-recorder';
import { deviceForWeights, inProcessEngine } from '../../../native/models/embed';
import { num } from './train';
import { classifyShard } from '../../runs/classify-shard';
import { parseShard, planFromDicomList, planFromStudyList } from '../../runs/shard-plan';

interface Flags {
  bundle: string;
  task: string;
  study?: string[];
  dicom?: string[];
  promptSet?: string;
  adaptor?: string;
  json?: boolean;
  dataDir?: string;
  cacheDir?: string;
  /** Unset: auto for files, the library's Settings for studies (as the app). */
  device?: string;
  threads?: string;
  dicomList?: string;
  studyList?: string;
  shard?: string;
  output?: string;
  /** Unset: float32 for files and lists, the library's Settings for studies (as the app). */
  weights?: WeightPrecision;
}

/** A built-in task, a task JSON file, or a custom task of the library, by name. */
function resolveTask(name: string, dataDir: string | undefined): TaskSpec {
  const b = builtinTask(name);
  if (b) return b;
  if (name.endsWith('.json') && fs.existsSync(name)) return parseTask(JSON.parse(fs.readFileSync(name, 'utf8')));
  const file = path.join(resolveDataDir(dataDir), DB_FILE_NAME);
  if (fs.existsSync(file)) {
    const db = openDatabase(file, { readonly: true });
    try {
      const task = new TasksRepo(db).findByName(name);
      if (task) return parseTask({ name: task.name, description: task.description, scope: task.scope, classes: task.classes });
    } finally {
      db.close();
    }
  }
  throw new Error(
    `unknown task "${name}" (built in: "Breast density", "BI-RADS assessment"; or a custom task of the library, or a task .json file)`,
  );
}

const fmtProbs = (classes: string[], p: number[]) => classes.map((c, i) => `${c} ${(100 * p[i]!).toFixed(1)}%`).join('  ');

export function register(program: Command): void {
  program
    .command('classify')
    .description(
      'Zero-shot classification of studies of the library (recorded as a run, as the app does) or of DICOM files with a CLEFT bundle (per view, per breast, per exam); ' +
        'or of a list of files or studies into a results file, all of it or shard K of N (on cluster nodes; `cleft runs merge` imports the shards as one run)',
    )
    .requiredOption('--bundle <dir>', 'CLEFT model bundle folder')
    .requiredOption('--task <name>', 'task: "Breast density", "BI-RADS assessment", a custom task of the library, or a task .json')
    .option('--study <uid...>', 'StudyInstanceUIDs of studies in the library: the run is recorded (its id printed; "runId" in --json)')
    .option('--dicom <file...>', 'DICOM files')
    .option(
      '--dicom-list <file>',
      "a list of DICOM files, one path a line (relative to the list's folder; # comments): classified into --output, no library needed",
    )
    .option('--study-list <file>', 'a list of StudyInstanceUIDs of the library at --data-dir, one a line: classified into --output')
    .option(
      '--shard <K/N>',
      "with a list: only shard K of N (K from 1 to N): whole studies, cut by sorted StudyInstanceUID (the list's order does not matter); default: all (1/1)",
    )
    .option(
      '--output <file>',
      'with a list: the results file (.safetensors, docs/classification-results.md); a rerun resumes from <output>.partial and keeps a complete output',
    )
    .option('--prompt-set <name>', 'a learned prompt set of the bundle instead of the task templates')
    .option('--adaptor <name>', 'a trained head of the bundle (linear probe / Adaptor) instead of zero-shot text embeddings')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .option('--cache-dir <dir>', 'ONNX cache (default: <data dir>/cache/onnx)')
    .option('--device <device>', 'auto | cpu | webgpu | cuda:N (default: auto; for --study, the library Settings, as the app)')
    .option('--threads <n>', 'intra-op threads')
    .addOption(
      new Option(
        '--weights <precision>',
        'float32 (exact) | int8 (weight-only int8 encoders, CPU; docs/engine.md#int8-weights) (default: float32; for --study, the library Settings, as the app); ' +
          'a list records it in its results file, and a shard resumes only with the precision it started with',
      ).choices([...WEIGHT_PRECISIONS]),
    )
    .action(async (f: Flags) => {
      const inputs = [f.study?.length, f.dicom?.length, f.dicomList, f.studyList].filter(Boolean).length;
      if (inputs !== 1) throw new Error('give one of --study UID..., --dicom FILE..., --dicom-list FILE or --study-list FILE');
      if (f.dicomList || f.studyList) return classifyList(f);
      if (f.shard || f.output) throw new Error('--shard and --output go with --dicom-list FILE or --study-list FILE');
      if (f.promptSet && f.adaptor) throw new Error('give --prompt-set or --adaptor, not both');
      if (f.device !== undefined) parseProviderChoice(f.device); // a bad name fails before any work
      if (f.study?.length) await classifyStudies(f, f.study);
      else await classifyFiles(f, f.dicom!);
    });
}

/** What both paths print: the model and prompts that ran, then per study its views, breasts and exam. */
interface StudyOutput {
  studyInstanceUID: string | null;
  views: {
    file: string;
    sopInstanceUID: string | null;
    laterality: 'L' | 'R' | null;
    view: string | null;
    probabilities: Record<string, number>;
  }[];
  breast: Record<string, Record<string, number>>;
  exam: Record<string, number>;
  prediction: string | undefined;
}

function printText(head: string, classes: string[], studies: StudyOutput[], seconds: number): void {
  console.log(head);
  const probs = (p: Record<string, number>): string =>
    fmtProbs(
      classes,
      classes.map((c) => p[c]!),
    );
  for (const s of studies) {
    if (studies.length > 1) console.log(` study ${s.studyInstanceUID}`);
    for (const v of s.views)
      console.log(`  view ${`${v.laterality ?? '?'}${v.view ?? ''}`.padEnd(6)} ${probs(v.probabilities)}  ${path.basename(v.file)}`);
    for (const [side, p] of Object.entries(s.breast)) console.log(`  breast ${side}      ${probs(p)}`);
    console.log(`  exam          ${probs(s.exam)}  -> ${s.prediction} (mean of the views' probabilities)`);
  }
  console.log(`  ${seconds.toFixed(2)} s`);
}

const promptsLine = (adaptor: string | null, promptSet: string | null): string =>
  adaptor ? `adaptor "${adaptor}"` : `prompts: ${promptSet ? `learned set "${promptSet}"` : 'task templates'}`;

const argmax = (classes: string[], p: Record<string, number>): string | undefined =>
  classes.reduce<string | undefined>((best, c) => (best === undefined || p[c]! > p[best]! ? c : best), undefined);

/** DICOM files (anywhere): prepared, classified and printed; nothing is recorded. */
async function classifyFiles(f: Flags, files: string[]): Promise<void> {
  const t0 = performance.now();
  const bundle = await openBundle(f.bundle, { verify: 'sizes' });
  const task = resolveTask(f.task, f.dataDir);
  const size = bundle.image.config.imageSize[0];
  const spec = bundle.preprocessing
    ? PreprocessSpec.parse(bundle.preprocessing.spec)
    : PreprocessSpec.parse({ ...presetSpec('cleft'), size, padLongSide: Math.max(256, Math.round((size * 256) / 224)) });
  const prepared = await prepareFiles(files, spec);
  const laterality = prepared.images.map((im): 'L' | 'R' | null => (im.breastSide === 'L' || im.breastSide === 'R' ? im.breastSide : null));
  const threads = num(f.threads, '--threads', { int: true, min: 1 });
  const cacheDir = path.resolve(f.cacheDir ?? path.join(resolveDataDir(f.dataDir), 'cache', 'onnx'));
  // where the encoders ran, for the output (in-process ORT, as before)
  const recorder = new DeviceRecorder(inProcessEngine);
  const engine = {
    cacheDir,
    device: parseProviderChoice(f.device ?? 'auto'),
    onWarning: (m: string) => console.error(`warning: ${m}`),
    ...(threads ? { threads } : {}),
    weights: f.weights ?? 'float32',
    engine: recorder.engine(),
  };
  const text = f.adaptor ? null : await libraryClassEmbeddings(f, bundle, task, engine);
  const r = await zeroShot(
    {
      bundle,
      task,
      promptSet: f.promptSet ?? null,
      adaptor: f.adaptor ?? null,
      pixelValues: prepared.pixelValues,
      shape: prepared.shape,
      laterality,
      ...(text ? { classEmbeddings: text.embeddings } : {}),
    },
    engine,
  );
  const device = r.provider ? providerLabel(r.provider) : 'cache';
  const named = (p: readonly number[]): Record<string, number> => Object.fromEntries(r.classes.map((c, k) => [c, p[k]!]));
  const views = prepared.images.map((im, i) => ({
    file: im.file,
    sopInstanceUID: im.sopInstanceUID,
    laterality: laterality[i]!,
    view: im.viewPosition,
    probabilities: named(r.probabilities[i]!),
  }));
  const out = {
    task: task.name,
    classes: r.classes,
    model: { bundle: bundle.dir, name: bundle.manifest.name, sha256: bundle.sha256 },
    promptSet: r.model.promptSet,
    adaptor: r.model.adaptor,
    promptsSha256: r.model.promptsSha256,
    preprocessing: prepared.specHash,
    device,
    fallbackReason: r.provider && 'fallbackReason' in r.provider ? (r.provider.fallbackReason ?? null) : null,
    // the provider, why, and per graph every node on it and determinism (null: nothing ran)
    deviceRecord: recorder.record(),
    weights: engine.weights,
    combination: 'mean of the views\u2019 probabilities',
    // 'cache': read from the library (the bundle is registered there); null with an adaptor
    classEmbeddings: f.adaptor ? null : (text?.source ?? 'computed'),
    views,
    breast: Object.fromEntries(Object.entries(r.breast).map(([s, p]) => [s, named(p!)])),
    exam: named(r.exam),
    prediction: r.classes[r.exam.indexOf(Math.max(...r.exam))],
    seconds: (performance.now() - t0) / 1000,
  };
  if (f.json) {
    console.log(JSON.stringify(out, null, 2));
    return;
  }
  printText(
    `${task.name} with ${bundle.manifest.name} (${bundle.sha256.slice(0, 12)}), ${promptsLine(r.model.adaptor, r.model.promptSet)}, device ${device}${weightsNote(engine.weights)}`,
    r.classes,
    [{ studyInstanceUID: null, ...out }],
    out.seconds,
  );
}

/**
 * Class embeddings of files' classification through the library's cache, as the app's Classify reads
 * them, when a library exists and has this bundle registered; null otherwise (zeroShot computes them).
 */
async function libraryClassEmbeddings(f: Flags, bundle: CleftBundle, task: TaskSpec, engine: Engine): Promise<ClassEmbeddings | null> {
  const file = path.join(resolveDataDir(f.dataDir), DB_FILE_NAME);
  if (!fs.existsSync(file)) return null;
  const db = openDatabase(file);
  try {
    const model = registeredModelOfBundle(db, bundle);
    return model ? await cachedClassEmbeddings(db, model.id, bundle, task, f.promptSet ?? null, engine) : null;
  } finally {
    db.close();
  }
}

/** Studies of the library: the `classify` job, as the app runs it, then its recorded run printed. */
async function classifyStudies(f: Flags, uids: string[]): Promise<void> {
  const t0 = performance.now();
  const dataDir = resolveDataDir(f.dataDir);
  const dbFile = path.join(dataDir, DB_FILE_NAME);
  if (!fs.existsSync(dbFile)) throw new Error(`no library at ${dbFile} (use --data-dir or CLEFT_DATA_DIR, or give --dicom files)`);
  const threads = num(f.threads, '--threads', { int: true, min: 1 });
  if (f.cacheDir) console.error('note: --cache-dir applies to --dicom; studies of the library use its own cache, as the app does');
  const host = openCliJobHost(f.dataDir, 'cleft classify');
  // Files to classify unrecorded instead (a task file outside the library), once the host is closed.
  let unrecorded: string[] | null = null;
  try {
    const db = host.db;
    const images = new ImagesRepo(db);
    const studyIds = uids.map((uid) => {
      const id = images.studyIdByUid(uid);
      if (id === null) throw new Error(`study ${uid}: not in the library ${dbFile}`);
      return id;
    });
    const taskRow = new TasksRepo(db).findByName(f.task.trim());
    if (!taskRow && f.task.endsWith('.json') && fs.existsSync(f.task) && uids.length === 1) {
      // A task file outside the library cannot name a run: classified as files, as before, not recorded.
      console.error(`note: task ${f.task} is not a task of the library, so this classification is not recorded as a run`);
      const files = images.presentationImagesOfStudyUid(uids[0]!).map((r) => r.file);
      if (!files.length) throw new Error(`study ${uids[0]}: no FOR PRESENTATION images in the library ${dbFile}`);
      unrecorded = files;
      return;
    }
    if (!taskRow)
      throw new Error(
        `task "${f.task}" is not a task of the library ${dbFile}: a recorded run needs one (built in: "Breast density", "BI-RADS assessment"; ` +
          'add a custom task in the app), or classify --dicom files with a task .json',
      );
    const bundle = await openBundle(f.bundle, { verify: 'sizes' });
    const { model, registered } = await libraryModelOfBundle(db, dataDir, bundle);
    if (registered) console.error(`registered ${model.path} in the library as model #${model.id} "${model.name}" (not copied)`);
    const params: ClassifyParams = {
      modelId: model.id,
      taskId: taskRow.id,
      studyIds,
      // As the app: a named set, else the task's active set for this model, else the templates.
      promptSet: f.adaptor ? null : await resolveClassifyPromptSet(db, model.id, taskRow.id, f.promptSet),
      adaptor: f.adaptor ?? null,
      ...(f.device !== undefined ? { device: parseProviderChoice(f.device) } : {}),
      ...(threads ? { threads } : {}),
      ...(f.weights ? { weights: f.weights } : {}),
    };
    const job: Job = await runJobInTerminal(host, () => host.jobs.enqueue({ kind: 'classify', params }));
    if (!isJobOf(job, 'classify') || job.status !== 'done' || !job.result) {
      process.exitCode = job.status === 'cancelled' ? 130 : 1;
      throw new Error(`classification job ${job.id} ${job.status}${job.error ? `: ${job.error}` : ''}`);
    }
    const result = job.result;
    const runs = new RunsRepo(db);
    const run = runs.getRun(result.runId);
    const classes = taskRow.classes.map((c) => c.name);
    const predictions = runs.allPredictions(result.runId);
    const studies = uids.map((uid, k) =>
      studyOutput(
        images,
        classes,
        uid,
        predictions.filter((p) => p.studyId === studyIds[k]),
      ),
    );
    const modelNow = getModel(db, model.id);
    const sha256 = run.record.modelSha256 ?? modelNow.sha256;
    const out = {
      runId: result.runId,
      jobId: job.id,
      task: taskRow.name,
      classes,
      model: { bundle: modelNow.path, name: modelNow.name, sha256, modelId: model.id },
      promptSet: result.promptSet,
      adaptor: params.adaptor,
      promptsSha256: run.record.promptSetSha256,
      preprocessing: run.record.preprocessSha256,
      device: result.executionProvider,
      weights: result.weights ?? 'float32',
      fallbackReason:
        params.device && params.device !== 'auto' && params.device !== result.executionProvider && result.featureCacheHits < result.images
          ? `asked for ${params.device}, ran on ${result.executionProvider}`
          : null,
      combination: 'mean of the views\u2019 probabilities',
      skipped: result.skipped,
      featureCacheHits: result.featureCacheHits,
      // 'cache': the class text embeddings were read from the library, the text encoder did not run
      classEmbeddings: result.classEmbeddings ?? null,
      ...(studies.length === 1
        ? { views: studies[0]!.views, breast: studies[0]!.breast, exam: studies[0]!.exam, prediction: studies[0]!.prediction }
        : {}),
      studies,
      seconds: (performance.now() - t0) / 1000,
    };
    if (f.json) {
      console.log(JSON.stringify(out, null, 2));
      return;
    }
    printText(
      `run ${result.runId} recorded: ${taskRow.name} with ${modelNow.name} (${sha256.slice(0, 12)}), ` +
        `${promptsLine(params.adaptor, result.promptSet)}, device ${result.executionProvider}${weightsNote(result.weights)}`,
      classes,
      studies,
      out.seconds,
    );
    for (const s of result.skipped) console.log(`  skipped image ${s.instanceId}: ${s.reason}`);
    if (result.classEmbeddings)
      console.log(
        `  class embeddings: ${result.classEmbeddings === 'cache' ? 'read from the library cache (the text encoder did not run)' : 'computed and cached in the library'}`,
      );
    console.log(`  review it on the Predictions page, or: cleft runs export ${result.runId} --scope exam --output run-${result.runId}.csv`);
  } finally {
    host.close();
    if (unrecorded) await classifyFiles(f, unrecorded);
  }
}

/** One study's predictions of the run in the shape of the files path. */
function studyOutput(images: ImagesRepo, classes: string[], uid: string, preds: Prediction[]): StudyOutput {
  const side = (l: string | null): 'L' | 'R' | null => (l === 'L' || l === 'R' ? l : null);
  const exam = preds.find((p) => p.scope === 'exam')?.probabilities ?? {};
  return {
    studyInstanceUID: uid,
    views: preds
      .filter((p) => p.scope === 'image')
      .map((p) => ({
        file: images.file(p.instanceId!)?.filePath ?? '',
        sopInstanceUID: p.sopInstanceUid,
        laterality: side(p.laterality),
        view: p.view,
        probabilities: p.probabilities,
      })),
    breast: Object.fromEntries(preds.filter((p) => p.scope === 'breast').map((p) => [p.laterality!, p.probabilities])),
    exam,
    prediction: argmax(classes, exam),
  };
}

/** A list of files or studies into a results file: everything, or shard K of N (runs/classify-shard.ts). */
async function classifyList(f: Flags): Promise<void> {
  const t0 = performance.now();
  if (f.promptSet && f.adaptor) throw new Error('give --prompt-set or --adaptor, not both');
  if (!f.output) throw new Error('--dicom-list and --study-list write a results file: give --output FILE.safetensors');
  const shard = f.shard ? parseShard(f.shard) : { index: 1, count: 1 };
  const device = parseProviderChoice(f.device ?? 'auto');
  deviceForWeights(device, f.weights); // int8 on a GPU device fails before any file is read or written
  const threads = num(f.threads, '--threads', { int: true, min: 1 });
  const task = resolveTask(f.task, f.dataDir);
  const list = (f.dicomList ?? f.studyList)!;
  const plan = f.dicomList
    ? await planFromDicomList(f.dicomList, shard)
    : planFromStudyList(f.studyList!, resolveDataDir(f.dataDir), shard);
  const label = `shard ${shard.index}/${shard.count}`;
  console.error(
    `${label}: ${plan.studies.length} of ${plan.totalStudies} studies, ${plan.studies.reduce((n, s) => n + s.images.length, 0)} images` +
      (plan.skipped.length ? `, ${plan.skipped.length} files skipped` : ''),
  );
  const output = path.resolve(f.output);
  const r = await classifyShard({
    bundleDir: f.bundle,
    task,
    promptSet: f.promptSet ?? null,
    adaptor: f.adaptor ?? null,
    plan,
    inputList: path.resolve(list),
    output,
    engine: {
      cacheDir: path.resolve(f.cacheDir ?? path.join(resolveDataDir(f.dataDir), 'cache', 'onnx')),
      device,
      onWarning: (m) => console.error(`warning: ${m}`),
      ...(threads ? { threads } : {}),
      // Not the library's Settings: every shard of a run must run the same precision, whatever node it is on.
      weights: f.weights ?? 'float32',
    },
    onProgress: (done, total, message) => console.error(`${label}: ${done}/${total} ${message}`),
  });
  const seconds = (performance.now() - t0) / 1000;
  if (f.json) {
    console.log(JSON.stringify({ ...r, shard: `${shard.index}/${shard.count}`, totalStudies: plan.totalStudies, seconds }, null, 2));
    return;
  }
  if (r.status === 'exists')
    console.log(`${output}: already complete (${label}, ${r.studies} studies, ${r.images} images${weightsNote(r.weights)}); left as is`);
  else
    console.log(
      `${output}: ${label}, ${r.studies} studies, ${r.images} images` +
        (r.resumed ? ` (${r.resumed} studies resumed from the partial file)` : '') +
        `, device ${r.executionProvider}${weightsNote(r.weights)}, ${seconds.toFixed(2)} s`,
    );
  for (const s of plan.skipped) console.log(`  skipped ${s.file}: ${s.reason}`);
}
