// Prompt context learning (CLEFT stage 2) on the library's labelled images, as a job: encoders,
// heads and logit scale frozen; image features from the cache; n_ctx context vectors trained on
// the zero-shot cross-entropy with a stratified validation split and early stopping. The result
// is a prompt set added to the bundle, with its metrics before and after, and a run record.
import path from 'node:path';
import type { PromptLearnParams } from '../../../common/jobs';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { RunsRepo } from '../../db/runs-repo';
import { bundleSpec } from '../../engine/image-features';
import { refreshBundleRecord } from '../../models/registry';
import { APP_VERSION } from '../../version';
import { addPromptSet, openBundle } from '../../../native/models/bundle';
import { stepsForEpochs, stratifiedSplit } from '../../../native/cleft/common';
import { learnPromptContext } from '../../../native/cleft/prompt-learning';
import { DEFAULT_INIT_PHRASE, classNamesForPromptLearning } from '../../../native/cleft/tasks';
import { bundleTokenizer, classNameIds, taskClassEmbeddings } from '../../../native/cleft/zero-shot';
import { throwIfCancelled, type JobRunner } from '../job-context';
import { labelledFeatures } from './labelled-features';

export interface PromptLearnResult {
  runId: number;
  promptSet: string;
  images: number;
  train: number;
  val: number;
  steps: number;
  stoppedEarly: boolean;
  metrics: { before: Record<string, number> | null; after: Record<string, number> | null };
  seconds: number;
}

export const promptLearn: JobRunner<PromptLearnParams> = async (ctx) => {
  const started = performance.now();
  const p = ctx.params;
  const db = openDatabase(path.join(ctx.dataDir, DB_FILE_NAME));
  try {
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
    } = await labelledFeatures(ctx, db, {
      purpose: 'prompt learning',
      refuse: (b) => (b.promptSets.some((s) => s.name === p.name) ? `the bundle already has a prompt set named "${p.name}"` : null),
      progressShare: 0.2,
    });

    const tok = bundleTokenizer(bundle);
    const classNames = classNamesForPromptLearning(task);
    const phrase = p.initPhrase ?? DEFAULT_INIT_PHRASE;
    // "Before" is one-click classification with the task's own prompts: the baseline the learned set must beat.
    const baselineClassEmbeddings = await taskClassEmbeddings(bundle, task, engine);
    throwIfCancelled(ctx.signal);
    ctx.progress(0.2, 'Learning the prompt context…');
    // the same split learnPromptContext makes, for a length given in epochs
    const steps =
      p.epochs !== undefined ? stepsForEpochs(p.epochs, stratifiedSplit(labels, p.valFraction, p.seed).train.length, p.batchSize) : p.steps;
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
      valFraction: p.valFraction,
      ...(p.patience !== undefined ? { patience: p.patience } : {}),
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
      onProgress: (w) => {
        ctx.progress(0.2 + 0.75 * (w.step / Math.max(1, w.totalSteps)), w.message);
        ctx.metric({ step: w.step, loss: w.loss, lr: w.lr, ...(w.valMetrics ? { val: w.valMetrics } : {}) });
      },
    });
    throwIfCancelled(ctx.signal);

    ctx.progress(0.96, `Saving prompt set "${p.name}" into the bundle…`);
    await addPromptSet(
      bundle,
      p.name,
      { data: r.ctx, shape: r.shape },
      {
        task: task.name,
        classNames: classes,
        nCtx: r.shape.at(-2)!,
        initPhrase: phrase,
        metrics: { before: r.metrics.before, after: r.metrics.after },
        training: { optimizer: p.optimizer, lr: p.lr, steps: r.loop.steps, batchSize: p.batchSize, seed: p.seed, images: images.length },
      },
    );
    const updated = await refreshBundleRecord(db, model.id);
    const reopened = await openBundle(model.path, { verify: 'sizes' });
    const entry = reopened.promptSets.find((s) => s.name === p.name)!;
    const promptSha = reopened.files.find((f) => f.path === entry.path)?.sha256 ?? '';
    const promptSetId = Number(
      db
        .prepare(
          `INSERT INTO prompt_sets (model_ref, task_ref, name, kind, path, sha256, metrics_json) VALUES (?, ?, ?, 'learned', ?, ?, ?)`,
        )
        .run(model.id, p.taskId, p.name, entry.file, promptSha, JSON.stringify(r.metrics)).lastInsertRowid,
    );
    const runId = new RunsRepo(db).createRun({
      kind: 'prompt-learning',
      name: `${task.name} · ${model.name} · learned "${p.name}"`,
      jobId: ctx.jobId,
      modelId: model.id,
      taskId: p.taskId,
      promptSetId,
      record: {
        modelSha256: updated.sha256,
        adapters: {},
        promptSetSha256: promptSha,
        preprocessSha256: bundleSpec(bundle).sha256,
        selectionSha256: null,
        executionProvider: feats.provider ?? 'cpu',
        appVersion: APP_VERSION,
        params: { ...p },
      },
      metrics: { before: r.before, initial: r.initial, after: r.after, losses: r.loop.losses },
    });
    const result: PromptLearnResult = {
      runId,
      promptSet: p.name,
      images: images.length,
      train: r.split.train.length,
      val: r.split.val.length,
      steps: r.loop.steps,
      stoppedEarly: r.loop.stopped === 'early-stopped',
      metrics: r.metrics,
      seconds: Math.round(performance.now() - started) / 1000,
    };
    return result;
  } finally {
    db.close();
  }
};
