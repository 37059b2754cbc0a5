// `cleft sr export RUN [--study UID...] --output DIR`: a classification run's results as DICOM
// Structured Reports, one per study (docs/sr.md), the same code as the `sr.export` method.
import path from 'node:path';
import type { Command } from 'commander';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { resolveDataDir } from '../../data-dir';
import { exportRunSrs } from '../../sr/export-sr';
import { num } from './train';

export function register(program: Command): void {
  const sr = program.command('sr').description('Classification results as DICOM Structured Reports');
  sr.command('export <run>')
    .description(
      'One Comprehensive SR per study of a classification run: per breast and per exam the predicted class and the probability ' +
        'of every class, the model (bundle name, sha256), prompt set, run id, device and time, references to the classified ' +
        'images, and a statement that it is a research result, not a diagnosis (docs/sr.md)',
    )
    .requiredOption('--output <dir>', 'the folder to write the .dcm files into (created if needed)')
    .option('--study <uid...>', 'only these studies (StudyInstanceUIDs; each must have predictions in the run)')
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .option('--json', 'print the files written (and the studies that failed) as JSON')
    .action((run: string, opts: { output: string; study?: string[]; dataDir?: string; json?: boolean }) => {
      const runId = num(run, 'RUN', { int: true, min: 1 })!;
      const db = openDatabase(path.join(resolveDataDir(opts.dataDir), DB_FILE_NAME));
      try {
        const r = exportRunSrs(db, { runId, studyUids: opts.study, outputDir: opts.output });
        if (opts.json) console.log(JSON.stringify(r, null, 2));
        else {
          for (const f of r.files) console.log(`${f.studyUid}  ${f.file}`);
          console.log(`${r.files.length} structured report${r.files.length === 1 ? '' : 's'} of run #${runId} written to ${opts.output}`);
        }
        for (const w of r.warnings) console.error(`cleft: study ${w.studyUid}: ${w.message}`);
        for (const f of r.failed) console.error(`cleft: study ${f.studyUid}: no report: ${f.reason}`);
        if (r.failed.length) process.exitCode = 1;
      } finally {
        db.close();
      }
    });
}
