// `cleft classify`: one-click zero-shot classification of a study (from the library) or of DICOM
// files with a CLEFT bundle: per-view probabilities, combined per breast and per exam (mean of the
// views' probabilities), with the model, prompt set and device that ran.
//
//   cleft classify --bundle DIR --task NAME (--study UID | --dicom FILE...) [--prompt-set NAME | --adaptor NAME] [--json]
import { type Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveDataDir } from '../../data-dir';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { ImagesRepo } from '../../db/images-repo';
import { TasksRepo } from '../../db/tasks-repo';
import { prepareFiles } from '../../dicom/pipeline/prepare';
import { PreprocessSpec, presetSpec } from '../../dicom/pipeline/spec';
import { openBundle } from '../../../native/bundle/index';
import { builtinTask, parseTask, type TaskSpec } from '../../../native/cleft/tasks';
import { zeroShot } from '../../../native/cleft/zero-shot';
import { parseProviderChoice, providerLabel } from '../../../native/runtime/providers';
import { num } from './train';

interface Flags {
  bundle: string;
  task: string;
  study?: string;
  dicom?: string[];
  promptSet?: string;
  adaptor?: string;
  json?: boolean;
  dataDir?: string;
  cacheDir?: string;
  device: string;
  threads?: string;
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

/** The files of a study in the library (read-only). */
function studyFiles(uid: string, dataDir: string | undefined): { file: string; laterality: 'L' | 'R' | null; view: string | null }[] {
  const file = path.join(resolveDataDir(dataDir), DB_FILE_NAME);
  if (!fs.existsSync(file)) throw new Error(`no library at ${file} (use --data-dir or CLEFT_DATA_DIR, or give --dicom files)`);
  const db = openDatabase(file, { readonly: true });
  try {
    const rows = new ImagesRepo(db).presentationImagesOfStudyUid(uid);
    if (!rows.length) throw new Error(`study ${uid}: not in the library ${file} (or it has no FOR PRESENTATION images)`);
    return rows.map((r) => ({
      file: r.file,
      laterality: r.laterality === 'L' || r.laterality === 'R' ? r.laterality : null,
      view: r.view,
    }));
  } finally {
    db.close();
  }
}

const fmtProbs = (classes: string[], p: number[]) => classes.map((c, i) => `${c} ${(100 * p[i]!).toFixed(1)}%`).join('  ');

export function register(program: Command): void {
  program
    .command('classify')
    .description('Zero-shot classification of a study or DICOM files with a CLEFT bundle (per view, per breast, per exam)')
    .requiredOption('--bundle <dir>', 'CLEFT model bundle folder')
    .requiredOption('--task <name>', 'task: "Breast density", "BI-RADS assessment", a custom task of the library, or a task .json')
    .option('--study <uid>', 'StudyInstanceUID of a study in the library')
    .option('--dicom <file...>', 'DICOM files')
    .option('--prompt-set <name>', 'a learned prompt set of the bundle instead of the task templates')
    .option('--adaptor <name>', 'a trained head of the bundle (linear probe / Adaptor) instead of zero-shot text embeddings')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .option('--cache-dir <dir>', 'ONNX cache (default: <data dir>/cache/onnx)')
    .option('--device <device>', 'auto | cpu | webgpu | cuda:N', 'auto')
    .option('--threads <n>', 'intra-op threads')
    .action(async (f: Flags) => {
      if (!!f.study === !!f.dicom?.length) throw new Error('give either --study UID or --dicom FILE...');
      if (f.promptSet && f.adaptor) throw new Error('give --prompt-set or --adaptor, not both');
      const t0 = performance.now();
      const bundle = await openBundle(f.bundle, { verify: 'sizes' });
      const task = resolveTask(f.task, f.dataDir);
      const inputs = f.study ? studyFiles(f.study, f.dataDir) : f.dicom!.map((file) => ({ file, laterality: null, view: null }));
      const size = bundle.image.config.imageSize[0];
      const spec = bundle.preprocessing
        ? PreprocessSpec.parse(bundle.preprocessing.spec)
        : PreprocessSpec.parse({ ...presetSpec('cleft'), size, padLongSide: Math.max(256, Math.round((size * 256) / 224)) });
      const prepared = await prepareFiles(
        inputs.map((i) => i.file),
        spec,
      );
      const laterality = prepared.images.map(
        (im, i) => inputs[i]!.laterality ?? (im.breastSide === 'L' || im.breastSide === 'R' ? im.breastSide : null),
      );
      const threads = num(f.threads, '--threads', { int: true, min: 1 });
      const cacheDir = path.resolve(f.cacheDir ?? path.join(resolveDataDir(f.dataDir), 'cache', 'onnx'));
      const r = await zeroShot(
        {
          bundle,
          task,
          promptSet: f.promptSet ?? null,
          adaptor: f.adaptor ?? null,
          pixelValues: prepared.pixelValues,
          shape: prepared.shape,
          laterality,
        },
        {
          cacheDir,
          device: parseProviderChoice(f.device),
          onWarning: (m) => console.error(`warning: ${m}`),
          ...(threads ? { threads } : {}),
        },
      );
      const device = r.provider ? providerLabel(r.provider) : 'cache';
      const views = prepared.images.map((im, i) => ({
        file: im.file,
        sopInstanceUID: im.sopInstanceUID,
        laterality: laterality[i],
        view: inputs[i]!.view ?? im.viewPosition,
        probabilities: Object.fromEntries(r.classes.map((c, k) => [c, r.probabilities[i]![k]!])),
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
        combination: 'mean of the views\u2019 probabilities',
        views,
        breast: Object.fromEntries(Object.entries(r.breast).map(([s, p]) => [s, Object.fromEntries(r.classes.map((c, k) => [c, p![k]!]))])),
        exam: Object.fromEntries(r.classes.map((c, k) => [c, r.exam[k]!])),
        prediction: r.classes[r.exam.indexOf(Math.max(...r.exam))],
        seconds: (performance.now() - t0) / 1000,
      };
      if (f.json) {
        console.log(JSON.stringify(out, null, 2));
        return;
      }
      console.log(
        `${task.name} with ${bundle.manifest.name} (${bundle.sha256.slice(0, 12)}), ${r.model.adaptor ? `adaptor "${r.model.adaptor}"` : `prompts: ${r.model.promptSet ? `learned set "${r.model.promptSet}"` : 'task templates'}`}, device ${device}`,
      );
      for (const v of views)
        console.log(
          `  view ${`${v.laterality ?? '?'}${v.view ?? ''}`.padEnd(6)} ${fmtProbs(
            r.classes,
            r.classes.map((c) => v.probabilities[c]!),
          )}  ${path.basename(v.file)}`,
        );
      for (const [s, p] of Object.entries(r.breast)) console.log(`  breast ${s}      ${fmtProbs(r.classes, p!)}`);
      console.log(`  exam          ${fmtProbs(r.classes, r.exam)}  -> ${out.prediction} (mean of the views' probabilities)`);
      console.log(`  ${out.seconds.toFixed(2)} s`);
    });
}
