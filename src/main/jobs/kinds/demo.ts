// The offline demo as a job (the app's first-run button): phantom exams and reports, a small CLEFT
// model trained on them, zero-shot and prompt learning with metrics (src/native/cleft/demo.ts);
// then the phantoms are imported into the library with their density labels, the bundle is
// registered, and their reports imported, so the newcomer can open, label, classify and train
// (prompts, adaptors, contrastive LoRA) on them right away.
import fs from 'node:fs';
import path from 'node:path';
import type { DemoParams, DemoJobResult } from '../../../common/jobs';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { ImagesRepo } from '../../db/images-repo';
import { TasksRepo } from '../../db/tasks-repo';
import { LabelsRepo } from '../../db/labels-repo';
import { demoDeps } from '../../demo/demo-deps';
import { importModel, listModels, refreshBundleRecord } from '../../models/registry';
import { crashPoint } from '../../../native/io/crash-point';
import { importReports } from '../../library/report-import';
import { runDemo } from '../../../native/cleft/demo';
import { demoJobFraction, demoJobUnits, demoPlan } from '../../../native/cleft/demo-work';
import { SettingsRepo } from '../../db/settings-repo';
import { jobDevice } from '../job-device';
import { throwIfCancelled, type JobRunner } from '../job-context';
import { importDicom } from './import-dicom';

export const demo: JobRunner<DemoParams, DemoJobResult> = async (ctx) => {
  const started = performance.now();
  const out = path.join(ctx.dataDir, 'demo', `run-${ctx.jobId}`);
  // Progress is the share of the job's real work (demo-work.ts): the demo's units, one unit per
  // phantom image imported, then labels and reports, then registering the model: 100 % is done.
  const plan = demoPlan({ quick: ctx.params.quick, ...(ctx.params.exams !== undefined ? { exams: ctx.params.exams } : {}) });
  const importUnits = demoJobUnits(plan).import;
  const settingsDb = openDatabase(path.join(ctx.dataDir, DB_FILE_NAME));
  const settings = (() => {
    try {
      return new SettingsRepo(settingsDb).get();
    } finally {
      settingsDb.close();
    }
  })();
  const r = await runDemo(
    {
      outputDir: out,
      quick: ctx.params.quick,
      seed: ctx.params.seed,
      device: jobDevice(ctx.params.device, settings),
      ...(settings.threads > 0 ? { threads: settings.threads } : {}),
      signal: ctx.signal,
      ...(ctx.params.exams !== undefined ? { exams: ctx.params.exams } : {}),
      onProgress: (p) => {
        ctx.progress(demoJobFraction(plan, 'demo', p.done), p.message);
        if (p.loss !== undefined) ctx.metric({ step: Math.round(p.fraction * 1000), loss: p.loss });
      },
    },
    demoDeps,
  );
  throwIfCancelled(ctx.signal);

  ctx.progress(demoJobFraction(plan, 'import', 0), 'Importing the phantom exams into the library…');
  const phantoms = path.join(out, 'phantoms');
  const imported = await importDicom({
    ...ctx,
    params: { paths: [phantoms] },
    progress: (f, m) => ctx.progress(demoJobFraction(plan, 'import', f * importUnits), m),
  });

  const db = openDatabase(path.join(ctx.dataDir, DB_FILE_NAME));
  try {
    ctx.progress(demoJobFraction(plan, 'library', 0), 'Labelling the phantoms and importing their reports…');
    // The phantoms' ground-truth density, as breast labels, so evaluation has something to compare with.
    const tasks = new TasksRepo(db);
    const density = tasks.list().find((t) => t.name === 'Breast density');
    let labels = 0;
    if (density) {
      const repo = new LabelsRepo(db, tasks);
      const images = new ImagesRepo(db);
      for (const dir of fs.readdirSync(phantoms)) {
        const file = path.join(phantoms, dir, 'labels.json');
        if (!fs.existsSync(file)) continue;
        const truth = JSON.parse(fs.readFileSync(file, 'utf8')) as { studyInstanceUID: string; density: string };
        const studyId = images.studyIdByUid(truth.studyInstanceUID);
        if (studyId === null) continue;
        for (const laterality of ['R', 'L'] as const) {
          repo.set({ taskId: density.id, studyId, scope: 'breast', laterality }, truth.density, 'phantom ground truth');
          labels++;
        }
      }
    }
    // The phantoms' report.txt files, so contrastive LoRA training has image-report pairs right away.
    const reports = importReports(db, phantoms);
    ctx.progress(demoJobFraction(plan, 'register', 0), 'Registering the demo model…');
    // A resumed demo ran again into the same folder: the model this job registered before a kill is
    // brought up to date instead of refused as already registered.
    const mine = listModels(db, { kind: 'bundle' }).find((m) => path.resolve(m.path) === path.resolve(r.bundleDir));
    const model = mine
      ? await refreshBundleRecord(db, mine.id)
      : await importModel(db, ctx.dataDir, r.bundleDir, { copy: false, name: `CLEFT demo (phantoms, job ${ctx.jobId})` });
    crashPoint('demo.registered');
    ctx.progress(demoJobFraction(plan, 'register', 1), `Registered ${model.name}`);
    const result: DemoJobResult = {
      modelId: model.id,
      bundleDir: r.bundleDir,
      studies: imported.studies,
      labels,
      reports: reports.matched,
      zeroShot: { image: r.zeroShot.image, exam: r.zeroShot.exam },
      promptLearned: { image: r.promptLearned.image, exam: r.promptLearned.exam },
      promptSet: r.promptSet,
      notes: r.notes,
      contrastive: r.contrastive,
      device: r.device,
      seconds: Math.round(performance.now() - started) / 1000,
    };
    return result;
  } finally {
    db.close();
  }
};
