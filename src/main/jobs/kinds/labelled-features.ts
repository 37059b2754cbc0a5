// The start every label-trained job shares (prompt learning, the Adaptor): the bundle, the task's
// labelled images in the selection, and their image features from the cache (computed once per
// model, instance and preprocessing spec; only new images are encoded).
import type { Db } from '../../db/database';
import { ImagesRepo, type LabelledImage } from '../../db/images-repo';
import { SettingsRepo } from '../../db/settings-repo';
import { TasksRepo } from '../../db/tasks-repo';
import { cachedImageFeatures, engineFromSettings } from '../../features/image-features';
import { getModel } from '../../models/registry';
import { splitTestStudies } from '../../library/splits';
import { openBundle, type CleftBundle } from '../../../native/bundle/index';
import type { TaskSpec } from '../../../native/cleft/tasks';
import type { DeviceRecorder } from '../../../native/runtime/device-recorder';
import { jobDevice, jobDeviceRecorder } from '../job-device';
import { chosenWeights, type WeightPrecision } from '../../../common/precision';
import { throwIfCancelled, type JobContext } from '../job-context';

export interface LabelledFeatures {
  model: ReturnType<typeof getModel>;
  bundle: CleftBundle;
  task: TaskSpec;
  classes: string[];
  images: LabelledImage[];
  /** Class index of each image. */
  labels: number[];
  features: Awaited<ReturnType<typeof cachedImageFeatures>>;
  settings: ReturnType<SettingsRepo['get']>;
  engine: ReturnType<typeof engineFromSettings> & { weights: WeightPrecision };
  /** Where the image encoder ran (add the text encoder's and the training's to it). */
  recorder: DeviceRecorder;
}

export async function labelledFeatures(
  ctx: JobContext<{
    modelId: number;
    taskId: number;
    studyIds?: number[] | undefined;
    split?: string | null | undefined;
    device?: string | undefined;
    weights?: string | undefined;
  }>,
  db: Db,
  o: {
    /** What the job is, for its messages ("prompt learning", "the Adaptor"). */
    purpose: string;
    /** A refusal to make before any image is encoded (e.g. a name the bundle already holds). */
    refuse?: (bundle: CleftBundle) => string | null;
    /** The job's progress when `done` of the `total` images not in the cache are encoded (the job's stages in units of work, src/common/progress.ts). */
    encodingProgress: (done: number, total: number) => number;
    /** The job honours the weight precision (its `weights` param, else Settings'); otherwise float32. */
    precision?: boolean;
  },
): Promise<LabelledFeatures> {
  const p = ctx.params;
  const model = getModel(db, p.modelId);
  if (model.kind !== 'bundle') throw new Error(`model "${model.name}" is a ${model.kind}; ${o.purpose} needs a CLEFT bundle`);
  const bundle = await openBundle(model.path, { verify: 'sizes' });
  const refusal = o.refuse?.(bundle);
  if (refusal) throw new Error(refusal);
  const taskRow = new TasksRepo(db).get(p.taskId);
  const task: TaskSpec = { name: taskRow.name, scope: taskRow.scope, classes: taskRow.classes };
  const classes = task.classes.map((c) => c.name);
  // a named split's test part is never read
  const testStudies = splitTestStudies(db, p.split);
  const images = new ImagesRepo(db)
    .labelled(p.taskId, p.studyIds)
    .filter((im) => classes.includes(im.label) && !testStudies.has(im.studyId));
  const perClass = classes.map((c) => images.filter((im) => im.label === c).length);
  if (perClass.filter((n) => n > 0).length < 2)
    throw new Error(
      `${o.purpose} needs labelled images of at least two classes of "${task.name}" (have ${classes.map((c, i) => `${c}: ${perClass[i]}`).join(', ')})`,
    );
  const settings = new SettingsRepo(db).get();
  const engine = {
    ...engineFromSettings(ctx.dataDir, settings, () => undefined),
    device: jobDevice(p.device, settings),
    weights: o.precision ? chosenWeights(p.weights, settings.weights) : ('float32' as const),
  };
  const recorder = jobDeviceRecorder();

  ctx.progress(0, `Encoding ${images.length} labelled images (cached ones are reused)…`);
  const features = await cachedImageFeatures(
    db,
    bundle,
    images.map((im) => ({ id: im.instanceId, file: im.file })),
    { ...engine, engine: recorder.engine('image_encoder') },
    { signal: ctx.signal, onProgress: (d, t) => ctx.progress(o.encodingProgress(d, t), `Encoded ${d} of ${t} new images`) },
  );
  throwIfCancelled(ctx.signal);
  return {
    model,
    bundle,
    task,
    classes,
    images,
    labels: images.map((im) => classes.indexOf(im.label)),
    features,
    settings,
    engine,
    recorder,
  };
}
