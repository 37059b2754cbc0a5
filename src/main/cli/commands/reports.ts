// `cleft reports import FILE`: study reports into the library (image-report pairs for contrastive
// LoRA training), from a CSV or .txt files beside the studies' DICOM files; unmatched rows are listed.
import path from 'node:path';
import type { Command } from 'commander';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { resolveDataDir } from '../../data-dir';
import { importReports } from '../../library/report-import';
import { CleftError } from '../../../common/errors';

export function register(program: Command): void {
  const reports = program.command('reports').description('Study reports (image-report pairs for contrastive LoRA training)');
  reports
    .command('import')
    .description(
      'Import reports for studies already in the library: a CSV with a study key column (accession, study_uid or ' +
        'StudyInstanceUID) and a report (or text) column, quoted fields may span lines; or a .txt report beside a ' +
        "study's DICOM files (or named after its accession / StudyInstanceUID), or a folder searched for .txt files. " +
        "A study's report replaces its earlier one.",
    )
    .argument('<file>', 'a .csv or .txt file, or a folder of .txt reports')
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .option('--json', 'print the result (matched, unmatched rows with file, row, key, reason) as JSON')
    .action((file: string, opts: { dataDir?: string; json?: boolean }) => {
      const db = openDatabase(path.join(resolveDataDir(opts.dataDir), DB_FILE_NAME));
      try {
        const r = importReports(db, file);
        if (opts.json) console.log(JSON.stringify(r, null, 2));
        else {
          console.log(`Imported ${r.matched} report(s) from ${r.file}; ${r.unmatched.length} not matched.`);
          for (const u of r.unmatched.slice(0, 200))
            console.log(`  ${u.file}${u.row ? `:${u.row}` : ''}${u.key ? ` (${u.key})` : ''}: ${u.reason}`);
          if (r.unmatched.length > 200) console.log(`  … and ${r.unmatched.length - 200} more (--json lists all)`);
        }
      } catch (e) {
        if (!(e instanceof CleftError)) throw e;
        console.error(e.message);
        process.exitCode = 1;
      } finally {
        db.close();
      }
    });
}
