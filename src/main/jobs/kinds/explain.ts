// "Where the model looks" for one image, as a short job (the viewer's overlay): the image is
// prepared with the bundle's pipeline, its patch tokens are projected like the pooled feature and
// compared with each class's text embedding (src/native/cleft/explain.ts), and the grid is placed
// on the original image's pixels (src/main/features/explain-geometry.ts).
import path from 'node:path';
import type { ExplainParams, ExplainResult } from '../../../common/jobs';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { ImagesRepo } from '../../db/images-repo';
import { SettingsRepo } from '../../db/settings-repo';
import { TasksRepo } from '../../db/tasks-repo';
import { bundleSpec, engineFromSettings } from '../../features/image-features';
import { gridAxes } from '../../features/explain-geometry';
import { prepareFiles } from '../../dicom/pipeline/prepare';
import { PreprocessSpec } from '../../dicom/pipeline/spec';
import { getModel } from '../../models/registry';
import { openBundle } from '../../../native/bundle/index';
import { embedImages } from '../../../native/models/embed';
import { providerLabel } from '../../../native/runtime/providers';
import { loadHfFolder } from '../../../native/models/hf-model';
import { patchClassSimilarity } from '../../../native/cleft/explain';
import { promptSetClassEmbeddings, taskClassEmbeddings } from '../../../native/cleft/zero-shot';
import { classNamesForPromptLearning, type TaskSpec } from '../../../native/cleft/tasks';
import { jobDevice, jobDeviceRecorder } from '../job-device';
import { throwIfCancelled, type JobRunner } from '../job-context';

export const explain: JobRunner<ExplainParams, ExplainResult> = async (ctx) => {
  const started = performance.now();
  const p = ctx.params;
  const db = openDatabase(path.join(ctx.dataDir, DB_FILE_NAME));
  try {
    const model = getModel(db, p.modelId);
    if (model.kind !== 'bundle') throw new Error(`model "${model.name}" is a ${model.kind}; the patch map needs a CLEFT bundle`);
    const inst = new ImagesRepo(db).file(p.instanceId);
    if (!inst) throw new Error(`no image with id ${p.instanceId} in the library`);
    const bundle = await openBundle(model.path, { verify: 'sizes' });
    const taskRow = new TasksRepo(db).get(p.taskId);
    const settings = new SettingsRepo(db).get();
    const engine = {
      ...engineFromSettings(ctx.dataDir, settings, (m: string) => ctx.progress(0, m)),
      device: jobDevice(p.device, settings),
    };
    const recorder = jobDeviceRecorder();

    ctx.progress(0.05, 'Encoding the class prompts…');
    const taskSpec = { name: taskRow.name, scope: taskRow.scope, classes: taskRow.classes };
    const text = p.promptSet
      ? await promptSetClassEmbeddings(bundle, p.promptSet, { ...engine, engine: recorder.engine('prompt_encoder') })
      : {
          embeddings: await taskClassEmbeddings(bundle, taskSpec, { ...engine, engine: recorder.engine('text_encoder') }),
          classNames: taskRow.classes.map((c) => c.name),
        };
    // The maps are named by the task's classes (A–D), as the viewer's labels and predictions are,
    // also when a learned prompt set stores the phrases it was trained on.
    const classNames = taskClassNames(text.classNames, taskSpec);
    throwIfCancelled(ctx.signal);

    ctx.progress(0.4, `Reading ${path.basename(inst.filePath)}…`);
    const { spec: specInput } = bundleSpec(bundle);
    const spec = PreprocessSpec.parse(specInput);
    const prepared = await prepareFiles([inst.filePath], spec);
    const image = prepared.images[0]!;
    throwIfCancelled(ctx.signal);

    ctx.progress(0.6, 'Encoding the image patches…');
    const cfg = loadHfFolder(bundle.image.dir).config;
    if (cfg.family === 'gpt2') throw new Error(`${bundle.image.dir}: the image encoder is not a vision model`);
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
    const [ph, pw] = cfg.patchSize;
    const grid = [Math.floor(spec.size / ph), Math.floor(spec.size / pw)] as const;
    const maps = patchClassSimilarity({
      lastHidden: r.lastHidden!,
      tokens: r.tokens!,
      grid,
      heads: bundle.heads.heads,
      classEmbeddings: text.embeddings,
    });
    const full = { columns: inst.columns ?? spec.size, rows: inst.rows ?? spec.size };
    const axes = gridAxes(image, spec, full, { rows: grid[0], cols: grid[1] }, { width: pw, height: ph });
    const n = grid[0] * grid[1];
    const perClass = classNames.map((_, c) => Array.from(maps.maps.subarray(c * n, (c + 1) * n), (v) => Math.round(v * 1e5) / 1e5));
    const all = perClass.flat();
    const result: ExplainResult = {
      modelId: model.id,
      model: model.name,
      promptSet: p.promptSet,
      provider: providerLabel(r.provider),
      device: recorder.record(),
      instanceId: p.instanceId,
      image: new ImagesRepo(db).caption(p.instanceId) ?? `image ${p.instanceId}`,
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
      seconds: Math.round(performance.now() - started) / 1000,
    };
    return result;
  } finally {
    db.close();
  }
};

/** A prompt set's class names as the task's own (its learning phrases map by position), else as stored. */
export function taskClassNames(names: readonly string[], task: TaskSpec): string[] {
  const own = task.classes.map((c) => c.name);
  const phrases = classNamesForPromptLearning(task);
  return names.map((n) => (own.includes(n) ? n : (own[phrases.indexOf(n)] ?? n)));
}
