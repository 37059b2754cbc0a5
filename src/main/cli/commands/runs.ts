// `cleft runs list` and `cleft runs compare`: the library's classification runs and their metrics side
// by side, the same code as the Predictions page (runs.list, runs.compare).
import path from 'node:path';
import type { Command } from 'commander';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { resolveDataDir } from '../../data-dir';
import { RunsRepo } from '../../db/runs-repo';
import { TasksRepo } from '../../db/tasks-repo';
import { compareRuns } from '../../runs/compare-runs';
import type { MetricsSummary } from '../../../common/runs';
import { num } from './train';

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
        'and each on its own labelled targets; 95% bootstrap intervals',
    )
    .requiredOption('--task <name>', 'the task (e.g. "Breast density")')
    .option('--scope <scope>', 'image | breast | exam', 'breast')
    .option('--runs <ids>', 'comma-separated run ids (default: the 12 newest runs of the task with predictions)')
    .option('--bootstrap <n>', 'bootstrap samples for the intervals (at least 10)', '200')
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .option('--json', 'print the comparison as JSON')
    .action((opts: { task: string; scope: string; runs?: string; bootstrap: string; dataDir?: string; json?: boolean }) => {
      if (!['image', 'breast', 'exam'].includes(opts.scope)) throw new Error(`--scope must be image, breast or exam (got ${opts.scope})`);
      const bootstrapSamples = num(opts.bootstrap, '--bootstrap', { int: true, min: 10 })!;
      const runIds = opts.runs?.split(',').map((s) => num(s.trim(), '--runs', { int: true, min: 1 })!);
      const db = openDatabase(path.join(resolveDataDir(opts.dataDir), DB_FILE_NAME));
      try {
        const tasks = new TasksRepo(db);
        const task = taskNamed(tasks, opts.task);
        const c = compareRuns(new RunsRepo(db), tasks, {
          taskId: task.id,
          scope: opts.scope as 'image' | 'breast' | 'exam',
          runIds,
          bootstrapSamples,
          seed: 0,
        });
        if (opts.json) {
          console.log(JSON.stringify(c, null, 2));
          return;
        }
        console.log(
          `${task.name}, ${c.scope} level: ${c.rows.length} runs, ${c.commonTargets} labelled ${c.scope}s predicted by all of them`,
        );
        for (const r of c.rows) {
          console.log(`#${r.run.id} ${r.run.kind} · ${r.run.name}`);
          console.log(`  shared targets  ${line(r.common)}`);
          console.log(`  its own         ${line(r.own)}`);
        }
      } finally {
        db.close();
      }
    });
}
