// The frozen-backbone Adaptor ("Freeze the backbones", ICASSP 2024) or a plain linear probe on the
// library's labelled images, as a job. Image features come from the same cache as classification
// and prompt learning; the CLIP image embeddings (visual head applied, normalised) are the input.
// 'linear-probe': a softmax head on those embeddings. 'adaptor': the Adaptor's two small
// transformer branches are first trained with the CLIP loss on (image, class-prompt embedding)
// pairs of the training split, then the head is trained on the adapted image embeddings.
// The head is saved into the bundle (manifest `adaptors`), and a run record (kind 'adaptor') holds
// the held-out images' probabilities and the validation metrics.
// Like prompt learning, the save goes through a pending save in the job folder, so a kill at any
// step of it is completed by the resumed job.
import path from 'node:path';
import crypto from 'node:crypto';
import type { TrainAdaptorParams, TrainAdaptorResult } from '../../../common/jobs';
import type { RunRecord } from '../../../common/runs';
import { DB_FILE_NAME, openDatabase, type Db } from '../../db/database';
import { RunsRepo, type NewPrediction } from '../../db/runs-repo';
import { bundleSpec } from '../../features/image-features';
import { getModel, refreshBundleRecord } from '../../models/registry';
import { APP_VERSION } from '../../version';
import { addAdaptor, openBundle, type AdaptorMetaInput } from '../../../native/bundle/index';
import { crashPoint } from '../../../native/io/crash-point';
import {
  adaptImageRows,
  adaptorFitRows,
  imageBranchShapes,
  linearProbe,
  probeProbabilities,
  trainAdaptor,
} from '../../../native/cleft/adaptor';
import { combineViews } from '../../../native/cleft/aggregate';
import { takeRows } from '../../../native/cleft/math';
import { heldOutMetrics } from '../../../native/cleft/metrics';
import { imageEmbeddingsFromFeatures, taskClassEmbeddings } from '../../../native/cleft/zero-shot';
import { throwIfCancelled, type JobContext, type JobRunner } from '../job-context';
import { readPendingSave, writePendingSave, type PendingSave } from '../pending-save';
import { labelledFeatures } from './labelled-features';
import { stagedFraction } from '../../../common/progress';
import { bundleSplitProvenance, trainingSplit } from '../../library/splits';

/** Width and depth of the Adaptor module; AdamW at this rate (the job's lr is the head's). */
const ADAPTOR_DIM = 128;
const ADAPTOR_LAYERS = 2;
const ADAPTOR_LR = 1e-3;

/** What the save needs once training is over (kept in the job folder until the job is done). */
interface AdaptorSave {
  meta: AdaptorMetaInput;
  classes: string[];
  predictions: NewPrediction[];
  run: { name: string; record: Omit<RunRecord, 'modelSha256' | 'adapters'>; metrics: unknown };
  result: Omit<TrainAdaptorResult, 'runId'>;
}

export const trainAdaptorJob: JobRunner<TrainAdaptorParams, TrainAdaptorResult> = async (ctx) => {
  const db = openDatabase(path.join(ctx.dataDir, DB_FILE_NAME));
  try {
    const pending = readPendingSave<AdaptorSave>(ctx.jobDir) ?? (await train(ctx, db));
    crashPoint('train-adaptor.pending-saved');
    ctx.progress(0.96, `Saving adaptor "${ctx.params.name}" into the bundle…`);
    return await save(ctx, db, pending);
  } finally {
    db.close();
  }
};

/** Trains the head (and the Adaptor module) and records the pending save. */
async function train(ctx: JobContext<TrainAdaptorParams>, db: Db): Promise<PendingSave<AdaptorSave>> {
  const started = performance.now();
  const p = ctx.params;
  // Percent of the work: images encoded (only those not cached), adaptor updates, head updates; the
  // last 5 % is the save.
  let encoded = 0;
  const workDone = (stage: number, done: number): number =>
    0.95 * stagedFraction([encoded, p.mode === 'adaptor' ? p.steps : 0, p.steps], stage, done);
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
    purpose: 'the Adaptor',
    refuse: (b) => (b.adaptors.some((a) => a.name === p.name) ? `the bundle already has an adaptor named "${p.name}"` : null),
    encodingProgress: (d, t) => {
      encoded = t;
      return workDone(0, d);
    },
  });

  const heads = bundle.heads.heads;
  // by patient, never by image: the views of a breast and a patient's studies stay on one side
  const split = trainingSplit(db, images, labels, { split: p.split, valFraction: p.valFraction, seed: p.seed });
  const emb = imageEmbeddingsFromFeatures(heads, feats.features);
  let x = emb;
  let D = heads.projDim;
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  if (p.mode === 'adaptor') {
    // Text side of the CLIP loss: each training image is paired with its class's prompt embedding.
    const classEmb = await taskClassEmbeddings(bundle, task, { ...engine, engine: recorder.engine('text_encoder') });
    const fit = adaptorFitRows(split);
    const r = await trainAdaptor({
      imageFeatures: takeRows(emb, heads.projDim, fit),
      textFeatures: takeRows(
        classEmb,
        heads.projDim,
        fit.map((i) => labels[i]!),
      ),
      imageDim: heads.projDim,
      textDim: heads.projDim,
      dim: ADAPTOR_DIM,
      layers: ADAPTOR_LAYERS,
      optimizer: { kind: 'adamw', lr: ADAPTOR_LR },
      steps: p.steps,
      batchSize: Math.min(32, fit.length),
      seed: p.seed,
      workDir: path.join(ctx.jobDir, 'work'),
      checkpoint: { dir: path.join(ctx.jobDir, 'checkpoint'), every: 50 },
      signal: ctx.signal,
      ...(settings.threads > 0 ? { session: { intraOpNumThreads: settings.threads } } : {}),
      device: engine.device,
      onDevice: (d) => recorder.addTraining(d),
      onProgress: (w) => {
        ctx.progress(workDone(1, w.step), w.message);
        ctx.metric({ step: w.step, loss: w.loss, lr: w.lr });
      },
    });
    throwIfCancelled(ctx.signal);
    D = ADAPTOR_DIM;
    x = adaptImageRows(r.params, emb, heads.projDim, D, ADAPTOR_LAYERS);
    for (const [name, shape] of imageBranchShapes(heads.projDim, D, ADAPTOR_LAYERS)) tensors[name] = { shape, data: r.params.get(name)! };
  }

  ctx.progress(workDone(2, 0), `Training the classification head on ${split.train.length} images…`);
  const trainX = takeRows(x, D, split.train);
  const head = linearProbe(
    trainX,
    D,
    split.train.map((i) => labels[i]!),
    classes.length,
    p.steps,
    p.lr,
    1e-4,
    p.seed,
  );
  throwIfCancelled(ctx.signal);
  const valProbs = probeProbabilities(takeRows(x, D, split.val), D, head.weight, head.bias);
  const held = heldOutMetrics(
    split.val.map((i) => labels[i]!),
    valProbs,
    classes,
    p.seed,
  );
  ctx.metric({
    step: p.steps,
    val: Object.fromEntries(Object.entries(held.metrics).filter((e): e is [string, number] => e[1] !== null)),
  });
  // The head itself trains in JavaScript (linearProbe), not on the engine: the record lists the ORT graphs.
  const device = recorder.record();
  tensors.weight = { shape: [classes.length, D], data: head.weight };
  tensors.bias = { shape: [classes.length], data: head.bias };

  const training = {
    steps: p.steps,
    lr: p.lr,
    seed: p.seed,
    valFraction: p.valFraction,
    images: images.length,
    train: split.train.length,
    split: bundleSplitProvenance(split.record),
  };
  return writePendingSave<AdaptorSave>(ctx.jobDir, tensors, {
    meta: {
      task: task.name,
      classNames: classes,
      mode: p.mode,
      adaptor: p.mode === 'adaptor' ? { dim: ADAPTOR_DIM, layers: ADAPTOR_LAYERS } : null,
      metrics: held.metrics,
      notes: held.notes,
      training: p.mode === 'adaptor' ? { ...training, adaptorLr: ADAPTOR_LR } : training,
    },
    classes,
    predictions: heldOutPredictions(images, split.val, valProbs),
    run: {
      name: `${task.name} · ${model.name} · ${p.mode} "${p.name}"`,
      record: {
        promptSetSha256: null,
        preprocessSha256: bundleSpec(bundle).sha256,
        selectionSha256: crypto
          .createHash('sha256')
          .update(JSON.stringify(images.map((im) => [im.instanceId, im.label])))
          .digest('hex'),
        executionProvider: device?.provider ?? feats.provider ?? 'cpu',
        device,
        appVersion: APP_VERSION,
        params: { ...p },
        split: split.record,
      },
      metrics: { validation: held.metrics, notes: held.notes, train: split.train.length, val: split.val.length },
    },
    result: {
      adaptor: p.name,
      mode: p.mode,
      images: images.length,
      train: split.train.length,
      val: split.val.length,
      split: split.record,
      metrics: held.metrics,
      notes: held.notes,
      device,
      seconds: Math.round(performance.now() - started) / 1000,
    },
  });
}

/**
 * Adds the head to the bundle and records it (model identity, run, held-out predictions) in one
 * transaction; each step first looks for its own output (see prompt-learn.ts).
 */
async function save(ctx: JobContext<TrainAdaptorParams>, db: Db, pending: PendingSave<AdaptorSave>): Promise<TrainAdaptorResult> {
  const p = ctx.params;
  const model = getModel(db, p.modelId);
  if (model.kind !== 'bundle') throw new Error(`model "${model.name}" is a ${model.kind}; the Adaptor needs a CLEFT bundle`);
  const bundle = await addAdaptor(await openBundle(model.path, { verify: 'sizes' }), p.name, pending.tensors, pending.record.meta, {
    saveId: pending.saveId,
  });
  crashPoint('train-adaptor.bundle-saved');
  const entry = bundle.adaptors.find((a) => a.name === p.name)!;
  const adaptorSha = bundle.files.find((f) => f.path === entry.path)?.sha256 ?? '';
  const { registered: runId } = await refreshBundleRecord(db, model.id, (updated) => {
    const runs = new RunsRepo(db);
    const done = runs.runOfJob(ctx.jobId, 'adaptor');
    if (done !== null) return done;
    const id = runs.createRun({
      kind: 'adaptor',
      name: pending.record.run.name,
      jobId: ctx.jobId,
      modelId: model.id,
      taskId: p.taskId,
      promptSetId: null,
      record: { ...pending.record.run.record, modelSha256: updated.sha256, adapters: { [`adaptor:${p.name}`]: adaptorSha } },
      metrics: pending.record.run.metrics,
    });
    runs.addPredictions(id, pending.record.classes, pending.record.predictions);
    return id;
  });
  crashPoint('train-adaptor.registered');
  return { runId, ...pending.record.result };
}

/** Per-image predictions of the held-out images, and their per-breast and per-exam means. */
function heldOutPredictions(
  images: readonly { instanceId: number; studyId: number; laterality: 'L' | 'R' | null }[],
  val: readonly number[],
  probs: number[][],
): NewPrediction[] {
  const out: NewPrediction[] = [];
  const byStudy = new Map<number, { laterality: 'L' | 'R' | null; probabilities: number[] }[]>();
  val.forEach((i, k) => {
    const im = images[i]!;
    out.push({ scope: 'image', studyId: im.studyId, instanceId: im.instanceId, laterality: im.laterality, probabilities: probs[k]! });
    byStudy.set(im.studyId, [...(byStudy.get(im.studyId) ?? []), { laterality: im.laterality, probabilities: probs[k]! }]);
  });
  for (const [studyId, views] of byStudy) {
    const c = combineViews(views);
    for (const side of ['R', 'L'] as const) {
      const b = c.breast[side];
      if (b) out.push({ scope: 'breast', studyId, instanceId: null, laterality: side, probabilities: b });
    }
    out.push({ scope: 'exam', studyId, instanceId: null, laterality: null, probabilities: c.exam });
  }
  return out;
}
