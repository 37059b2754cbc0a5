// Zero-shot classification of studies as a job: each view is prepared with the bundle's
// preprocessing, encoded once (pooled image features cached in the library per model, instance
// and preprocessing), compared with the task's class embeddings, and stored as a run with
// per-view, per-breast and per-exam predictions (mean of view probabilities).
import path from 'node:path';
import type { ClassifyParams, ClassifyResult } from '../../../common/jobs';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { ImagesRepo, type StudyImage } from '../../db/images-repo';
import { PromptSetsRepo } from '../../db/prompt-sets-repo';
import { RunsRepo, type NewPrediction } from '../../db/runs-repo';
import { SettingsRepo } from '../../db/settings-repo';
import { TasksRepo } from '../../db/tasks-repo';
import { bundleSpec, cachedImageFeatures, engineFromSettings } from '../../features/image-features';
import { cachedClassEmbeddings } from '../../features/class-embeddings';
import { getModel } from '../../models/registry';
import { APP_VERSION } from '../../version';
import { openBundle } from '../../../native/bundle/index';
import { zeroShot } from '../../../native/cleft/zero-shot';
import type { TaskSpec } from '../../../native/cleft/tasks';
import { loadAdaptorHead } from '../../../native/cleft/adaptor';
import { crashPoint } from '../../../native/io/crash-point';
import { jobDevice, jobDeviceRecorder } from '../job-device';
import { chosenWeights } from '../../../common/precision';
import { throwIfCancelled, type JobRunner } from '../job-context';
import { combineStudy } from '../../runs/combine-study';
import { adapterHashes, bundleFileHash, classifyRunName, promptSetHash, selectionSha256 } from '../../runs/run-identity';

export const classify: JobRunner<ClassifyParams, ClassifyResult> = async (ctx) => {
  const started = performance.now();
  const db = openDatabase(path.join(ctx.dataDir, DB_FILE_NAME));
  try {
    const model = getModel(db, ctx.params.modelId);
    if (model.kind !== 'bundle') throw new Error(`model "${model.name}" is a ${model.kind}; zero-shot classification needs a CLEFT bundle`);
    ctx.progress(0, `Opening ${model.name}…`);
    const bundle = await openBundle(model.path, { verify: 'sizes' });
    const taskRow = new TasksRepo(db).get(ctx.params.taskId);
    const task: TaskSpec = { name: taskRow.name, scope: taskRow.scope, classes: taskRow.classes };
    const settings = new SettingsRepo(db).get();
    const engine = {
      ...engineFromSettings(ctx.dataDir, settings, (m: string) => ctx.progress(0, m)),
      device: jobDevice(ctx.params.device, settings),
      ...(ctx.params.threads ? { threads: ctx.params.threads } : {}),
      weights: chosenWeights(ctx.params.weights, settings.weights),
    };
    // where each graph ran, for the run record
    const recorder = jobDeviceRecorder();
    const preprocessSha = bundleSpec(bundle).sha256;

    // A trained head of the bundle replaces the zero-shot text side altogether.
    const head = ctx.params.adaptor
      ? loadAdaptorHead(
          bundle,
          ctx.params.adaptor,
          task.classes.map((c) => c.name),
        )
      : null;
    ctx.progress(0.02, head ? `Loading adaptor "${head.entry.name}"…` : 'Class prompts: reading the cache or encoding them…');
    // Cached in the library per model and prompts: unchanged prompts are never encoded again.
    const text = head
      ? null
      : await cachedClassEmbeddings(db, model.id, bundle, task, ctx.params.promptSet ?? null, {
          ...engine,
          engine: recorder.engine(ctx.params.promptSet ? 'prompt_encoder' : 'text_encoder'),
        });
    const classEmb = text?.embeddings ?? null;

    const byStudy = new Map<number, StudyImage[]>();
    const skipped: ClassifyResult['skipped'] = [];
    for (const inst of new ImagesRepo(db).ofStudies(ctx.params.studyIds)) {
      if (inst.forProcessing) {
        skipped.push({ instanceId: inst.id, reason: 'FOR PROCESSING image: not used for classification' });
        continue;
      }
      byStudy.set(inst.studyId, [...(byStudy.get(inst.studyId) ?? []), inst]);
    }

    const runs = new RunsRepo(db);
    const selectionSha = selectionSha256(ctx.params.studyIds);
    // A resumed job continues its own run: the studies it already saved are skipped, not added twice.
    const kind = head ? 'adaptor' : 'zero-shot';
    const ownRun = runs.runOfJob(ctx.jobId, kind);
    const saved = ownRun === null ? new Set<number>() : runs.studiesWithPredictions(ownRun);
    const runId =
      ownRun ??
      runs.createRun({
        kind,
        name: classifyRunName(task.name, model.name, head ? null : ctx.params.promptSet, head ? head.entry.name : null),
        jobId: ctx.jobId,
        modelId: model.id,
        taskId: taskRow.id,
        // The library's row for a prompt set learned here (one from elsewhere is named in params).
        promptSetId: ctx.params.promptSet ? new PromptSetsRepo(db).latestId(model.id, ctx.params.promptSet) : null,
        record: {
          modelSha256: bundle.sha256,
          adapters: {
            ...adapterHashes(bundle),
            ...(head ? { [`adaptor:${head.entry.name}`]: bundleFileHash(bundle, head.entry.path) } : {}),
          },
          promptSetSha256: head ? null : promptSetHash(bundle, ctx.params.promptSet),
          preprocessSha256: preprocessSha,
          selectionSha256: selectionSha,
          executionProvider: null,
          appVersion: APP_VERSION,
          weights: engine.weights,
          params: {
            task: task.name,
            promptSet: head ? null : (ctx.params.promptSet ?? null),
            adaptor: ctx.params.adaptor ?? null,
            studies: ctx.params.studyIds.length,
            // Whether the class text embeddings were read from the library's cache or computed now.
            classEmbeddings: text ? { source: text.source, keySha256: text.keySha256 } : null,
          },
        },
      });

    let hits = 0;
    let images = 0;
    let provider = 'cpu';
    let done = 0;
    const classNames = task.classes.map((c) => c.name);
    for (const [studyId, views] of byStudy) {
      throwIfCancelled(ctx.signal);
      if (saved.has(studyId)) {
        images += views.length;
        done++;
        continue;
      }
      const f = await cachedImageFeatures(
        db,
        bundle,
        views.map((v) => ({ id: v.id, file: v.filePath })),
        { ...engine, engine: recorder.engine('image_encoder') },
        { signal: ctx.signal },
      );
      throwIfCancelled(ctx.signal);
      hits += f.cacheHits;
      if (f.provider) provider = f.provider;
      const feats = f.features;
      const probabilities = head
        ? head.probabilities(feats)
        : (
            await zeroShot(
              { bundle, task, imageFeatures: feats, classEmbeddings: classEmb!, laterality: views.map((v) => v.laterality) },
              engine,
            )
          ).probabilities;
      const preds: NewPrediction[] = views.map((v, i) => ({
        scope: 'image',
        studyId,
        instanceId: v.id,
        laterality: v.laterality,
        probabilities: probabilities[i]!,
      }));
      // Breast and exam: the views' mean in their SOP UID order, the same bits in any library (combine-study.ts).
      const result = combineStudy(
        views.map((v, i) => ({ sopInstanceUid: v.sopInstanceUid, laterality: v.laterality, probabilities: probabilities[i]! })),
      );
      for (const side of ['R', 'L'] as const) {
        const p = result.breast[side];
        if (p) preds.push({ scope: 'breast', studyId, instanceId: null, laterality: side, probabilities: p });
      }
      preds.push({ scope: 'exam', studyId, instanceId: null, laterality: null, probabilities: result.exam });
      runs.addPredictions(runId, classNames, preds); // one transaction per study
      crashPoint('classify.study-saved');
      images += views.length;
      done++;
      ctx.progress(done / byStudy.size, `Classified ${done} of ${byStudy.size} studies (${images} images)`);
    }
    const device = recorder.record();
    runs.setExecutionProvider(runId, provider, device);
    const result: ClassifyResult = {
      runId,
      model: model.name,
      modelId: model.id,
      promptSet: ctx.params.promptSet,
      studies: byStudy.size,
      images,
      skipped,
      featureCacheHits: hits,
      classEmbeddings: text?.source ?? null,
      executionProvider: provider,
      device,
      weights: engine.weights,
      seconds: Math.round(performance.now() - started) / 1000,
    };
    return result;
  } finally {
    db.close();
  }
};
