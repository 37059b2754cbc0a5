// `cleft runs list|evaluate|compare|export`: the library's classification runs, their metrics (on the
// held-out studies by default) and their predictions as CSV, the same code as the Predictions page
// (runs.list, runs.evaluate, runs.compare, runs.exportCsv). `cleft runs merge`: the results files of
// a sharded `cleft classify --shard K/N` imported as one run (runs/merge-results.ts).
import path from 'node:path';
import type { Command } from 'commander';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { resolveDataDir } from '../../data-dir';
import { RunsRepo } from '../../db/runs-repo';
import { TasksRepo } from '../../db/tasks-repo';
import { compareRuns } from '../../runs/compare-runs';
import { evaluateRun } from '../../runs/evaluate-run';
import { lineageSources } from '../../runs/evaluation-set';
import { exportRunCsv } from '../../runs/export-run';
import { mergeResults } from '../../runs/merge-results';
import { PSEUDONYM_LENGTH } from '../../runs/pseudonym';
import { writeFileAtomic } from '../../../native/io/atomic-write';
import type { EvaluationSet, MetricsSummary } from '../../../common/runs';
import { weightsNote } from '../../../common/precision';
import { formatReport } from './evaluate';
import { num } from './train';

type Scope = 'image' | 'breast' | 'exam';
function scopeOf(s: string): Scope {
  if (!['image', 'breast', 'exam'].includes(s)) throw new Error(`--scope must be image, breast or exam (got ${s})`);
  return s as Scope;
}

const INCLUDE_TRAINING =
  'evaluate on every labelled study, including those the model, prompt set or adaptor was trained or validated on (marked "includes training data")';

/** Which studies the figures cover, and the warning when they include training data. */
function setLine(e: EvaluationSet): string {
  return (
    `evaluated on: ${e.description} (${e.studies} studies${e.excludedStudies ? `; ${e.excludedStudies} used in training or validation left out` : ''})` +
    (e.includesTrainingData ? ' · INCLUDES TRAINING DATA' : '') +
    (e.trainingDataUnknown ? ' · TRAINING DATA UNKNOWN' : '')
  );
}

function taskNamed(tasks: TasksRepo, name: string) {
  const all = tasks.list();
  const task = all.find((t) => t.name.toLowerCase() === name.toLowerCase());
  if (!task) throw new Error(`no task named "${name}" (the library has: ${all.map((t) => `"${t.name}"`).join(', ')})`);
  return task;
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
function line(m: MetricsSummary | null): string {
  if (!m) return 'no labelled target';
  const auc = m.macroAuc ? `${m.macroAuc.estimate.toFixed(3)} (${m.macroAuc.low.toFixed(3)}-${m.macroAuc.high.toFixed(3)})` : '-';
  return `n ${String(m.n).padStart(5)}  accuracy ${pct(m.accuracy.estimate)} (${pct(m.accuracy.low)}-${pct(m.accuracy.high)})  balanced ${pct(m.balancedAccuracy)}  macro AUC ${auc}  ECE ${m.ece.toFixed(3)}`;
}

export function register(program: Command): void {
  const runs = program.command('runs').description('Classification runs in the library and their metrics against your labels');
  runs
    .command('list')
    .description('Runs, newest first, with what ran (model, prompt set, device) and how many predictions')
    .option('--task <name>', 'only runs of this task')
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .option('--json', 'print the runs as JSON')
    .action((opts: { task?: string; dataDir?: string; json?: boolean }) => {
      const db = openDatabase(path.join(resolveDataDir(opts.dataDir), DB_FILE_NAME));
      try {
        const taskId = opts.task ? taskNamed(new TasksRepo(db), opts.task).id : undefined;
        const list = new RunsRepo(db).listRuns({ taskId });
        if (opts.json) console.log(JSON.stringify(list, null, 2));
        else
          for (const r of list)
            console.log(
              `#${r.id}  ${r.kind.padEnd(16)} ${r.createdAt.slice(0, 16).replace('T', ' ')}  ${r.predictions} predictions  ` +
                `${r.record.executionProvider ?? '-'}  ${r.name}`,
            );
      } finally {
        db.close();
      }
    });
  runs
    .command('compare')
    .description(
      "A task's runs side by side: on the labelled targets every compared run predicted (the fair comparison), " +
        "and each on its own labelled targets, by default only on studies the run's model, prompt set and adaptor never saw; " +
        '95% intervals by bootstrap over patients',
    )
    .requiredOption('--task <name>', 'the task (e.g. "Breast density")')
    .option('--scope <scope>', 'image | breast | exam', 'breast')
    .option('--runs <ids>', 'comma-separated run ids (default: the 12 newest runs of the task with predictions)')
    .option('--bootstrap <n>', 'bootstrap samples for the intervals (at least 10)', '200')
    .option('--include-training', INCLUDE_TRAINING)
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .option('--json', 'print the comparison as JSON')
    .action(
      (opts: {
        task: string;
        scope: string;
        runs?: string;
        bootstrap: string;
        includeTraining?: boolean;
        dataDir?: string;
        json?: boolean;
      }) => {
        const scope = scopeOf(opts.scope);
        const bootstrapSamples = num(opts.bootstrap, '--bootstrap', { int: true, min: 10 })!;
        const runIds = opts.runs?.split(',').map((s) => num(s.trim(), '--runs', { int: true, min: 1 })!);
        const db = openDatabase(path.join(resolveDataDir(opts.dataDir), DB_FILE_NAME));
        try {
          const tasks = new TasksRepo(db);
          const task = taskNamed(tasks, opts.task);
          const c = compareRuns(
            { ...lineageSources(db), tasks },
            { taskId: task.id, scope, runIds, bootstrapSamples, seed: 0, includeTraining: opts.includeTraining ?? false },
          );
          if (opts.json) {
            console.log(JSON.stringify(c, null, 2));
            return;
          }
          console.log(
            `${task.name}, ${c.scope} level: ${c.rows.length} runs, ${c.commonTargets} labelled ${c.scope}s predicted by all of them`,
          );
          for (const r of c.rows) {
            console.log(`#${r.run.id} ${r.run.kind} · ${r.run.name}`);
            console.log(`  ${setLine(r.evaluationSet)}`);
            console.log(`  shared targets  ${line(r.common)}`);
            console.log(`  its own         ${line(r.own)}`);
          }
        } finally {
          db.close();
        }
      },
    );
  runs
    .command('evaluate <run>')
    .description(
      "Metrics of a run against its task's labels, by default on the studies its model, prompt set and adaptor never saw " +
        '(the test part of the split their training used, else everything outside their training and validation studies); ' +
        '95% intervals by bootstrap over patients',
    )
    .option('--scope <scope>', 'image | breast | exam', 'exam')
    .option('--include-training', INCLUDE_TRAINING)
    .option('--bootstrap <n>', 'bootstrap samples for the intervals (at least 10)', '1000')
    .option('--seed <s>', 'bootstrap seed', '0')
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .option('--json', 'print the report as JSON (its evaluationSet says which studies it covers)')
    .action(
      (
        run: string,
        opts: { scope: string; includeTraining?: boolean; bootstrap: string; seed: string; dataDir?: string; json?: boolean },
      ) => {
        const runId = num(run, 'RUN', { int: true, min: 1 })!;
        const scope = scopeOf(opts.scope);
        const bootstrapSamples = num(opts.bootstrap, '--bootstrap', { int: true, min: 10 })!;
        const seed = num(opts.seed, '--seed', { int: true })!;
        const db = openDatabase(path.join(resolveDataDir(opts.dataDir), DB_FILE_NAME));
        try {
          const report = evaluateRun({ ...lineageSources(db), tasks: new TasksRepo(db) }, runId, scope, {
            bootstrapSamples,
            seed,
            includeTraining: opts.includeTraining ?? false,
          });
          console.log(opts.json ? JSON.stringify(report, null, 2) : formatReport(report));
        } finally {
          db.close();
        }
      },
    );
  runs
    .command('export <run>')
    .description(
      "A run's predictions as CSV keyed by DICOM UIDs: StudyInstanceUID (SeriesInstanceUID, SOPInstanceUID at image scope), " +
        'AccessionNumber, PatientID, laterality, view, p_<class> per class, predicted, label, split_part (train/val/test for ' +
        'the run\'s lineage; "" outside a named split\'s test part), bundle, bundle_sha256, prompt_set, prompt_set_sha256, run_id, app_version',
    )
    .requiredOption('--output <file>', 'the CSV to write')
    .option('--scope <scope>', 'image | breast | exam (default: every scope, with a scope column)')
    .option(
      '--pseudonymize',
      `replace PatientID and AccessionNumber by HMAC-SHA256 with this library's key (${PSEUDONYM_LENGTH} hex digits; the key is pseudonym.key in the data folder, mode 0600, made once)`,
    )
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .action((run: string, opts: { output: string; scope?: string; pseudonymize?: boolean; dataDir?: string }) => {
      const runId = num(run, 'RUN', { int: true, min: 1 })!;
      const scope = opts.scope === undefined ? undefined : scopeOf(opts.scope);
      const dataDir = resolveDataDir(opts.dataDir);
      const db = openDatabase(path.join(dataDir, DB_FILE_NAME));
      try {
        const r = exportRunCsv(db, dataDir, { runId, scope, pseudonymize: opts.pseudonymize ?? false });
        writeFileAtomic(path.resolve(opts.output), r.csv);
        console.log(`${r.rows} predictions of run #${runId} written to ${opts.output}${opts.pseudonymize ? ' (pseudonymized)' : ''}`);
      } finally {
        db.close();
      }
    });
  runs
    .command('merge <files...>')
    .description(
      'Import the results files of every shard of one `cleft classify --shard K/N` as ONE classification run of the library ' +
        '(as the app records it: Predictions, metrics, exports). Refuses a set that is incomplete, gives a shard twice, mixes runs ' +
        '(bundle, prompt set, task, weight precision, N, app version, input list) or has a study in two shards, naming the file and the reason. ' +
        'Images the library does not hold are indexed from the paths in the files. Merging the same set again names its run.',
    )
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .option('--json', 'print the outcome as JSON')
    .action(async (files: string[], opts: { dataDir?: string; json?: boolean }) => {
      const r = await mergeResults(files, resolveDataDir(opts.dataDir));
      if (opts.json) {
        console.log(JSON.stringify(r, null, 2));
        return;
      }
      if (r.model.registered) console.error(`registered the bundle in the library as model #${r.model.id} "${r.model.name}" (not copied)`);
      console.log(
        r.alreadyMerged
          ? `these ${r.shards} shards were already merged as run #${r.runId}; nothing added`
          : `run #${r.runId}: ${r.shards} shards merged, ${r.studies} studies, ${r.images} images${weightsNote(r.weights)}` +
              (r.indexed ? ` (${r.indexed} images indexed into the library)` : ''),
      );
      for (const s of r.skipped) console.log(`  skipped ${s.file}: ${s.reason}`);
      if (!r.alreadyMerged) console.log(`  review it on the Predictions page, or: cleft runs evaluate ${r.runId} --include-training`);
    });
}
