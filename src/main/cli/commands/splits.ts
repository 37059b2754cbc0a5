// `cleft splits create|import|show|list|delete`: named train/val/test splits of the library's studies, by
// patient, that every training (`--split NAME`) uses.
import path from 'node:path';
import { Option, type Command } from 'commander';
import { DB_FILE_NAME, openDatabase, type Db } from '../../db/database';
import { resolveDataDir } from '../../data-dir';
import { SplitsRepo } from '../../db/splits-repo';
import { TasksRepo } from '../../db/tasks-repo';
import { createSplit, deleteSplit, describeReferences, importSplit } from '../../library/splits';
import { CleftError } from '../../../common/errors';
import type { SplitInfo } from '../../../common/splits';

/** Runs `fn` on the library; a CleftError (bad input, unknown name) is printed with exit code 1. */
async function withLibrary(dataDir: string | undefined, fn: (db: Db) => void | Promise<void>): Promise<void> {
  const db = openDatabase(path.join(resolveDataDir(dataDir), DB_FILE_NAME));
  try {
    await fn(db);
  } catch (e) {
    if (!(e instanceof CleftError)) throw e;
    console.error(`cleft splits: ${e.message}`);
    process.exitCode = 1;
  } finally {
    db.close();
  }
}

const counts = (s: SplitInfo) =>
  `train ${s.counts.train}, val ${s.counts.val}, test ${s.counts.test} studies of ${s.counts.patients} patients`;

function parseFractions(v: string): [number, number, number] {
  const parts = v.split(',').map((x) => Number(x.trim()));
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x) || x < 0 || x > 1))
    throw new CleftError(
      'invalid_input',
      `--fractions must be three numbers train,val,test between 0 and 1 (e.g. 0.7,0.1,0.2), got "${v}"`,
    );
  return parts as [number, number, number];
}

export function register(program: Command): void {
  const splits = program
    .command('splits')
    .description(
      'Named train/val/test splits of the library by patient: every training takes --split NAME (train on train, ' +
        'validate on val, never touch test) and refuses a split in which one patient sits in two parts',
    );
  const dataDir = '--data-dir <dir>';
  const dataDirHelp = 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)';

  splits
    .command('create')
    .description(
      "Split every study of the library into train/val/test, stratified by the task's label at the group level: grouped by " +
        'PatientID (a study without one is grouped by its StudyInstanceUID, and the output says so), or by study',
    )
    .argument('<name>', "the split's name (letters, digits, '.', '_', '-')")
    .requiredOption('--task <name>', 'the task whose labels stratify the split (e.g. "Breast density")')
    .addOption(
      new Option('--by <group>', 'group by patient (PatientID, else StudyInstanceUID) or by study')
        .choices(['patient', 'study'])
        .default('patient'),
    )
    .option('--fractions <train,val,test>', 'fractions of groups per part, summing to 1', '0.7,0.1,0.2')
    .option('--seed <s>', 'seed of the split', '0')
    .option(dataDir, dataDirHelp)
    .option('--json', 'print the split (as splits list --json) as JSON')
    .action((name: string, o: { task: string; by: string; fractions: string; seed: string; dataDir?: string; json?: boolean }) =>
      withLibrary(o.dataDir, (db) => {
        if (o.by !== 'patient' && o.by !== 'study') throw new CleftError('invalid_input', `--by must be patient or study, got "${o.by}"`);
        const seed = Number(o.seed);
        if (!Number.isInteger(seed)) throw new CleftError('invalid_input', `--seed must be an integer, got "${o.seed}"`);
        const tasks = new TasksRepo(db);
        tasks.seedBuiltins();
        const all = tasks.list();
        const task = all.find((t) => t.name.toLowerCase() === o.task.toLowerCase());
        if (!task)
          throw new CleftError('not_found', `no task named "${o.task}" (the library has: ${all.map((t) => `"${t.name}"`).join(', ')})`);
        const s = createSplit(db, { name, taskId: task.id, by: o.by, fractions: parseFractions(o.fractions), seed });
        if (o.json) console.log(JSON.stringify(s, null, 2));
        else {
          console.log(`Created split "${s.name}" by ${o.by} (seed ${seed}): ${counts(s)}; sha256 ${s.sha256}`);
          for (const n of s.notes) console.log(`  note: ${n}`);
        }
      }),
    );

  splits
    .command('import')
    .description(
      'Import an official split: a CSV or TSV (UTF-8, BOM or not, delimiter detected) or an XLSX (first sheet) with a column split = train, val or test ' +
        'and a key column found by name: StudyInstanceUID, AccessionNumber (accession, acc_anon) or PatientID (empi_anon). ' +
        'Rows matching no study are listed; a file with an invalid split value or a study put in two parts imports nothing. ' +
        'A patient with studies in two parts is warned about here and refused at training time.',
    )
    .argument('<file>', 'the split file (.csv, .tsv or .xlsx)')
    .argument('<name>', "the split's name (letters, digits, '.', '_', '-')")
    .option(dataDir, dataDirHelp)
    .option('--json', 'print the result (split, unmatched rows, patients in two parts, warnings) as JSON')
    .action((file: string, name: string, o: { dataDir?: string; json?: boolean }) =>
      withLibrary(o.dataDir, async (db) => {
        const r = await importSplit(db, file, name);
        if (o.json) console.log(JSON.stringify(r, null, 2));
        else {
          console.log(`Imported split "${r.split.name}": ${counts(r.split)}; sha256 ${r.split.sha256}`);
          for (const w of r.warnings) console.error(`warning: ${w}`);
          for (const u of r.unmatched.slice(0, 50)) console.log(`  line ${u.line} (${u.key}): ${u.reason}`);
          if (r.unmatched.length > 50) console.log(`  … and ${r.unmatched.length - 50} more (--json lists all)`);
        }
      }),
    );

  splits
    .command('show')
    .description('The StudyInstanceUIDs of each part: {"train": [...], "val": [...], "test": [...], "counts": {...}}')
    .argument('<name>', "the split's name")
    .option(dataDir, dataDirHelp)
    .option('--json', 'print as JSON')
    .action((name: string, o: { dataDir?: string; json?: boolean }) =>
      withLibrary(o.dataDir, (db) => {
        const s = new SplitsRepo(db).show(name);
        if (o.json) console.log(JSON.stringify(s, null, 2));
        else
          for (const part of ['train', 'val', 'test'] as const) {
            console.log(`${part} (${s[part].length} studies):`);
            for (const uid of s[part]) console.log(`  ${uid}`);
          }
      }),
    );

  splits
    .command('delete')
    .description(
      'Delete a split. Refused, naming them, while a run or job names it (the runs record its name), unless --force: ' +
        'the runs keep the StudyInstanceUIDs they trained and validated on',
    )
    .argument('<name>', "the split's name")
    .option('--force', 'delete even when runs or jobs name the split')
    .option(dataDir, dataDirHelp)
    .option('--json', 'print the result (the deleted split, the runs and jobs that named it) as JSON')
    .action((name: string, o: { force?: boolean; dataDir?: string; json?: boolean }) =>
      withLibrary(o.dataDir, (db) => {
        const r = deleteSplit(db, name, o.force ?? false);
        if (o.json) console.log(JSON.stringify(r, null, 2));
        else {
          console.log(`Deleted split "${r.deleted.name}" (${counts(r.deleted)})`);
          const refs = describeReferences(r.references);
          if (refs) console.log(`  it was named by ${refs}; those runs keep the studies they recorded`);
        }
      }),
    );

  splits
    .command('list')
    .description("The library's splits with their studies per part")
    .option(dataDir, dataDirHelp)
    .option('--json', 'print as JSON')
    .action((o: { dataDir?: string; json?: boolean }) =>
      withLibrary(o.dataDir, (db) => {
        const list = new SplitsRepo(db).list();
        if (o.json) console.log(JSON.stringify(list, null, 2));
        else if (list.length === 0) console.log('No splits yet: cleft splits create NAME --task T, or cleft splits import FILE NAME');
        else
          for (const s of list)
            console.log(`${s.name}  ${s.source}${s.task ? ` (${s.task})` : ''}  ${counts(s)}  sha256 ${s.sha256.slice(0, 12)}…`);
      }),
    );
}
