// The embedded default (`cleft demo`, the app's first-run button): everything offline, nothing
// downloaded.
//   1. phantom exams (4 views + report + labels), balanced over densities A-D
//   2. the DICOM pipeline (cleft preset at the small ViT's size)
//   3. a small ViT + small GPT-2 (real GPT-2 tokenizer) from random weights, trained contrastively on
//      image-caption pairs. Captions are built as CLEFT builds EMBED captions (a template sentence
//      from the exam's density label) followed by the report's findings and impression and the view.
//      Honest note: LoRA on random weights has nothing to adapt, so the demo trains the small models
//      fully (every weight, projections and logit scale); `cleft train-lora` is the LoRA stage on
//      pretrained encoders.
//   4. a CLEFT bundle (text/, image/, heads, tokenizer, preprocessing) in the output folder
//   5. zero-shot density on held-out exams with the EMBED prompts, then prompt context learning on
//      half of the held-out exams (context initialised from the prompt's own words, so "before" is the
//      zero-shot prompt) and evaluation of both on the other half (never seen by any training).
// DICOM functions are injected (src/main/dicom may not be imported by the engine).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../io/atomic-write';
import { addPromptSet, createBundle, openBundle } from '../bundle/index';
import { readHeads } from '../models/heads';
import { loadHfFolder } from '../models/hf-model';
import { Gpt2Tokenizer } from '../formats/tokenizer';
import { combineViews } from './aggregate';
import { exportContrastive, trainContrastive } from './contrastive';
import { promptFeatures } from './features';
import { projectAndNormalizeRows } from './math';
import { evaluate, type ClassificationReport } from './metrics';
import { learnPromptContext } from './prompt-learning';
import { trainValSplit } from './splits';
import { seededRandom, shuffledIndices } from './random';
import { builtinTask, classNamesForPromptLearning, DEFAULT_INIT_PHRASE } from './tasks';
import { DEMO_SIZES, QUICK_SIZES, writeTinyModels, type TinySizes } from './tiny-models';
import { DemoWorkMeter, demoPlan, demoSplitSizes, type DemoStage } from './demo-work';
import {
  bundleImageFeatures,
  classNameIds,
  imageEmbeddingsFromFeatures,
  taskClassEmbeddings,
  zeroShotProbabilities,
  type WorkflowEngine,
} from './zero-shot';
import type { ProviderChoice } from '../runtime/providers';
import type { DeviceRecord } from '../runtime/device-record';

export interface DemoExam {
  dir: string;
  studyInstanceUID: string;
  density: 'A' | 'B' | 'C' | 'D';
  report: string;
  images: { file: string; view: string }[];
}

export interface DemoDeps {
  /** Writes exam number `index` (deterministic from seed and index) under outDir. */
  generateExam(index: number, opts: { outDir: string; seed: number; quick: boolean }): Promise<DemoExam>;
  /** DICOM files -> pixel_values (B, 3, size, size) with the spec. */
  prepareFiles(
    files: string[],
    spec: Record<string, unknown>,
  ): Promise<{ pixelValues: Float32Array; shape: [number, number, number, number]; specHash: string }>;
  /** Optional cheap prediction of exam `index`'s density (skips exams a balanced set does not need). */
  predictDensity?(index: number, seed: number): 'A' | 'B' | 'C' | 'D';
  /** The complete preprocessing spec (cleft preset) for this square size. */
  preprocessSpec(size: number): Record<string, unknown>;
}

export interface DemoOptions {
  outputDir: string;
  exams?: number;
  seed?: number;
  /** Contrastive training updates (default 400; quick 60). */
  steps?: number;
  promptSteps?: number;
  quick?: boolean;
  threads?: number;
  /** auto | cpu | webgpu | cuda:N for every graph (default cpu). */
  device?: ProviderChoice;
  /** Default: resources/demo/tokenizer. */
  tokenizerDir?: string;
  signal?: AbortSignal;
  /** fraction: the share of the run's units of work done (demo-work.ts); done/total: those units. */
  onProgress?: (p: { stage: DemoStage | 'done'; fraction: number; done: number; total: number; message: string; loss?: number }) => void;
}

/** Held-out metrics; null when not measurable (no test images), the reason in DemoResult.notes. */
export interface DemoMetrics {
  accuracy: number | null;
  balancedAccuracy: number | null;
  macroAuc: number | null;
  macroAucLow: number | null;
  macroAucHigh: number | null;
  n: number;
}

export interface DemoResult {
  bundleDir: string;
  exams: { train: number; promptTrain: number; test: number };
  images: { train: number; promptTrain: number; test: number };
  contrastive: { steps: number; firstLoss: number; lastLoss: number };
  /** On the test exams, per image and per exam (mean of the 4 views). */
  zeroShot: { image: DemoMetrics; exam: DemoMetrics; report: ClassificationReport };
  promptLearned: { image: DemoMetrics; exam: DemoMetrics; report: ClassificationReport };
  promptSet: string;
  /** Why some metrics are null (e.g. too few exams to hold any out). */
  notes: string[];
  /** Where each training's graphs ran (and why that provider). */
  device: { contrastive: DeviceRecord | null; prompt: DeviceRecord | null };
  seconds: number;
  stages: Record<string, number>;
  /** Units of work per stage: planned, and done as counted (prompt learning may stop early). */
  work: { planned: Record<DemoStage, number>; done: Record<DemoStage, number> };
}

const CLASSES = ['A', 'B', 'C', 'D'] as const;

export { demoSplitSizes } from './demo-work';

export function defaultTokenizerDir(): string {
  return fileURLToPath(new URL('../../../resources/demo/tokenizer', import.meta.url));
}

const finite = (x: number | undefined): number | null => (x !== undefined && Number.isFinite(x) ? x : null);
const short = (r: ClassificationReport): DemoMetrics => ({
  accuracy: finite(r.accuracy.estimate),
  balancedAccuracy: finite(r.balancedAccuracy),
  macroAuc: finite(r.macroAuc?.estimate),
  macroAucLow: finite(r.macroAuc?.low),
  macroAucHigh: finite(r.macroAuc?.high),
  n: r.n,
});

/**
 * A training's split as bundle entries record it (bundleSplitProvenance): the StudyInstanceUIDs
 * trained and validated on. Each phantom exam is its own patient.
 */
function demoSplit(train: readonly DemoExam[], val: readonly DemoExam[], seed: number): Record<string, unknown> {
  const uids = (xs: readonly DemoExam[]) => [...new Set(xs.map((e) => e.studyInstanceUID))].sort();
  return { name: null, by: 'patient', seed, trainStudies: uids(train), valStudies: uids(val) };
}

/** The training caption of one view: the EMBED template sentence of its density, the report's findings and impression, the view. */
export function demoCaption(exam: DemoExam, view: string): string {
  const task = builtinTask('Breast density')!;
  const template = task.classes[CLASSES.indexOf(exam.density)]!.prompts[0]!;
  const lines = exam.report.split('\n').filter((l) => /^(Findings|Impression):/.test(l));
  const side = view.startsWith('R') ? 'right' : 'left';
  return `${template} ${lines.join(' ')} ${view.slice(1)} view of the ${side} breast.`;
}

export async function runDemo(o: DemoOptions, deps: DemoDeps): Promise<DemoResult> {
  const t0 = Date.now();
  const stages: Record<string, number> = {};
  const plan = demoPlan(o);
  const quick = plan.quick;
  const seed = o.seed ?? 1;
  const sizes: TinySizes = quick ? QUICK_SIZES : DEMO_SIZES;
  const nExams = plan.exams;
  const out = path.resolve(o.outputDir);
  const work = path.join(out, 'work');
  fs.mkdirSync(work, { recursive: true });
  const meter = new DemoWorkMeter(plan);
  const progress = (stage: DemoStage, done: number, message: string, loss?: number) => {
    const fraction = meter.at(stage, done);
    o.onProgress?.({
      stage,
      fraction,
      done: Math.round(fraction * plan.total),
      total: plan.total,
      message,
      ...(loss !== undefined ? { loss } : {}),
    });
  };
  const lap = (name: string, since: number) => (stages[name] = (Date.now() - since) / 1000);
  const engine: WorkflowEngine = {
    cacheDir: path.join(work, 'cache'),
    onWarning: () => {},
    ...(o.threads ? { threads: o.threads } : {}),
    ...(o.device ? { device: o.device } : {}),
  };
  const session = o.threads ? { intraOpNumThreads: o.threads } : {};
  const device: DemoResult['device'] = { contrastive: null, prompt: null };
  const task = builtinTask('Breast density')!;

  // 1. phantoms, balanced over the densities
  let t = Date.now();
  const phantomDir = path.join(out, 'phantoms');
  const per = nExams / 4;
  const exams: DemoExam[] = [];
  const counts = { A: 0, B: 0, C: 0, D: 0 };
  for (let index = 0; exams.length < nExams; index++) {
    if (index > nExams * 6) throw new Error('phantom generator: could not balance the densities');
    if (o.signal?.aborted) throw new Error('cancelled');
    const predicted = deps.predictDensity?.(index, seed);
    if (predicted && counts[predicted] >= per) continue;
    const e = await deps.generateExam(index, { outDir: phantomDir, seed, quick });
    if (counts[e.density] >= per) {
      fs.rmSync(e.dir, { recursive: true, force: true });
      continue;
    }
    counts[e.density]++;
    exams.push(e);
    progress('phantoms', exams.length, `phantom exams ${exams.length}/${nExams}`);
  }
  lap('phantoms', t);

  // split exams: 50% contrastive training, 25% prompt learning, 25% test (stratified by density)
  const rand = seededRandom(seed ^ 0xde70);
  const split = { train: [] as DemoExam[], prompt: [] as DemoExam[], test: [] as DemoExam[] };
  for (const d of CLASSES) {
    const xs = exams.filter((e) => e.density === d);
    const order = shuffledIndices(xs.length, rand).map((i) => xs[i]!);
    const sizes = demoSplitSizes(xs.length);
    const a = sizes.train;
    const b = a + sizes.prompt;
    split.train.push(...order.slice(0, a));
    split.prompt.push(...order.slice(a, b));
    split.test.push(...order.slice(b));
  }

  // 2. DICOM -> pixel values
  t = Date.now();
  const spec = deps.preprocessSpec(sizes.imageSize);
  let prepared = 0;
  const prep = async (xs: DemoExam[], label: string) => {
    const files = xs.flatMap((e) => e.images.map((i) => i.file));
    const parts: Float32Array[] = [];
    let hash = '';
    for (let i = 0; i < files.length; i += 16) {
      const r = await deps.prepareFiles(files.slice(i, i + 16), spec);
      parts.push(r.pixelValues);
      hash = r.specHash;
      prepared += r.shape[0];
      progress('prepare', prepared, `preparing ${label} images ${Math.min(files.length, i + 16)}/${files.length}`);
    }
    const px = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let k = 0;
    for (const p of parts) {
      px.set(p, k);
      k += p.length;
    }
    return { px, n: files.length, hash, views: xs.flatMap((e) => e.images.map((i) => ({ exam: e, view: i.view }))) };
  };
  const trainPx = await prep(split.train, 'training');
  const promptPx = await prep(split.prompt, 'prompt-learning');
  const testPx = await prep(split.test, 'test');
  lap('prepare', t);

  // 3. small models from scratch, contrastive training on image-caption pairs
  t = Date.now();
  const tokenizerDir = o.tokenizerDir ?? defaultTokenizerDir();
  const tok = Gpt2Tokenizer.fromFolder(tokenizerDir);
  const init = writeTinyModels(path.join(work, 'init'), sizes, seed);
  const captions = trainPx.views.map((v) => demoCaption(v.exam, v.view));
  const enc = tok.encodeBatch(captions, { maxLength: sizes.positions, onWarning: () => {} });
  const S = sizes.imageSize;
  const steps = plan.steps;
  const r = await trainContrastive({
    text: { modelDir: init.text, training: { mode: 'full', freeze: [/^wte\.weight$/] } },
    image: { modelDir: init.image, pool: 'cls', training: { mode: 'full' } },
    heads: readHeads(init.heads),
    data: { pixelValues: trainPx.px, pixelShape: [trainPx.n, 3, S, S], inputIds: enc.inputIds, lengths: enc.lengths },
    optimizer: {
      kind: 'adamw',
      lr: quick ? 2e-3 : 1e-3,
      weightDecay: 0.01,
      schedule: { kind: 'cosine', warmupSteps: Math.round(steps / 20) },
    },
    steps,
    batchSize: Math.min(32, trainPx.n),
    seed,
    workDir: path.join(work, 'contrastive'),
    session,
    ...(o.device ? { device: o.device } : {}),
    onDevice: (r) => void (device.contrastive ??= r),
    ...(o.signal ? { signal: o.signal } : {}),
    onProgress: (p) => progress('contrastive', p.step, `contrastive training ${p.step}/${p.totalSteps}, loss ${p.loss.toFixed(3)}`, p.loss),
  });
  if (r.loop.stopped === 'aborted') throw new Error('cancelled');
  const trained = path.join(work, 'trained');
  exportContrastive(trained, r, { text: loadHfFolder(init.text), image: loadHfFolder(init.image), fullText: true, fullImage: true });
  lap('contrastive', t);

  // 4. the bundle
  t = Date.now();
  const bundleDir = path.join(out, 'bundle');
  let bundle = await createBundle(
    bundleDir,
    {
      name: 'CLEFT demo (phantoms)',
      description: `Small ViT + GPT-2 trained from scratch on ${split.train.length} phantom exams by cleft demo (seed ${seed}).`,
      textModel: path.join(trained, 'text'),
      imageModel: path.join(trained, 'image'),
      heads: path.join(trained, 'heads.safetensors'),
      tokenizer: tokenizerDir,
      imagePooling: 'cls',
      maxTextLength: sizes.positions,
      preprocessing: spec,
      createdBy: 'cleft demo',
      // the exams it was trained on travel with it: a library that imports the phantoms leaves them out of evaluation
      training: { steps: r.loop.steps, seed, split: demoSplit(split.train, [], seed) },
    },
    { overwrite: true },
  );
  lap('bundle', t);

  // 5. zero-shot on the test exams; prompt learning on the prompt exams, evaluated on the test exams
  t = Date.now();
  progress('embed', 0, 'zero-shot density classification of the held-out exams');
  const testFeat = await bundleImageFeatures(bundle, testPx.px, [testPx.n, 3, S, S], engine);
  progress('embed', testPx.n, `embedded ${testPx.n}/${testPx.n + promptPx.n} images`);
  const promptFeat = await bundleImageFeatures(bundle, promptPx.px, [promptPx.n, 3, S, S], engine);
  progress('embed', testPx.n + promptPx.n, `embedded ${testPx.n + promptPx.n}/${testPx.n + promptPx.n} images`);
  const heads = bundle.heads.heads;
  const classEmb = await taskClassEmbeddings(bundle, task, engine);
  const yTest = testPx.views.map((v) => CLASSES.indexOf(v.exam.density));
  const names = [...CLASSES];
  const perExam = (probs: number[][]) => {
    const y: number[] = [];
    const p: number[][] = [];
    for (let i = 0; i < probs.length; i += 4) {
      const views = testPx.views
        .slice(i, i + 4)
        .map((v, k) => ({ laterality: (v.view[0] === 'L' ? 'L' : 'R') as 'L' | 'R', probabilities: probs[i + k]! }));
      p.push(combineViews(views).exam);
      y.push(yTest[i]!);
    }
    return { y, p };
  };
  const zsProbs = zeroShotProbabilities(imageEmbeddingsFromFeatures(heads, testFeat), classEmb, heads.projDim, heads.logitScale);
  const zsReport = evaluate(yTest, zsProbs, names, { seed });
  const zsExam = perExam(zsProbs);
  const zeroShot = { image: short(zsReport), exam: short(evaluate(zsExam.y, zsExam.p, names, { seed })), report: zsReport };
  lap('zero-shot', t);

  t = Date.now();
  const classNames = classNamesForPromptLearning(task);
  const classIds = classNameIds(tok, classNames);
  const nCtx = Math.min(30, tok.encode(DEFAULT_INIT_PHRASE).length);
  const yPrompt = promptPx.views.map((v) => CLASSES.indexOf(v.exam.density));
  const promptSteps = plan.promptSteps;
  // validation by exam (each phantom exam is one patient): its four views stay on one side
  const promptSplit = trainValSplit(
    yPrompt,
    0.25,
    seed,
    promptPx.views.map((v) => v.exam.studyInstanceUID),
  );
  const pl = await learnPromptContext({
    text: { modelDir: bundle.text.dir },
    heads,
    imageFeatures: promptFeat,
    labels: yPrompt,
    classIds,
    classNames: names,
    nCtx,
    init: { kind: 'phrase', phrase: DEFAULT_INIT_PHRASE, tokenizer: tok },
    optimizer: { kind: 'adamw', lr: quick ? 1e-2 : 5e-3, weightDecay: 0 },
    steps: promptSteps,
    batchSize: Math.min(32, promptSplit.train.length),
    seed,
    split: promptSplit,
    evalEvery: Math.max(1, Math.round(promptSteps / 15)),
    patience: 5,
    bootstrapSamples: 200,
    workDir: path.join(work, 'prompt'),
    session,
    ...(o.device ? { device: o.device } : {}),
    onDevice: (r) => void (device.prompt ??= r),
    ...(o.signal ? { signal: o.signal } : {}),
    onProgress: (p) =>
      progress(
        'prompt',
        p.step,
        `prompt learning ${p.step}/${p.totalSteps}, loss ${Number.isFinite(p.loss) ? p.loss.toFixed(3) : '-'}`,
        p.loss,
      ),
  });
  progress('evaluate', 0, 'evaluating the learned prompts on the test exams');
  const pf = await promptFeatures({ modelDir: bundle.text.dir }, pl.ctx, pl.shape, classIds, engine);
  const learnedEmb = projectAndNormalizeRows(pf.features, classIds.length, heads.textDim, heads.textProjection, heads.projDim);
  const plProbs = zeroShotProbabilities(imageEmbeddingsFromFeatures(heads, testFeat), learnedEmb, heads.projDim, heads.logitScale);
  const plReport = evaluate(yTest, plProbs, names, { seed });
  const plExam = perExam(plProbs);
  const promptLearned = { image: short(plReport), exam: short(evaluate(plExam.y, plExam.p, names, { seed })), report: plReport };
  // only the measurable values (the manifest takes numbers); why others are missing goes in notes
  const flat = (m: DemoMetrics) =>
    Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'number' && Number.isFinite(v))) as Record<string, number>;
  const notes =
    testPx.n === 0 ? [`no test exams: ${nExams} exams (${per} per density) are too few to hold any out; use --exams 12 or more`] : [];
  const promptSet = 'density-demo';
  bundle = await addPromptSet(
    bundle,
    promptSet,
    { data: pl.ctx, shape: pl.shape },
    {
      task: task.name,
      classNames,
      nCtx,
      initPhrase: DEFAULT_INIT_PHRASE,
      metrics: { before: flat(zeroShot.image), after: flat(promptLearned.image) },
      training: {
        steps: pl.loop.steps,
        stopped: pl.loop.stopped,
        bestStep: pl.loop.bestStep,
        images: promptPx.n,
        seed,
        evaluatedOn: 'demo test exams',
        split: demoSplit(
          promptSplit.train.map((i) => promptPx.views[i]!.exam),
          promptSplit.val.map((i) => promptPx.views[i]!.exam),
          seed,
        ),
        ...(notes.length ? { notes } : {}),
      },
    },
    { replace: true },
  );
  await openBundle(bundleDir, { verify: 'sizes' });
  lap('prompt', t);
  const fraction = meter.at('evaluate', 1);
  o.onProgress?.({ stage: 'done', fraction, done: plan.total, total: plan.total, message: 'done' });

  const result: DemoResult = {
    bundleDir,
    exams: { train: split.train.length, promptTrain: split.prompt.length, test: split.test.length },
    images: { train: trainPx.n, promptTrain: promptPx.n, test: testPx.n },
    contrastive: { steps: r.loop.steps, firstLoss: r.loop.losses[0] ?? NaN, lastLoss: r.loop.losses.at(-1) ?? NaN },
    zeroShot,
    promptLearned,
    promptSet,
    notes,
    device,
    seconds: (Date.now() - t0) / 1000,
    stages,
    work: { planned: plan.units, done: meter.done },
  };
  writeFileAtomic(
    path.join(out, 'demo-report.json'),
    JSON.stringify(
      { ...result, zeroShot: { ...zeroShot, report: undefined }, promptLearned: { ...promptLearned, report: undefined } },
      null,
      2,
    ) + '\n',
  );
  return result;
}
