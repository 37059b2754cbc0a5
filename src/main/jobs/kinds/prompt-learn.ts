// Prompt context learning (CLEFT stage 2) on the library's labelled images, as a job: encoders,
// heads and logit scale frozen; image features from the cache; n_ctx context vectors trained on
// the zero-shot cross-entropy with a stratified validation split and early stopping. The result
// is a prompt set added to the bundle, with its metrics before and after, and a run record.
// The save is several steps (prompt file, manifest, library rows): the result is first recorded in
// the job folder (pending-save.ts), and a job killed anywhere after that completes its own save
// when resumed instead of training again or refusing its own prompt set.
import path from 'node:path';
import type { PromptLearnParams, PromptLearnResult } from '../../../common/jobs';
import type { RunRecord } from '../../../common/runs';
import { DB_FILE_NAME, openDatabase, type Db } from '../../db/database';
import { PromptSetsRepo } from '../../db/prompt-sets-repo';
import { RunsRepo } from '../../db/runs-repo';
import { bundleSpec } from '../../features/image-features';
import { getModel, refreshBundleRecord } from '../../models/registry';
import { APP_VERSION } from '../../version';
import { addPromptSet, openBundle, type PromptSetMetaInput } from '../../../native/bundle/index';
import { crashPoint } from '../../../native/io/crash-point';
import { stepsForEpochs } from '../../../native/cleft/common';
import { learnPromptContext, textFrozenFloat32Bytes } from '../../../native/cleft/prompt-learning';
import { releaseWarmEncodersIfLarge } from '../release-warm';
import { DEFAULT_INIT_PHRASE, classNamesForPromptLearning } from '../../../native/cleft/tasks';
import { bundleTokenizer, classNameIds, taskClassEmbeddings } from '../../../native/cleft/zero-shot';
import { throwIfCancelled, type JobContext, type JobRunner } from '../job-context';
import { readPendingSave, writePendingSave, type PendingSave } from '../pending-save';
import { labelledFeatures } from './labelled-features';
import { EARLY_STOPPING, improves, stagedFraction } from '../../../common/progress';
import { bundleSplitProvenance, trainingSplit } from '../../library/splits';

/** What the save needs once training is over (kept in the job folder until the job is done). */
interface PromptLearnSave {
  meta: PromptSetMetaInput;
  run: { name: string; record: Omit<RunRecord, 'modelSha256' | 'promptSetSha256'>; metrics: unknown };
  result: Omit<PromptLearnResult, 'runId'>;
}

export const promptLearn: JobRunner<PromptLearnParams, PromptLearnResult> = async (ctx) => {
  const db = openDatabase(path.join(ctx.dataDir, DB_FILE_NAME));
  try {
    const pending = readPendingSave<PromptLearnSave>(ctx.jobDir) ?? (await learn(ctx, db));
    crashPoint('prompt-learn.pending-saved');
    ctx.progress(0.96, `Saving prompt set "${ctx.params.name}" into the bundle…`);
    return await save(ctx, db, pending);
  } finally {
    db.close();
  }
};

/** Trains the context and records the pending save. */
async function learn(ctx: JobContext<PromptLearnParams>, db: Db): Promise<PendingSave<PromptLearnSave>> {
  const started = performance.now();
  const p = ctx.params;
  // Percent of the work: images encoded (only those not cached), then updates; the last 5 % is the
  // save. With epochs the updates are known once the split is: until then, from the images' count.
  let encoded = 0;
  let totalSteps = p.steps;
  const workDone = (stage: number, done: number): number => 0.95 * stagedFraction([encoded, totalSteps], stage, done);
  const {
    model,
    bundle,
    task,
    classes,
    images,
    labels,
    features: feats,
    settings,
    engine,
    recorder,
  } = await labelledFeatures(ctx, db, {
    purpose: 'prompt learning',
    precision: true,
    refuse: (b) => (b.promptSets.some((s) => s.name === p.name) ? `the bundle already has a prompt set named "${p.name}"` : null),
    encodingProgress: (d, t) => {
      encoded = t;
      return workDone(0, d);
    },
  });

  // by patient, never by image: the views of a breast and a patient's studies stay on one side
  const split = trainingSplit(db, images, labels, { split: p.split, valFraction: p.valFraction, seed: p.seed });
  const tok = bundleTokenizer(bundle);
  const classNames = classNamesForPromptLearning(task);
  const phrase = p.initPhrase ?? DEFAULT_INIT_PHRASE;
  // "Before" is one-click classification with the task's own prompts: the baseline the learned set must beat.
  const baselineClassEmbeddings = await taskClassEmbeddings(bundle, task, { ...engine, engine: recorder.engine('text_encoder') });
  // a large text encoder is held once from here on (this baseline's session goes too)
  await releaseWarmEncodersIfLarge(textFrozenFloat32Bytes(bundle.text.model), [bundle.text]);
  throwIfCancelled(ctx.signal);
  const steps = p.epochs !== undefined ? stepsForEpochs(p.epochs, split.train.length, p.batchSize) : p.steps;
  totalSteps = steps;
  ctx.progress(workDone(1, 0), 'Learning the prompt context…');
  // Early stopping that does what the form says: with a validation part, training stops once the
  // validation loss has not improved by 1 % for `patience` validations (src/common/progress.ts).
  const patience = p.patience ?? EARLY_STOPPING.patience;
  const r = await learnPromptContext({
    text: { modelDir: bundle.text.dir, adapterDir: bundle.text.adapter?.dir ?? null },
    heads: bundle.heads.heads,
    imageFeatures: feats.features,
    labels,
    classIds: classNameIds(tok, classNames),
    classNames,
    nCtx: p.nCtx,
    classSpecific: p.classSpecific,
    init: { kind: 'phrase', phrase, tokenizer: tok },
    baselineClassEmbeddings,
    split: { train: split.train, val: split.val },
    patience,
    improves: (loss, reference) => improves(loss, reference),
    optimizer: {
      kind: p.optimizer,
      lr: p.lr,
      ...(p.weightDecay !== undefined ? { weightDecay: p.weightDecay } : {}),
      ...(p.momentum !== undefined ? { momentum: p.momentum } : {}),
    },
    steps,
    batchSize: p.batchSize,
    seed: p.seed,
    workDir: path.join(ctx.jobDir, 'work'),
    checkpoint: { dir: path.join(ctx.jobDir, 'checkpoint'), every: 25 },
    signal: ctx.signal,
    ...(settings.threads > 0 ? { session: { intraOpNumThreads: settings.threads } } : {}),
    device: engine.device,
    weights: engine.weights,
    onDevice: (d) => recorder.addTraining(d),
    onProgress: (w) => {
      ctx.progress(workDone(1, w.step), w.message);
      ctx.metric({ step: w.step, loss: w.loss, lr: w.lr, ...(w.valMetrics ? { val: w.valMetrics } : {}) });
    },
  });
  throwIfCancelled(ctx.signal);
  const device = recorder.record();
  // Recorded in the run: whether and where it stopped early, and the update whose context was kept.
  const stopping = {
    stoppedEarly: r.loop.stopped === 'early-stopped',
    stoppedAt: r.loop.steps,
    bestStep: r.loop.bestStep,
    patience: split.val.length ? patience : null,
    rule: 'validation loss not 1 % below its last real improvement',
  };

  return writePendingSave<PromptLearnSave>(
    ctx.jobDir,
    { ctx: { shape: [...r.shape], data: r.ctx } },
    {
      meta: {
        task: task.name,
        classNames: classes,
        classTexts: classNames,
        nCtx: r.shape.at(-2)!,
        initPhrase: phrase,
        metrics: { before: r.metrics.before, after: r.metrics.after },
        training: {
          optimizer: p.optimizer,
          lr: p.lr,
          steps: r.loop.steps,
          batchSize: p.batchSize,
          seed: p.seed,
          images: images.length,
          split: bundleSplitProvenance(split.record),
        },
      },
      run: {
        name: `${task.name} · ${model.name} · learned "${p.name}"`,
        record: {
          adapters: {},
          preprocessSha256: bundleSpec(bundle).sha256,
          selectionSha256: null,
          executionProvider: device?.provider ?? feats.provider ?? 'cpu',
          device,
          appVersion: APP_VERSION,
          weights: engine.weights,
          params: { ...p },
          split: split.record,
        },
        metrics: { before: r.before, initial: r.initial, after: r.after, losses: r.loop.losses, earlyStopping: stopping },
      },
      result: {
        promptSet: p.name,
        images: images.length,
        train: r.split.train.length,
        val: r.split.val.length,
        split: split.record,
        steps: r.loop.steps,
        stoppedEarly: stopping.stoppedEarly,
        bestStep: r.loop.bestStep,
        plannedSteps: steps,
        metrics: r.metrics,
        device,
        weights: engine.weights,
        seconds: Math.round(performance.now() - started) / 1000,
      },
    },
  );
}

/**
 * Adds the prompt set to the bundle and records it (model identity, prompt_sets row, run) in one
 * transaction. Each step first looks for its own output, so running it again completes a save a
 * kill cut short and changes nothing after a complete one.
 */
async function save(ctx: JobContext<PromptLearnParams>, db: Db, pending: PendingSave<PromptLearnSave>): Promise<PromptLearnResult> {
  const p = ctx.params;
  const model = getModel(db, p.modelId);
  if (model.kind !== 'bundle') throw new Error(`model "${model.name}" is a ${model.kind}; prompt learning needs a CLEFT bundle`);
  const learned = pending.tensors.ctx!;
  const bundle = await addPromptSet(
    await openBundle(model.path, { verify: 'sizes' }),
    p.name,
    { data: learned.data, shape: learned.shape },
    pending.record.meta,
    { saveId: pending.saveId },
  );
  crashPoint('prompt-learn.bundle-saved');
  const entry = bundle.promptSets.find((s) => s.name === p.name)!;
  const promptSha = bundle.files.find((f) => f.path === entry.path)?.sha256 ?? '';
  const { registered: runId } = await refreshBundleRecord(db, model.id, (updated) => {
    const runs = new RunsRepo(db);
    const done = runs.runOfJob(ctx.jobId, 'prompt-learning');
    if (done !== null) return done;
    const promptSetId = new PromptSetsRepo(db).addLearned({
      modelId: model.id,
      taskId: p.taskId,
      name: p.name,
      path: entry.path,
      sha256: promptSha,
      metrics: pending.record.result.metrics,
    });
    return runs.createRun({
      kind: 'prompt-learning',
      name: pending.record.run.name,
      jobId: ctx.jobId,
      modelId: model.id,
      taskId: p.taskId,
      promptSetId,
      record: { ...pending.record.run.record, modelSha256: updated.sha256, promptSetSha256: promptSha },
      metrics: pending.record.run.metrics,
    });
  });
  crashPoint('prompt-learn.registered');
  return { runId, ...pending.record.result };
}
