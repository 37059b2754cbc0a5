// `cleft labels import FILE` and `cleft labels export`: label spreadsheets in and out, the same code
// and the same report as the Labels page (labels.importPreview / importApply / export).
import path from 'node:path';
import type { Command } from 'commander';
import { methods } from '../../../common/contract';
import { CleftError } from '../../../common/errors';
import type { LabelImportReport } from '../../../common/label-files';
import { writeFileAtomic } from '../../../native/io/atomic-write';
import { resolveDataDir } from '../../data-dir';
import { DB_FILE_NAME, openDatabase, type Db } from '../../db/database';
import { labelExportRows } from '../../db/label-import-repo';
import { SettingsRepo } from '../../db/settings-repo';
import { TasksRepo } from '../../db/tasks-repo';
import { labelsCsv } from '../../labels/label-export';
import { importLabels } from '../../labels/label-import';

function taskNamed(db: Db, name: string) {
  const tasks = new TasksRepo(db);
  tasks.seedBuiltins();
  const all = tasks.list();
  const task = all.find((t) => t.name.toLowerCase() === name.toLowerCase());
  if (!task)
    throw new CleftError('invalid_input', `no task named "${name}" (the library has: ${all.map((t) => `"${t.name}"`).join(', ')})`);
  return task;
}

interface ImportFlags {
  task: string;
  key?: string;
  keyColumn?: string;
  labelColumn?: string;
  lateralityColumn?: string;
  viewColumn?: string;
  map?: string;
  onConflict: string;
  annotator?: string;
  dryRun?: boolean;
  skipBadRows?: boolean;
  sheet?: string;
  json?: boolean;
  dataDir?: string;
}

function printReport(r: LabelImportReport): void {
  const c = r.counts;
  const where = r.format === 'xlsx' ? `sheet "${r.sheet}"` : r.format.toUpperCase();
  console.log(`${r.file} (${where}) → ${r.task}`);
  console.log(
    `  columns: key ${r.columns.keys.map((k) => `${k.column} (${k.key})`).join(', ')}; label ${r.columns.label}` +
      (r.columns.laterality ? `; laterality ${r.columns.laterality}` : '') +
      (r.columns.view ? `; view ${r.columns.view}` : ''),
  );
  console.log(
    `  ${c.rows} rows: ${r.written ? 'applied' : r.dryRun && !r.blocked ? 'would apply' : 'applied'} ${c.applied} label(s) ` +
      `(${c.created} new, ${c.replaced} replaced), ${c.unchanged} unchanged, ${c.kept} kept, ${c.refused} row(s) refused`,
  );
  for (const x of r.refused.slice(0, 200))
    console.log(`  line ${x.line}${x.column ? `, column ${x.column}` : ''}${x.value ? ` (${x.value})` : ''}: ${x.reason}`);
  if (r.refused.length > 200) console.log(`  … and ${r.refused.length - 200} more refused (--json lists all)`);
  for (const x of r.kept.slice(0, 50)) console.log(`  line ${x.line}: ${x.reason}`);
  if (r.kept.length > 50) console.log(`  … and ${r.kept.length - 50} more kept (--json lists all)`);
  for (const u of r.unmapped.slice(0, 20)) console.log(`  unmapped value "${u.value}" in ${u.rows} row(s)`);
  for (const n of r.notes) console.log(`  ${n}`);
  if (r.importId !== null) console.log(`  import #${r.importId} (undo it on the Labels page)`);
}

export function register(program: Command): void {
  const labels = program.command('labels').description('Label spreadsheets in and out (CSV, TSV, XLSX)');
  labels
    .command('import')
    .description(
      'Import labels from a CSV/TSV (delimiter found from the header line; UTF-8 with or without BOM; quoted fields may ' +
        'hold delimiters and line breaks) or XLSX (first sheet, or --sheet). Key columns are found by their usual names ' +
        '(StudyInstanceUID; AccessionNumber / accession / acc_anon; SOPInstanceUID; PatientID / empi_anon), as are ' +
        'laterality (laterality / side / ImageLaterality: L, R, B or bilateral) and view (view / ViewPosition). ' +
        'Scope follows the row: a SOPInstanceUID labels the image; a laterality the breast (B: both), with a view the ' +
        'image of that breast and view; otherwise the exam. A PatientID key labels every study of the patient. A row that ' +
        'matches nothing or several studies, names an unknown class, or contradicts another row is refused with its line, ' +
        'column and reason; with any refused row nothing is written (unless --skip-bad-rows), and the exit code is 1.',
    )
    .argument('<file>', 'a .csv, .tsv or .xlsx file')
    .requiredOption('--task <name>', 'the task (e.g. "Breast density")')
    .option('--key <kind>', 'accession | study | sop | patient (default: each row its most specific key column)')
    .option('--key-column <col>', 'the key column (default: found by its usual name)')
    .option('--label-column <col>', 'the label column (default: class, label, density, tissueden, birads, ...)')
    .option('--laterality-column <col>', 'the laterality column (default: laterality, side or ImageLaterality)')
    .option('--view-column <col>', 'the view column (default: view or ViewPosition)')
    .option('--map <pairs>', 'value translations to class names, e.g. "1=A,2=B,3=C,4=D" (unmapped values are refused)')
    .option('--on-conflict <what>', 'an existing label of another class: keep | replace', 'keep')
    .option('--annotator <name>', "stored with the labels (default: the file's annotator column, else Settings' annotator)")
    .option('--dry-run', 'write nothing; print the same report')
    .option('--skip-bad-rows', 'apply the other rows when some are refused')
    .option('--sheet <name>', 'XLSX: the sheet to read (default: the first)')
    .option('--json', 'print the report as JSON (counts, refused rows with line, column, value, reason, ...)')
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .action(async (file: string, f: ImportFlags) => {
      const db = openDatabase(path.join(resolveDataDir(f.dataDir), DB_FILE_NAME));
      try {
        const task = taskNamed(db, f.task);
        if (f.key !== undefined && !['accession', 'study', 'sop', 'patient'].includes(f.key))
          throw new CleftError('invalid_input', `--key must be accession, study, sop or patient (got ${f.key})`);
        if (!['keep', 'replace'].includes(f.onConflict))
          throw new CleftError('invalid_input', `--on-conflict must be keep or replace (got ${f.onConflict})`);
        // the contract's own validation, so the CLI takes exactly what the app takes
        const input = methods['labels.importApply'].input.parse({
          source: { path: file },
          taskId: task.id,
          onConflict: f.onConflict,
          skipBadRows: f.skipBadRows ?? false,
          ...(f.key ? { key: f.key } : {}),
          ...(f.keyColumn ? { keyColumn: f.keyColumn } : {}),
          ...(f.labelColumn ? { labelColumn: f.labelColumn } : {}),
          ...(f.lateralityColumn ? { lateralityColumn: f.lateralityColumn } : {}),
          ...(f.viewColumn ? { viewColumn: f.viewColumn } : {}),
          ...(f.map ? { map: f.map } : {}),
          ...(f.annotator ? { annotator: f.annotator } : {}),
          ...(f.sheet ? { sheet: f.sheet } : {}),
        });
        const { source, ...opts } = input;
        const report = await importLabels(db, source, opts, {
          dryRun: f.dryRun ?? false,
          defaultAnnotator: new SettingsRepo(db).get().annotator,
        });
        if (f.json) console.log(JSON.stringify(report, null, 2));
        else printReport(report);
        if (report.blocked) process.exitCode = 1;
      } catch (e) {
        if (!(e instanceof CleftError)) throw e;
        console.error(`cleft: ${e.message}`);
        process.exitCode = 1;
      } finally {
        db.close();
      }
    });
  labels
    .command('export')
    .description(
      "A task's labels as CSV: StudyInstanceUID, AccessionNumber, PatientID, SOPInstanceUID (image labels), laterality, " +
        'view, class, annotator, time; `cleft labels import` reads it back into a library with the same studies.',
    )
    .requiredOption('--task <name>', 'the task (e.g. "Breast density")')
    .requiredOption('--output <file>', 'the CSV to write')
    .option('--scope <scope>', 'only image | breast | exam labels (default: all)')
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .action((f: { task: string; output: string; scope?: string; dataDir?: string }) => {
      if (f.scope !== undefined && !['image', 'breast', 'exam'].includes(f.scope))
        throw new Error(`--scope must be image, breast or exam (got ${f.scope})`);
      const db = openDatabase(path.join(resolveDataDir(f.dataDir), DB_FILE_NAME));
      try {
        const task = taskNamed(db, f.task);
        const rows = labelExportRows(db, task.id, f.scope as 'image' | 'breast' | 'exam' | undefined);
        const out = path.resolve(f.output);
        writeFileAtomic(out, labelsCsv(rows));
        console.log(`Wrote ${rows.length} label(s) of ${task.name} to ${out}`);
      } catch (e) {
        if (!(e instanceof CleftError)) throw e;
        console.error(`cleft: ${e.message}`);
        process.exitCode = 1;
      } finally {
        db.close();
      }
    });
}
