// `cleft import DIR...`: index DICOM files into the library, with progress, a summary and the
// list of skipped or refused files.
import type { Command } from 'commander';
import { LibraryRepo } from '../../db/library-repo';
import { openCliJobHost, runJobInTerminal } from '../run-job';
import { isJobOf } from '../../../common/jobs';

export function register(program: Command): void {
  program
    .command('import')
    .description('Import DICOM files, folders (recursively) or DICOMDIRs into the library')
    .argument('<paths...>', 'files, folders or DICOMDIR files')
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .option('--json', 'print the summary and problems as JSON')
    .action(async (paths: string[], opts: { dataDir?: string; json?: boolean }) => {
      const host = openCliJobHost(opts.dataDir, 'cleft import');
      try {
        const job = await runJobInTerminal(host, () => host.jobs.enqueue({ kind: 'import', params: { paths } }));
        const problems = new LibraryRepo(host.db).problems(job.id, 1000, 0);
        if (opts.json) {
          console.log(JSON.stringify({ status: job.status, result: job.result, error: job.error, problems: problems.rows }, null, 2));
        } else {
          const r = job.status === 'done' && isJobOf(job, 'import') ? job.result : null;
          if (r) {
            console.log(
              `Imported ${r.imported} new and ${r.updated} updated instances in ${r.studies} studies ` +
                `(${r.unchanged} unchanged, ${r.duplicates} duplicates, ${r.refused} refused, ${r.skipped} skipped) ` +
                `from ${r.scanned} files in ${r.seconds.toFixed(1)} s.`,
            );
            for (const d of r.duplicateFiles ?? [])
              console.log(`Duplicate SOPInstanceUID: kept ${d.kept}; skipped ${d.skipped.join(', ')}`);
          } else console.error(`Import ${job.status}${job.error ? `: ${job.error}` : ''}. Everything indexed before that is kept.`);
          if (problems.total > 0) {
            console.log(`\n${problems.total} file(s) not imported:`);
            for (const p of problems.rows) console.log(`  ${p.filePath}\n      ${p.kind}: ${p.reason}`);
            if (problems.total > problems.rows.length) console.log(`  … and ${problems.total - problems.rows.length} more`);
          }
        }
        if (job.status !== 'done') process.exitCode = job.status === 'cancelled' ? 130 : 1;
      } finally {
        host.close();
      }
    });
}
