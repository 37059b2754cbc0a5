// `cleft pacs retrieve NAME --study UID... [--only-for-presentation]`: studies from a saved archive
// into the library as a `pacs-retrieve` job (WADO-RS, original transfer syntax), with a progress bar;
// Ctrl-C cancels cleanly and `cleft jobs resume ID` goes on where it stopped.
import type { Command } from 'commander';
import { isJobOf, PacsRetrieveParams } from '../../../common/jobs';
import { CleftError } from '../../../common/errors';
import { resolveArchive } from '../../archive/connections';
import { resolveDataDir } from '../../data-dir';
import { openCliJobHost, runJobInTerminal } from '../run-job';

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** Adds `retrieve` to the `pacs` command. */
export function register(pacs: Command): void {
  pacs
    .command('retrieve')
    .description('Retrieve studies from a saved archive into the library (WADO-RS, in the syntax the archive holds them)')
    .argument('<name>', 'a saved archive (cleft pacs list)')
    .requiredOption('--study <uid...>', 'StudyInstanceUID(s) to retrieve')
    .option('--only-for-presentation', 'leave out FOR PROCESSING images')
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .option('--json', 'print the job, its result or error as JSON')
    .action(async (name: string, opts: { study: string[]; onlyForPresentation?: boolean; dataDir?: string; json?: boolean }) => {
      const parsed = PacsRetrieveParams.safeParse({
        archive: name,
        studies: opts.study,
        onlyForPresentation: opts.onlyForPresentation === true,
      });
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const at = issue.path.join('.');
        const value = issue.path[0] === 'studies' && typeof issue.path[1] === 'number' ? ` ("${opts.study[issue.path[1]]}")` : '';
        console.error(`cleft pacs retrieve: ${at === 'archive' ? 'NAME' : at === '' ? 'input' : `--study${value}`}: ${issue.message}`);
        process.exitCode = 1;
        return;
      }
      const dataDir = resolveDataDir(opts.dataDir);
      const host = openCliJobHost(dataDir, 'cleft pacs retrieve');
      try {
        try {
          resolveArchive(host.db, dataDir, name); // an unknown archive: said now, no job queued
        } catch (e) {
          if (!(e instanceof CleftError)) throw e;
          console.error(`cleft pacs retrieve: ${e.message}`);
          process.exitCode = 1;
          return;
        }
        const job = await runJobInTerminal(host, () => host.jobs.enqueue({ kind: 'pacs-retrieve', params: parsed.data }));
        const r = job.status === 'done' && isJobOf(job, 'pacs-retrieve') ? job.result : null;
        if (opts.json) console.log(JSON.stringify({ jobId: job.id, status: job.status, result: r, error: job.error }, null, 2));
        else if (r) {
          for (const s of r.studies)
            console.log(
              `${s.studyUid}: ${s.fetched} fetched, ${s.alreadyStored} already in the library` +
                (s.skippedForProcessing ? `, ${s.skippedForProcessing} FOR PROCESSING left out` : '') +
                ` (${s.instances} on the archive, ${mb(s.bytes)})`,
            );
          console.log(
            `Retrieved ${r.studies.length} stud${r.studies.length === 1 ? 'y' : 'ies'} from "${r.archive}": ${r.fetched} instances, ` +
              `${mb(r.bytes)} in ${r.seconds.toFixed(1)} s (${r.imagesPerSecond} images/s, ${r.megabytesPerSecond} MB/s).`,
          );
        } else {
          console.error(`Retrieve ${job.status}${job.error ? `: ${job.error}` : ''}`);
          console.error(`Everything stored so far is kept; resume with: cleft jobs resume ${job.id}`);
        }
        if (job.status !== 'done') process.exitCode = job.status === 'cancelled' ? 130 : 1;
      } finally {
        host.close();
      }
    });
}
