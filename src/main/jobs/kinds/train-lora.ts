// Contrastive LoRA training (CLEFT stage 1) on the library's image-report pairs, as a job. Every
// FOR PRESENTATION image of a study with a report is one pair: its pixels prepared with the base
// bundle's preprocessing spec, the report tokenized with the bundle's tokenizer (truncated to its
// max text length). The text encoder gets LoRA (or its existing adapter is trained further), the
// image encoder stays frozen or gets LoRA, projections and logit scale train too. Validation holds
// out whole studies (loss, recall@1/5). The result is a NEW bundle (the base with the trained
// adapters and heads) registered under `name`, and a 'contrastive-lora' run record.
import fs from 'node:fs';
import path from 'node:path';
import type { TrainLoraParams, TrainLoraResult } from '../../../common/jobs';
import type { RunRecord } from '../../../common/runs';
import { CleftError } from '../../../common/errors';
import { DB_FILE_NAME, openDatabase, type Db } from '../../db/database';
import { ModelsRepo } from '../../db/models-repo';
import { ReportsRepo, type ReportPair } from '../../db/reports-repo';
import { RunsRepo } from '../../db/runs-repo';
import { SettingsRepo } from '../../db/settings-repo';
import { bundleSpec } from '../../features/image-features';
import { preparedPixelFile } from '../../library/prepared-pixels';
import { MODELS_DIR, getModel, importModel, listModels } from '../../models/registry';
import { APP_VERSION } from '../../version';
import { canonicalJson, sha256Hex } from '../../../native/io/hash';
import { createBundle, openBundle, type BundleParts } from '../../../native/bundle/index';
import { crashPoint } from '../../../native/io/crash-point';
import {
  contrastiveFrozenFloat32Bytes,
  exportContrastive,
  lastBlocksTraining,
  trainContrastive,
  type EncoderTraining,
  type PairData,
} from '../../../native/cleft/contrastive';
import { stepsForEpochs } from '../../../native/cleft/common';
import { bundleTokenizer } from '../../../native/cleft/zero-shot';
import { throwIfCancelled, type JobContext, type JobRunner } from '../job-context';
import { jobDevice } from '../job-device';
import type { DeviceRecord } from '../../../native/runtime/device-record';
import { bundleSplitProvenance, splitSummary, splitTestStudies, trainingSplit } from '../../library/splits';
import { readPendingSave, writePendingSave, type PendingSave } from '../pending-save';
import { stagedFraction } from '../../../common/progress';
import { releaseWarmEncodersIfLarge } from '../release-warm';
import { chosenWeights } from '../../../common/precision';

/** Identity of the data: each pair's image and report text (portable: DICOM UIDs, not row ids). */
function selectionSha256(pairs: readonly ReportPair[]): string {
  return sha256Hex(canonicalJson(pairs.map((p) => [p.studyUid, p.sopInstanceUid, sha256Hex(p.text)])));
}

function noPairsMessage(db: Db, studyIds: readonly number[] | undefined): string {
  const how = 'import reports first: reports.import in the app, or `npx cleft reports import FILE` (a CSV or .txt reports)';
  if (new ReportsRepo(db).count() === 0) return `${how}; no study in the library has a report`;
  if (studyIds) return `${how}; none of the ${studyIds.length} chosen studies has a report with images`;
  return `${how}; the studies with reports have no images`;
}

const slug = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 60) || 'model';

export const trainLora: JobRunner<TrainLoraParams, TrainLoraResult> = async (ctx) => {
  const started = performance.now();
  const p = ctx.params;
  const db = openDatabase(path.join(ctx.dataDir, DB_FILE_NAME));
  try {
    // killed during its save: complete it (the trained files are in the job folder)
    const resumed = readPendingSave<LoraSave>(ctx.jobDir);
    if (resumed) return await save(ctx, db, resumed);
    const model = getModel(db, p.modelId);
    if (model.kind !== 'bundle')
      throw new CleftError('invalid_input', `model "${model.name}" is a ${model.kind}; LoRA training starts from a CLEFT bundle`);
    const taken = new ModelsRepo(db).idByName(p.name);
    if (taken !== null) throw new CleftError('conflict', `a model named "${p.name}" already exists (#${taken}); choose another name`);
    const bundle = await openBundle(model.path, { verify: 'sizes' });
    const tok = bundleTokenizer(bundle);

    // a named split's test part is never read
    const testStudies = splitTestStudies(db, p.split);
    const pairs = new ReportsRepo(db).imagePairs(p.studyIds).filter((x) => !testStudies.has(x.studyId));
    if (pairs.length === 0) throw new CleftError('invalid_input', noPairsMessage(db, p.studyIds));
    if (pairs.length < 2)
      throw new CleftError('invalid_input', `contrastive training needs at least 2 image-report pairs; the selection has ${pairs.length}`);
    const selection = selectionSha256(pairs);
    // A resumed run must train on exactly the data it started with (same order, same reports).
    const saved = ctx.checkpoint as { selectionSha256?: string } | null;
    if (saved?.selectionSha256 && saved.selectionSha256 !== selection)
      throw new CleftError(
        'conflict',
        'the image-report pairs changed since this job started (reports or images imported or removed); start a new training job',
      );
    ctx.saveCheckpoint({ selectionSha256: selection });
    const studyOf = pairs.map((x) => x.studyId);
    const studies = new Set(studyOf).size;
    // by patient (a named split's train and val parts), checked before any image is prepared
    const split = trainingSplit(db, pairs, new Array<number>(pairs.length).fill(0), {
      split: p.split,
      valFraction: p.valFraction,
      seed: p.seed,
    });
    if (split.train.length < p.batchSize)
      throw new CleftError(
        'invalid_input',
        `batchSize ${p.batchSize} is more than the ${split.train.length} training pairs (${pairs.length} pairs of ${studies} studies, ` +
          `${split.val.length} held out for validation): lower batchSize or valFraction, or import more reports`,
      );
    const steps = p.epochs !== undefined ? stepsForEpochs(p.epochs, split.train.length, p.batchSize * p.accumulate) : p.steps;
    if (p.schedule === 'cosine' && p.warmupSteps >= steps)
      throw new CleftError('invalid_input', `warmupSteps (${p.warmupSteps}) must be fewer than steps (${steps})`);

    // Percent of the work: images prepared (none when an interrupted run's are reused), then
    // updates; the last 5 % is writing the bundle.
    let prepared = 0;
    const workDone = (stage: number, done: number): number => 0.95 * stagedFraction([prepared, steps], stage, done);
    ctx.progress(0, `Preparing ${pairs.length} images of ${studies} studies…`);
    const px = await preparedPixelFile(
      path.join(ctx.jobDir, 'pixels'),
      pairs.map((x) => x.file),
      bundleSpec(bundle).spec,
      {
        signal: ctx.signal,
        onProgress: (d, t) => {
          prepared = t;
          ctx.progress(workDone(0, d), `Prepared ${d} of ${t} images`);
        },
      },
    );
    const notes: string[] = [];
    if (px.reused) notes.push('the prepared images of the interrupted run were reused');
    const enc = tok.encodeBatch(
      pairs.map((x) => x.text),
      { maxLength: bundle.text.maxLength, onWarning: () => undefined },
    );
    const truncatedStudies = new Set(enc.truncated.map((i) => studyOf[i]!)).size;
    if (truncatedStudies)
      notes.push(`${truncatedStudies} of ${studies} reports are longer than ${bundle.text.maxLength} tokens and were truncated`);
    const data: PairData = { pixelValues: px, pixelShape: px.shape, inputIds: enc.inputIds, lengths: enc.lengths };

    const textTraining: EncoderTraining = { mode: 'lora', adapterDir: bundle.text.adapter?.dir ?? null, ...p.textLora };
    if (bundle.text.adapter) notes.push('the base text adapter was trained further (its rank, alpha and targets kept)');
    if (p.image === 'last-blocks' && bundle.image.adapter)
      throw new CleftError(
        'invalid_input',
        `training the last image blocks needs a base bundle without an image adapter ("${bundle.manifest.name}" has one): choose LoRA or frozen`,
      );
    const imageTraining: EncoderTraining =
      p.image === 'lora'
        ? { mode: 'lora', adapterDir: bundle.image.adapter?.dir ?? null, ...p.imageLora }
        : p.image === 'last-blocks'
          ? lastBlocksTraining(bundle.image.model, p.imageBlocks)
          : { mode: 'frozen', adapterDir: bundle.image.adapter?.dir ?? null };
    if (p.image === 'lora' && bundle.image.adapter)
      notes.push('the base image adapter was trained further (its rank, alpha and targets kept)');
    const settings = new SettingsRepo(db).get();
    const device = jobDevice(p.device, settings);
    // the frozen base weights: the job's choice, else Settings' (int8 runs on the CPU; a GPU device is refused)
    const weights = chosenWeights(p.weights, settings.weights);
    // where the training graphs ran (set once they load)
    const ran: { device: DeviceRecord | null } = { device: null };
    const work = path.join(ctx.jobDir, 'work');
    let lastLoss = NaN;

    await releaseWarmEncodersIfLarge(
      contrastiveFrozenFloat32Bytes(
        { model: bundle.text.model, training: textTraining },
        { model: bundle.image.model, training: imageTraining },
      ),
      [bundle.text, bundle.image],
    );
    ctx.progress(workDone(1, 0), 'Contrastive training…');
    const r = await trainContrastive({
      text: { modelDir: bundle.text.dir, training: textTraining },
      image: { modelDir: bundle.image.dir, pool: bundle.image.pooling, training: imageTraining },
      heads: bundle.heads.heads,
      trainHeads: p.trainHeads,
      data,
      split: { train: split.train, val: split.val },
      keep: p.keep,
      ...(p.evalEvery !== undefined ? { evalEvery: p.evalEvery } : {}),
      optimizer: {
        kind: p.optimizer,
        lr: p.lr,
        ...(p.weightDecay !== undefined ? { weightDecay: p.weightDecay } : {}),
        ...(p.momentum !== undefined ? { momentum: p.momentum } : {}),
        schedule: p.schedule === 'cosine' ? { kind: 'cosine', warmupSteps: p.warmupSteps } : { kind: 'constant' },
      },
      steps,
      batchSize: p.batchSize,
      accumulation: p.accumulate,
      seed: p.seed,
      workDir: work,
      checkpoint: { dir: path.join(ctx.jobDir, 'checkpoint'), every: p.checkpointEvery },
      signal: ctx.signal,
      ...(settings.threads > 0 ? { session: { intraOpNumThreads: settings.threads } } : {}),
      device,
      weights,
      onDevice: (d) => void (ran.device ??= d),
      onProgress: (w) => {
        lastLoss = w.loss;
        ctx.progress(workDone(1, w.step), w.message);
        ctx.metric({ step: w.step, loss: w.loss, lr: w.lr, ...(w.valMetrics ? { val: w.valMetrics } : {}) });
      },
    }).finally(() => px.close());
    throwIfCancelled(ctx.signal);
    if (r.loop.stopped === 'aborted') throw new Error('training stopped before it finished');

    if (p.keep === 'best' && r.loop.bestStep === 0)
      notes.push('the validation loss never improved on the base model: the new bundle keeps the starting adapters and heads');
    else if (p.keep === 'best' && r.loop.bestStep !== null && r.loop.bestStep < r.loop.steps)
      notes.push(`kept the parameters of update ${r.loop.bestStep}, the lowest validation loss`);
    else if (p.keep === 'last' && r.loop.bestStep !== null && r.loop.bestStep < r.loop.steps)
      notes.push(
        `the lowest validation loss was at update ${r.loop.bestStep}${r.loop.bestStep === 0 ? ' (the base model)' : ''}; the last parameters were kept`,
      );
    const trained = path.join(ctx.jobDir, 'trained');
    fs.rmSync(trained, { recursive: true, force: true });
    const lastBlocks = p.image === 'last-blocks';
    exportContrastive(trained, r, { text: bundle.text.model, image: bundle.image.model, fullImage: lastBlocks });
    const imageAdapter = r.imageAdapter ? path.join(trained, 'image-adapter') : (bundle.image.adapter?.dir ?? null);
    const losses = r.loop.losses;
    const validation = { before: r.validationBefore, after: r.validation };
    const pending = writePendingSave<LoraSave>(
      ctx.jobDir,
      {},
      {
        parts: {
          name: p.name,
          description:
            `Contrastive LoRA (CLEFT stage 1) from "${bundle.manifest.name}" on ${pairs.length} image-report pairs of ${studies} studies ` +
            `(job ${ctx.jobId}, ${r.loop.steps} steps, seed ${p.seed}; ${splitSummary(split.record)}). ` +
            'Prompt sets and adaptors of the base are not carried over: learn them again.',
          textModel: bundle.text.dir,
          // Last blocks trained: the new bundle carries the whole updated image encoder.
          imageModel: lastBlocks ? path.join(trained, 'image') : bundle.image.dir,
          textAdapter: path.join(trained, 'text-adapter'),
          ...(imageAdapter ? { imageAdapter } : {}),
          heads: path.join(trained, 'heads.safetensors'),
          tokenizer: bundle.text.tokenizerDir ?? null,
          imagePooling: bundle.image.pooling,
          maxTextLength: bundle.text.maxLength,
          ...(bundle.preprocessing ? { preprocessing: bundle.preprocessing.spec } : {}),
          createdBy: `CLEFT Studio ${APP_VERSION} (train-lora job ${ctx.jobId})`,
          // the studies it trained and validated on travel with the bundle (evaluation elsewhere leaves them out)
          training: { steps: r.loop.steps, seed: p.seed, pairs: pairs.length, split: bundleSplitProvenance(split.record) },
        },
        run: {
          name: `contrastive LoRA from ${model.name}`,
          record: {
            promptSetSha256: null,
            preprocessSha256: bundleSpec(bundle).sha256,
            selectionSha256: selection,
            executionProvider: ran.device?.provider ?? 'cpu',
            device: ran.device,
            appVersion: APP_VERSION,
            weights,
            params: { ...p, baseModelId: model.id, baseModelSha256: model.sha256, pairs: pairs.length, studies },
            split: split.record,
          },
          metrics: {
            losses,
            validation,
            history: r.loop.history,
            bestStep: r.loop.bestStep,
            split: { train: r.split.train.length, val: r.split.val.length },
          },
        },
        result: {
          studies,
          pairs: pairs.length,
          train: r.split.train.length,
          val: r.split.val.length,
          split: split.record,
          steps: r.loop.steps,
          bestStep: r.loop.bestStep,
          loss: { first: losses[0] ?? lastLoss, last: losses.at(-1) ?? lastLoss },
          validation,
          notes,
          device: ran.device,
          weights,
          seconds: Math.round(performance.now() - started) / 1000,
        },
      },
    );
    crashPoint('train-lora.pending-saved');
    return await save(ctx, db, pending);
  } finally {
    db.close();
  }
};

/** What the save needs once training is over (kept in the job folder until the job is done). */
interface LoraSave {
  parts: BundleParts;
  run: { name: string; record: Omit<RunRecord, 'modelSha256' | 'adapters'>; metrics: unknown };
  result: Omit<TrainLoraResult, 'modelId' | 'model' | 'bundleDir' | 'runId'>;
}

/**
 * Writes the new bundle, registers it and records the run. Each step first looks for its own
 * output (the model registered at this job's folder, the run of this job), so running it again
 * completes a save a kill cut short.
 */
async function save(ctx: JobContext<TrainLoraParams>, db: Db, pending: PendingSave<LoraSave>): Promise<TrainLoraResult> {
  const p = ctx.params;
  ctx.progress(0.95, `Writing the new bundle "${p.name}"…`);
  const outDir = path.join(ctx.dataDir, MODELS_DIR, `lora-job${ctx.jobId}-${slug(p.name)}`);
  let registered = listModels(db, { kind: 'bundle' }).find((m) => path.resolve(m.path) === path.resolve(outDir));
  if (!registered) {
    await createBundle(outDir, pending.record.parts, { overwrite: true, link: 'hardlink' });
    crashPoint('train-lora.bundle-written');
    try {
      registered = await importModel(db, ctx.dataDir, outDir, { copy: false, name: p.name });
    } catch (e) {
      fs.rmSync(outDir, { recursive: true, force: true });
      // e.g. the same training run twice: the trained bundle is identical to one already registered
      throw e instanceof CleftError ? new CleftError(e.code, `the trained model was not registered: ${e.message}`) : e;
    }
  }
  crashPoint('train-lora.registered');
  const created = await openBundle(outDir, { verify: 'sizes' });
  const fileSha = (rel: string) => created.files.find((f) => f.path === rel)?.sha256;
  const adapters: Record<string, string> = {};
  for (const [key, rel] of [
    ['text-adapter', 'text-adapter/adapter_model.safetensors'],
    ['image-adapter', 'image-adapter/adapter_model.safetensors'],
    ['image-model', 'image/model.safetensors'],
    ['heads', 'heads.safetensors'],
  ] as const) {
    const sha = fileSha(rel);
    if (sha) adapters[key] = sha;
  }
  const runs = new RunsRepo(db);
  const model = registered;
  const runId = db
    .transaction(
      () =>
        runs.runOfJob(ctx.jobId, 'contrastive-lora') ??
        runs.createRun({
          kind: 'contrastive-lora',
          name: `${model.name} · ${pending.record.run.name}`,
          jobId: ctx.jobId,
          modelId: model.id,
          taskId: null,
          promptSetId: null,
          record: { ...pending.record.run.record, modelSha256: model.sha256, adapters },
          metrics: pending.record.run.metrics,
        }),
    )
    .immediate();
  crashPoint('train-lora.run-recorded');
  // the graphs and prepared pixels are only needed to resume
  fs.rmSync(path.join(ctx.jobDir, 'work'), { recursive: true, force: true });
  fs.rmSync(path.join(ctx.jobDir, 'pixels'), { recursive: true, force: true });
  return { modelId: model.id, model: model.name, bundleDir: outDir, runId, ...pending.record.result };
}
