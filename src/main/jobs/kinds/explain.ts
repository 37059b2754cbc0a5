// "Where the model looks" for the images of one study, as one short job (the viewer's overlay, one
// press of M), progress counted over the images and cancellable between them: each image is
// prepared with the bundle's pipeline, its patch tokens are projected like the pooled feature and
// compared with each class's text embedding (src/native/cleft/explain.ts), and the grid is placed
// on the original image's pixels (src/main/features/explain-geometry.ts).
import path from 'node:path';
import type { ExplainParams, ExplainResult, ExplainStudyResult } from '../../../common/jobs';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { ImagesRepo, type ImageFile } from '../../db/images-repo';
import { SettingsRepo } from '../../db/settings-repo';
import { TasksRepo } from '../../db/tasks-repo';
import { bundleSpec, engineFromSettings } from '../../features/image-features';
import { gridAxes } from '../../features/explain-geometry';
import { cachedClassEmbeddings } from '../../features/class-embeddings';
import { prepareFiles } from '../../dicom/pipeline/prepare';
import { PreprocessSpec } from '../../dicom/pipeline/spec';
import { getModel } from '../../models/registry';
import { openBundle } from '../../../native/bundle/index';
import { embedImages } from '../../../native/models/embed';
import { providerLabel } from '../../../native/runtime/providers';
import { loadHfFolder } from '../../../native/models/hf-model';
import { patchClassSimilarity } from '../../../native/cleft/explain';
import { classNamesForPromptLearning, type TaskSpec } from '../../../native/cleft/tasks';
import { jobDevice, jobDeviceRecorder } from '../job-device';
import { throwIfCancelled, type JobRunner } from '../job-context';

export const explain: JobRunner<ExplainParams, ExplainStudyResult> = async (ctx) => {
  const started = performance.now();
  const p = ctx.params;
  const db = openDatabase(path.join(ctx.dataDir, DB_FILE_NAME));
  try {
    const model = getModel(db, p.modelId);
    if (model.kind !== 'bundle') throw new Error(`model "${model.name}" is a ${model.kind}; the patch map needs a CLEFT bundle`);
    const images = new ImagesRepo(db);
    const files = p.instanceIds.map((id) => {
      const inst = images.file(id);
      if (!inst) throw new Error(`no image with id ${id} in the library`);
      return { id, inst, study: images.studyOf(id)! };
    });
    // One job maps one study (what one press of M in the viewer asks for).
    const studyIds = [...new Set(files.map((f) => f.study.studyId))];
    if (studyIds.length > 1)
      throw new Error(`the patch map maps one study at a time; images ${p.instanceIds.join(', ')} are of ${studyIds.length} studies`);
    const study = files[0]!.study.caption;
    const n = files.length;
    // Progress over the images, the class prompts counted as one more unit before them.
    const at = (done: number, message: string) => ctx.progress(done / (n + 1), message);
    const bundle = await openBundle(model.path, { verify: 'sizes' });
    const taskRow = new TasksRepo(db).get(p.taskId);
    const settings = new SettingsRepo(db).get();
    const engine = {
      ...engineFromSettings(ctx.dataDir, settings, (m: string) => ctx.progress(0, m)),
      device: jobDevice(p.device, settings),
    };
    const recorder = jobDeviceRecorder();

    at(0, `${study}: class prompts of ${taskRow.name}: reading the cache or encoding them…`);
    const taskSpec = { name: taskRow.name, scope: taskRow.scope, classes: taskRow.classes };
    const text = await cachedClassEmbeddings(db, model.id, bundle, taskSpec, p.promptSet ?? null, {
      ...engine,
      engine: recorder.engine(p.promptSet ? 'prompt_encoder' : 'text_encoder'),
    });
    // The maps are named by the task's classes (A–D), as the viewer's labels and predictions are,
    // also when a learned prompt set stores the phrases it was trained on.
    const classNames = taskClassNames(text.classNames, taskSpec);
    throwIfCancelled(ctx.signal);

    const { spec: specInput } = bundleSpec(bundle);
    const spec = PreprocessSpec.parse(specInput);
    const cfg = loadHfFolder(bundle.image.dir).config;
    if (cfg.family === 'gpt2') throw new Error(`${bundle.image.dir}: the image encoder is not a vision model`);
    const [ph, pw] = cfg.patchSize;
    const grid = [Math.floor(spec.size / ph), Math.floor(spec.size / pw)] as const;
    const maps = await inTurn(files, ({ id, inst }) => mapImage(id, inst, images.caption(id) ?? `image ${id}`), {
      signal: ctx.signal,
      before: (i) => at(1 + i, `${study}: image ${i + 1} of ${n} (${(images.caption(files[i]!.id) ?? '').split(' · ')[0]})…`),
    });
    at(n + 1, `${study}: ${n} patch maps`);
    return {
      study,
      task: taskRow.name,
      model: model.name,
      promptSet: p.promptSet,
      classNames,
      images: maps,
      classEmbeddings: text.source,
      device: recorder.record(),
      seconds: Math.round(performance.now() - started) / 1000,
    };

    async function mapImage(instanceId: number, inst: ImageFile, caption: string): Promise<ExplainResult> {
      const t0 = performance.now();
      const prepared = await prepareFiles([inst.filePath], spec);
      const image = prepared.images[0]!;
      throwIfCancelled(ctx.signal);
      const r = await embedImages({
        modelDir: bundle.image.dir,
        ...(bundle.image.adapter?.dir ? { adapterDir: bundle.image.adapter.dir } : {}),
        cacheDir: engine.cacheDir,
        device: engine.device,
        engine: recorder.engine('image_encoder'),
        ...(engine.threads !== undefined ? { threads: engine.threads } : {}),
        onWarning: engine.onWarning ?? (() => undefined),
        pixelValues: prepared.pixelValues,
        shape: prepared.shape,
        pool: bundle.image.pooling,
        lastHidden: true,
      });
      const sim = patchClassSimilarity({
        lastHidden: r.lastHidden!,
        tokens: r.tokens!,
        grid,
        heads: bundle.heads.heads,
        classEmbeddings: text.embeddings,
      });
      const full = { columns: inst.columns ?? spec.size, rows: inst.rows ?? spec.size };
      const axes = gridAxes(image, spec, full, { rows: grid[0], cols: grid[1] }, { width: pw, height: ph });
      const cells = grid[0] * grid[1];
      const perClass = classNames.map((_, c) =>
        Array.from(sim.maps.subarray(c * cells, (c + 1) * cells), (v) => Math.round(v * 1e5) / 1e5),
      );
      const all = perClass.flat();
      return {
        modelId: model.id,
        model: model.name,
        promptSet: p.promptSet,
        provider: providerLabel(r.provider),
        instanceId,
        image: caption,
        classNames,
        rows: grid[0],
        cols: grid[1],
        maps: perClass,
        min: Math.min(...all),
        max: Math.max(...all),
        x: axes.x,
        y: axes.y,
        imageColumns: full.columns,
        imageRows: full.rows,
        classEmbeddings: text.source,
        device: recorder.record(),
        seconds: Math.round(performance.now() - t0) / 1000,
      };
    }
  } finally {
    db.close();
  }
};

/** Runs `each` on the items in turn, `before` each, the cancel checked after each: a cancel lands within one image. */
export async function inTurn<T, R>(
  items: readonly T[],
  each: (item: T, i: number) => Promise<R>,
  o: { signal: AbortSignal; before: (i: number) => void },
): Promise<R[]> {
  const out: R[] = [];
  for (const [i, item] of items.entries()) {
    o.before(i);
    out.push(await each(item, i));
    throwIfCancelled(o.signal);
  }
  return out;
}

/** A prompt set's class names as the task's own (its learning phrases map by position), else as stored. */
export function taskClassNames(names: readonly string[], task: TaskSpec): string[] {
  const own = task.classes.map((c) => c.name);
  const phrases = classNamesForPromptLearning(task);
  return names.map((n) => (own.includes(n) ? n : (own[phrases.indexOf(n)] ?? n)));
}
