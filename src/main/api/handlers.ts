// The implementation of every contract method. Inputs arrive already validated (see dispatch.ts);
// handlers return plain data or throw CleftError.
import os from 'node:os';
import type { MethodName, MethodOutput, MethodParsedInput } from '../../common/contract';
import { CleftError } from '../../common/errors';
import { schemaVersion } from '../db/database';
import { LibraryRepo } from '../db/library-repo';
import { SettingsRepo } from '../db/settings-repo';
import { LabelsRepo } from '../db/labels-repo';
import { TasksRepo } from '../db/tasks-repo';
import { createModelBundle, deleteModel, exportModelBundle, importModel, inspectModel, listModels } from '../models/registry';
import { inspectModelFolder } from '../../native/bundle/inspect';
import { activatePromptSet, listPromptSets, resolveClassifyPromptSet } from '../models/prompt-sets';
import { engineStatus } from '../runtime/status';
import { RunsRepo } from '../db/runs-repo';
import { ReportsRepo } from '../db/reports-repo';
import { importReports } from '../library/report-import';
import { SplitsRepo } from '../db/splits-repo';
import { createSplit, deleteSplit, importSplit } from '../library/splits';
import { evaluateRun } from '../runs/evaluate-run';
import { lineageSources } from '../runs/evaluation-set';
import { compareRuns } from '../runs/compare-runs';
import { exportRunCsv } from '../runs/export-run';
import { exportRunSrs } from '../sr/export-sr';
import { sendRunSrs } from '../sr/send-sr';
import { importLabels } from '../labels/label-import';
import { labelsCsv } from '../labels/label-export';
import { labelExportRows, undoLabelImport } from '../db/label-import-repo';
import { addArchive, listArchives, removeArchive, resolveArchive } from '../archive/connections';
import { testArchive } from '../archive/probe';
import { queryStudies, querySeries } from '../archive/qido';
import type { Backend } from './backend';

export type Handlers = {
  [M in MethodName]: (input: MethodParsedInput<M>) => MethodOutput<M> | Promise<MethodOutput<M>>;
};

export function createHandlers(backend: Backend): Handlers {
  const { db, jobs, options } = backend;
  const library = new LibraryRepo(db);
  const settings = new SettingsRepo(db);
  const tasks = new TasksRepo(db);
  const labels = new LabelsRepo(db, tasks);
  const runs = new RunsRepo(db); // the built-in tasks are seeded when the library opens (jobs/job-host.ts)
  return {
    'app.info': () => ({
      name: 'CLEFT Studio',
      version: options.version,
      dataDir: options.dataDir,
      platform: `${os.platform()} ${os.arch()}`,
      nodeVersion: process.versions.node,
      electronVersion: options.electronVersion ?? null,
      host: options.host,
      schemaVersion: schemaVersion(db),
    }),
    'library.stats': () => library.stats(),
    'library.import': (params) => jobs.enqueue({ kind: 'import', params }),
    'library.studies': ({ filter, sort, limit, offset, locate }) => ({
      ...library.studies(filter, sort, limit, offset),
      ...(locate !== undefined ? { position: library.position(locate, filter, sort) } : {}),
    }),
    'library.studyIds': ({ filter, sort }) => ({ ids: library.studyIds(filter, sort) }),
    'library.study': ({ id }) => {
      const found = library.study(id);
      if (!found) throw new CleftError('not_found', `no study with id ${id}`);
      return found;
    },
    'library.problems': ({ jobId, limit, offset }) => library.problems(jobId, limit, offset),
    'tasks.list': () => tasks.list(),
    'tasks.create': (input) => tasks.create(input),
    'tasks.delete': ({ id }) => {
      tasks.delete(id);
      return { deleted: id };
    },
    'labels.forStudy': ({ studyId, taskId }) => labels.forStudy(studyId, taskId),
    'labels.set': ({ target, className }) => labels.set(target, className, settings.get().annotator),
    'labels.clear': ({ target }) => ({ removed: labels.clear(target) }),
    'labels.progress': ({ taskId }) => labels.progress(taskId),
    'labels.importPreview': ({ source, ...opts }) =>
      importLabels(db, source, opts, { dryRun: true, defaultAnnotator: settings.get().annotator }),
    'labels.importApply': ({ source, ...opts }) =>
      importLabels(db, source, opts, { dryRun: false, defaultAnnotator: settings.get().annotator }),
    'labels.importUndo': ({ importId }) => undoLabelImport(db, importId),
    'labels.export': ({ taskId, scope }) => {
      const task = tasks.get(taskId);
      const rows = labelExportRows(db, taskId, scope);
      const slug = task.name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '');
      return { fileName: `cleft-labels-${slug}${scope ? `-${scope}` : ''}.csv`, csv: labelsCsv(rows), rows: rows.length };
    },
    'models.list': ({ kind }) => listModels(db, kind ? { kind } : {}),
    'models.inspect': ({ id, hash }) => inspectModel(db, id, { hash }),
    'models.inspectFolder': ({ path, hash }) => inspectModelFolder(path, { hash }),
    'models.import': ({ path, name, copy, adapterBase }) =>
      importModel(db, options.dataDir, path, { copy, ...(name ? { name } : {}), ...(adapterBase ? { adapterBase } : {}) }),
    'models.delete': ({ id }) => deleteModel(db, options.dataDir, id),
    'models.createBundle': (input) => createModelBundle(db, options.dataDir, { ...input, createdBy: `CLEFT Studio ${options.version}` }),
    'models.exportBundle': ({ id, destination, overwrite }) => exportModelBundle(db, id, destination, overwrite),
    'classify.start': async ({ modelId, promptSet, ...rest }) => {
      const id = modelId ?? listModels(db, { kind: 'bundle' }).at(-1)?.id;
      if (id === undefined) throw new CleftError('conflict', 'No CLEFT bundle yet: import one on the Models page, or run the demo.');
      // Resolved now, so the job's params name the set it used (and a resume uses the same one).
      const resolved = await resolveClassifyPromptSet(db, id, rest.taskId, promptSet);
      return jobs.enqueue({ kind: 'classify', params: { ...rest, modelId: id, promptSet: resolved } });
    },
    'promptSets.list': ({ modelId, taskId }) => listPromptSets(db, modelId, taskId),
    'promptSets.activate': ({ modelId, taskId, name }) => activatePromptSet(db, modelId, taskId, name),
    'train.promptLearn': (params) => jobs.enqueue({ kind: 'prompt-learn', params }),
    'train.adaptor': (params) => jobs.enqueue({ kind: 'train-adaptor', params }),
    'train.lora': (params) => jobs.enqueue({ kind: 'train-lora', params }),
    'reports.import': ({ path }) => importReports(db, path),
    'reports.forStudy': ({ studyId }) => new ReportsRepo(db).forStudy(studyId),
    'splits.list': () => new SplitsRepo(db).list(),
    'splits.create': (input) => createSplit(db, input),
    'splits.show': ({ name }) => new SplitsRepo(db).show(name),
    'splits.import': ({ path, name }) => importSplit(db, path, name),
    'archives.list': () => listArchives(db, options.dataDir),
    'archives.add': (input) => addArchive(db, options.dataDir, input),
    'archives.remove': ({ name }) => {
      removeArchive(db, options.dataDir, name);
      return { removed: name };
    },
    'archives.test': ({ name }) => testArchive(resolveArchive(db, options.dataDir, name)),
    'archives.query': ({ name, query }) => queryStudies(db, resolveArchive(db, options.dataDir, name), query),
    'archives.series': ({ name, studyUid }) => querySeries(resolveArchive(db, options.dataDir, name), studyUid),
    'splits.delete': ({ name, force }) => deleteSplit(db, name, force),
    'demo.start': (params) => jobs.enqueue({ kind: 'demo', params }),
    'explain.start': (params) => jobs.enqueue({ kind: 'explain', params }),
    'archives.retrieve': (params) => {
      resolveArchive(db, options.dataDir, params.archive); // an unknown archive or a missing secret: refused now, not in the job
      return jobs.enqueue({ kind: 'pacs-retrieve', params });
    },
    'runs.list': ({ taskId, kind }) => runs.listRuns({ taskId, kind }),
    'runs.get': ({ id }) => runs.getRun(id),
    'runs.studyPredictions': (input) => runs.studyPredictions(input),
    'runs.predictions': ({ runId, filter, sort, limit, offset }) => runs.predictions(runId, filter, sort, limit, offset),
    'runs.evaluate': ({ runId, scope, bootstrapSamples, seed, includeTraining }) =>
      evaluateRun({ ...lineageSources(db), tasks }, runId, scope, { bootstrapSamples, seed, includeTraining }),
    'runs.compare': (input) => compareRuns({ ...lineageSources(db), tasks }, input),
    'runs.exportCsv': (input) => exportRunCsv(db, options.dataDir, input),
    'sr.export': (input) => exportRunSrs(db, input),
    'sr.send': ({ runId, archive, studyUids }) => sendRunSrs(db, resolveArchive(db, options.dataDir, archive), { runId, studyUids }),
    'jobs.list': (input) =>
      jobs.list({ limit: input.limit, ...(input.status ? { status: input.status } : {}), ...(input.kind ? { kind: input.kind } : {}) }),
    'jobs.get': ({ id }) => jobs.get(id),
    'jobs.metrics': ({ id }) => jobs.metrics(id),
    'jobs.start': (spec) => jobs.enqueue(spec),
    'jobs.cancel': ({ id }) => jobs.cancel(id),
    'jobs.resume': ({ id }) => jobs.resume(id),
    'settings.get': () => settings.get(),
    'engine.status': ({ refresh }) => {
      const s = settings.get();
      return engineStatus(s.executionProvider, s.threads, refresh);
    },
    'settings.update': (patch) => settings.update(patch),
    'dialog.openFolder': async ({ title }) => {
      if (!options.openFolderDialog) {
        throw new CleftError('unsupported', 'The folder picker exists only in the desktop app; type or paste the folder path instead.');
      }
      return { path: await options.openFolderDialog(title) };
    },
  };
}
