// `cleft pacs add|list|remove|test|query|store`: saved DICOMweb archives (QIDO-RS, WADO-RS,
// STOW-RS) from the command line, through the same archive/ modules as the app's Archive page.
// Passwords and tokens come from a file or an environment variable, never from the command line
// (it shows in `ps` and shell history), and are never printed.
import fs from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import type { ArchiveAuthKind, ArchiveInfo, ArchiveStudy, ArchiveTestResult } from '../../../common/archives';
import { CleftError } from '../../../common/errors';
import { addArchive, isCleartextRemote, listArchives, removeArchive, resolveArchive } from '../../archive/connections';
import { queryStudies, parseStudyDateRange } from '../../archive/qido';
import { testArchive } from '../../archive/probe';
import { storeFiles } from '../../archive/stow';
import { archiveSecretFile } from '../../archive/secret-store';
import { resolveDataDir } from '../../data-dir';
import { DB_FILE_NAME, openDatabase, type Db } from '../../db/database';
import * as pacsRetrieve from './pacs-retrieve';

export const DATA_DIR_FLAG = '--data-dir <dir>';
export const DATA_DIR_HELP = 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)';
export const PASSWORD_ENV = 'CLEFT_PACS_PASSWORD';
export const TOKEN_ENV = 'CLEFT_PACS_TOKEN';

/**
 * Runs `fn` on the library; a CleftError (unknown archive, bad input, an archive's refusal) is
 * printed as "cleft pacs SUB: message" with exit code 1. For every `pacs` subcommand, including
 * those other files add (pacs-retrieve.ts).
 */
export async function withArchiveLibrary(
  sub: string,
  dataDirFlag: string | undefined,
  fn: (db: Db, dataDir: string) => unknown,
): Promise<void> {
  const dataDir = resolveDataDir(dataDirFlag);
  const db = openDatabase(path.join(dataDir, DB_FILE_NAME));
  try {
    await fn(db, dataDir);
  } catch (e) {
    if (!(e instanceof CleftError)) throw e;
    console.error(`cleft pacs ${sub}: ${e.message}`);
    process.exitCode = 1;
  } finally {
    db.close();
  }
}

/** The `pacs` command (created once; other files add subcommands to what this returns). */
export function pacsCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'pacs') ??
    program
      .command('pacs')
      .description(
        'Your archive over DICOMweb: saved connections (add, list, remove, test), QIDO-RS search (query), WADO-RS download into the library (retrieve), STOW-RS upload (store). ' +
          'Only the URL you save is ever contacted.',
      )
  );
}

/** The password or token: the file's content (one line; a final newline is dropped), else the environment variable. */
function readSecret(kind: 'basic' | 'bearer', tokenFile: string | undefined): string {
  const env = kind === 'basic' ? PASSWORD_ENV : TOKEN_ENV;
  const what = kind === 'basic' ? 'password' : 'token';
  if (tokenFile !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(tokenFile, 'utf8');
    } catch (e) {
      throw new CleftError('invalid_input', `cannot read --token-file ${tokenFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    const secret = text.replace(/\r?\n$/, '');
    if (secret === '') throw new CleftError('invalid_input', `--token-file ${tokenFile} is empty: it must hold the ${what}`);
    if (/[\r\n]/.test(secret)) throw new CleftError('invalid_input', `--token-file ${tokenFile} must hold the ${what} on one line`);
    return secret;
  }
  const fromEnv = process.env[env];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  throw new CleftError(
    'invalid_input',
    `${kind} auth needs the ${what}: --token-file FILE (a file holding it) or the environment variable ${env}`,
  );
}

function authLine(a: ArchiveInfo): string {
  if (a.auth === 'none') return 'no auth';
  const secret = a.hasSecret ? `${a.auth === 'basic' ? 'password' : 'token'} stored` : 'SECRET MISSING';
  return a.auth === 'basic' ? `basic auth as ${a.user ?? '?'} (${secret})` : `bearer token (${secret})`;
}

function checkLine(label: string, s: ArchiveTestResult['services']['qido']): string {
  const verdict = s.answers === true ? 'answers' : s.answers === false ? 'does not answer' : 'unknown';
  return `  ${label.padEnd(8)} ${verdict.padEnd(16)} ${s.detail}`;
}

const dash = (v: string | number | null): string => (v === null || v === '' ? '-' : String(v));
const fmtDate = (d: string | null): string => (d && /^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}` : dash(d));

function studyTable(studies: ArchiveStudy[]): string[] {
  const rows = studies.map((s) => [
    dash(s.patientId) + (s.patientName ? ` (${s.patientName})` : ''),
    fmtDate(s.studyDate),
    dash(s.accession),
    dash(s.description),
    dash(s.images),
    s.inLibrary ? (s.images !== null && s.libraryImages < s.images ? `partly (${s.libraryImages})` : 'yes') : 'no',
    s.studyUid,
  ]);
  const head = ['patient', 'date', 'accession', 'description', 'images', 'in library', 'StudyInstanceUID'];
  const widths = head.map((h, i) => Math.min(40, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : (c.length > widths[i]! ? `${c.slice(0, widths[i]! - 1)}…` : c).padEnd(widths[i]!)))
      .join('  ');
  return [fmt(head), ...rows.map(fmt)];
}

function num(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CleftError('invalid_input', `${flag} must be a whole number ≥ 1, got "${v}"`);
  return n;
}

/** add, list, remove, test, query, store. */
function registerCore(pacs: Command): void {
  pacs
    .command('add')
    .description(
      `Save an archive: its DICOMweb root URL (e.g. https://pacs.example.org/dicom-web) and how to log in. The password (basic) ` +
        `or token (bearer) is read from --token-file or from $${PASSWORD_ENV} / $${TOKEN_ENV}, stored outside the library ` +
        'database in secrets/ (file 0600), and never printed',
    )
    .argument('<name>', "the archive's name (letters, digits, '.', '_', '-')")
    .requiredOption('--url <url>', 'the DICOMweb root URL (http:// or https://; no credentials in it)')
    .addOption(
      new Option('--auth <kind>', 'none, basic (user + password) or bearer (token)').choices(['none', 'basic', 'bearer']).default('none'),
    )
    .option('--user <user>', 'the basic-auth user')
    .option('--token-file <file>', 'a file holding the password (basic) or token (bearer) on one line')
    .option(DATA_DIR_FLAG, DATA_DIR_HELP)
    .option('--json', 'print the saved archive (without its secret) as JSON')
    .action(
      (name: string, o: { url: string; auth: ArchiveAuthKind; user?: string; tokenFile?: string; dataDir?: string; json?: boolean }) =>
        withArchiveLibrary('add', o.dataDir, (db, dataDir) => {
          if (o.auth === 'none' && o.tokenFile !== undefined)
            throw new CleftError('invalid_input', '--token-file needs --auth basic or bearer');
          if (o.auth === 'basic' && o.user === undefined) throw new CleftError('invalid_input', '--auth basic needs --user');
          const secret = o.auth === 'none' ? undefined : readSecret(o.auth, o.tokenFile);
          const info = addArchive(db, dataDir, {
            name,
            url: o.url,
            auth: o.auth,
            ...(o.user !== undefined ? { user: o.user } : {}),
            ...(secret ? { secret } : {}),
          });
          if (o.auth !== 'none' && isCleartextRemote(info.url))
            console.error(
              `warning: ${info.url} is plain http to another machine: the ${o.auth === 'basic' ? 'password' : 'token'} and the images would cross the network unencrypted; use https://`,
            );
          if (o.json) console.log(JSON.stringify(info, null, 2));
          else
            console.log(
              `Saved archive "${info.name}": ${info.url}, ${authLine(info)}${info.hasSecret ? ` in ${archiveSecretFile(dataDir, info.name)}` : ''}`,
            );
        }),
    );

  pacs
    .command('list')
    .description('The saved archives: name, URL, auth (never the secret)')
    .option(DATA_DIR_FLAG, DATA_DIR_HELP)
    .option('--json', 'print as JSON')
    .action((o: { dataDir?: string; json?: boolean }) =>
      withArchiveLibrary('list', o.dataDir, (db, dataDir) => {
        const list = listArchives(db, dataDir);
        if (o.json) console.log(JSON.stringify(list, null, 2));
        else if (list.length === 0) console.log('No archives saved: cleft pacs add NAME --url URL');
        else for (const a of list) console.log(`${a.name}  ${a.url}  ${authLine(a)}`);
      }),
    );

  pacs
    .command('remove')
    .description('Forget an archive and delete its stored secret (nothing on the archive changes)')
    .argument('<name>', "the archive's name")
    .option(DATA_DIR_FLAG, DATA_DIR_HELP)
    .option('--json', 'print {"removed": NAME} as JSON')
    .action((name: string, o: { dataDir?: string; json?: boolean }) =>
      withArchiveLibrary('remove', o.dataDir, (db, dataDir) => {
        removeArchive(db, dataDir, name);
        console.log(o.json ? JSON.stringify({ removed: name }) : `Removed archive "${name}" and its stored secret`);
      }),
    );

  pacs
    .command('test')
    .description(
      'Is the archive reachable, are the credentials accepted, which services answer: QIDO-RS (a search for one study), ' +
        'WADO-RS (that study’s metadata, headers only) and STOW-RS (a POST of a type no archive stores: nothing is written). Exit code 1 if unreachable or refused',
    )
    .argument('<name>', "the archive's name")
    .option('--timeout <s>', 'seconds without an answer before giving up', '15')
    .option(DATA_DIR_FLAG, DATA_DIR_HELP)
    .option('--json', 'print the result as JSON')
    .action((name: string, o: { timeout: string; dataDir?: string; json?: boolean }) =>
      withArchiveLibrary('test', o.dataDir, async (db, dataDir) => {
        const conn = resolveArchive(db, dataDir, name);
        const r = await testArchive(conn, { timeoutMs: num('--timeout', o.timeout) * 1000 });
        if (o.json) console.log(JSON.stringify(r, null, 2));
        else {
          console.log(`${r.name}  ${r.url}: ${r.reachable ? 'reachable' : 'NOT reachable'}${r.problem ? `: ${r.problem}` : ''}`);
          console.log(checkLine('QIDO-RS', r.services.qido));
          console.log(checkLine('WADO-RS', r.services.wado));
          console.log(checkLine('STOW-RS', r.services.stow));
        }
        if (!r.reachable || r.problem !== null) process.exitCode = 1;
      }),
    );

  pacs
    .command('query')
    .description(
      'Search the archive’s studies (QIDO-RS): patient, date, accession, description, number of images, and whether the library ' +
        'already holds each (by StudyInstanceUID)',
    )
    .argument('<name>', "the archive's name")
    .option('--patient-id <id>', 'PatientID (QIDO wildcards * and ? allowed)')
    .option('--accession <a>', 'AccessionNumber')
    .option('--study-date <from-to>', 'YYYYMMDD-YYYYMMDD, YYYYMMDD- (from), -YYYYMMDD (until) or YYYYMMDD')
    .option('--modality <m>', 'a modality in the study, e.g. MG')
    .option('--limit <n>', 'at most this many studies', '100')
    .option('--timeout <s>', 'seconds without an answer before giving up', '30')
    .option(DATA_DIR_FLAG, DATA_DIR_HELP)
    .option('--json', 'print the studies as JSON')
    .action(
      (
        name: string,
        o: {
          patientId?: string;
          accession?: string;
          studyDate?: string;
          modality?: string;
          limit: string;
          timeout: string;
          dataDir?: string;
          json?: boolean;
        },
      ) =>
        withArchiveLibrary('query', o.dataDir, async (db, dataDir) => {
          const limit = num('--limit', o.limit);
          const dates = o.studyDate !== undefined ? parseStudyDateRange(o.studyDate) : {};
          const conn = resolveArchive(db, dataDir, name);
          const studies = await queryStudies(
            db,
            conn,
            {
              ...(o.patientId !== undefined ? { patientId: o.patientId } : {}),
              ...(o.accession !== undefined ? { accession: o.accession } : {}),
              ...(o.modality !== undefined ? { modality: o.modality.toUpperCase() } : {}),
              ...dates,
              limit,
            },
            { timeoutMs: num('--timeout', o.timeout) * 1000 },
          );
          if (o.json) console.log(JSON.stringify(studies, null, 2));
          else if (studies.length === 0) console.log(`No study in "${conn.name}" matches`);
          else {
            for (const l of studyTable(studies)) console.log(l);
            console.log(
              `${studies.length} ${studies.length === 1 ? 'study' : 'studies'}${studies.length === limit ? ` (the --limit; there may be more)` : ''}`,
            );
          }
        }),
    );

  pacs
    .command('store')
    .description(
      'Send DICOM files to the archive (STOW-RS, one request per file): each is stored, or refused with the archive’s reason. ' +
        'Exit code 1 if any file was refused',
    )
    .argument('<name>', "the archive's name")
    .argument('<files...>', 'DICOM Part 10 files')
    .option('--timeout <s>', 'seconds without an answer before giving up', '60')
    .option(DATA_DIR_FLAG, DATA_DIR_HELP)
    .option('--json', 'print the per-file results as JSON')
    .action((name: string, files: string[], o: { timeout: string; dataDir?: string; json?: boolean }) =>
      withArchiveLibrary('store', o.dataDir, async (db, dataDir) => {
        const conn = resolveArchive(db, dataDir, name);
        const results = await storeFiles(conn, files, { timeoutMs: num('--timeout', o.timeout) * 1000 }, (r) => {
          if (!o.json)
            console.log(
              r.status === 'stored' ? `stored   ${r.file}${r.reason ? ` (${r.reason})` : ''}` : `refused  ${r.file}: ${r.reason ?? ''}`,
            );
        });
        if (o.json) console.log(JSON.stringify(results, null, 2));
        else console.log(`${results.filter((r) => r.status === 'stored').length} of ${results.length} stored in "${conn.name}"`);
        if (results.some((r) => r.status === 'refused')) process.exitCode = 1;
      }),
    );
}

export function register(program: Command): void {
  const pacs = pacsCommand(program);
  registerCore(pacs);
  // More `pacs` subcommands register here from their own files, each exporting register(pacs):
  pacsRetrieve.register(pacs); // src/main/cli/commands/pacs-retrieve.ts (`cleft pacs retrieve`)
}
