// `cleft pacs add|list|remove|test|query|store` as a user runs them, against real Orthanc servers
// (one open, one with basic auth) loaded with dcmtk-written 4-view exams.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveInfo, ArchiveStoreResult, ArchiveStudy, ArchiveTestResult } from '../../../../src/common/archives';
import { archiveSecretFile } from '../../../../src/main/archive/secret-store';
import { DB_FILE_NAME, openDatabase } from '../../../../src/main/db/database';
import { addArchive } from '../../../../src/main/archive/connections';
import { CLI, ROOT } from '../../../helpers/cli';
import { requireDump2dcm, writeFourViewExam, writeMgInstance } from '../../../helpers/dcmtk';
import { freePort, startOrthanc, type OrthancServer } from '../../../helpers/orthanc';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

const PASSWORD = 's3cret-Xq71-unique';
let open: OrthancServer;
let locked: OrthancServer;
let dataDir: string;
let exams: string;

function cleft(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args, '--data-dir', dataDir], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CLEFT_PACS_PASSWORD: '', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[], env: Record<string, string> = {}): string {
  const r = cleft(args, env);
  expect(r.stderr, `cleft ${args.join(' ')}`).toBe('');
  expect(r.status, `cleft ${args.join(' ')}`).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  requireDump2dcm();
  [open, locked] = await Promise.all([startOrthanc(), startOrthanc({ users: { alice: PASSWORD } })]);
  exams = tmpDir('cleft-exams-');
  const files = [1, 2, 3].flatMap((n) => writeFourViewExam(exams, n));
  await open.upload(files);
  await locked.upload(writeFourViewExam(exams, 4));
  dataDir = path.join(tmpDir(), 'library');
  // The archives every test uses, saved through the module (the first test saves others through the CLI).
  const db = openDatabase(path.join(dataDir, DB_FILE_NAME));
  addArchive(db, dataDir, { name: 'open', url: open.dicomWebUrl });
  addArchive(db, dataDir, { name: 'locked', url: locked.dicomWebUrl, auth: 'basic', user: 'alice', secret: PASSWORD });
  db.close();
}, 120_000);

afterAll(async () => {
  await Promise.all([open?.stop(), locked?.stop()]);
  removeTmpDirs();
});

describe('cleft pacs', { timeout: 120_000 }, () => {
  it('adds, lists and removes archives; the password sits in a 0600 file, not in SQLite nor in any output', () => {
    const pwFile = path.join(tmpDir(), 'pw.txt');
    fs.writeFileSync(pwFile, `${PASSWORD}\n`);
    const added = ok([
      'pacs',
      'add',
      'viafile',
      '--url',
      `${locked.dicomWebUrl}/`,
      '--auth',
      'basic',
      '--user',
      'alice',
      '--token-file',
      pwFile,
    ]);
    expect(added).toContain(`Saved archive "viafile": ${locked.dicomWebUrl}, basic auth as alice (password stored)`);
    ok(['pacs', 'add', 'env', '--url', locked.dicomWebUrl, '--auth', 'basic', '--user', 'alice'], { CLEFT_PACS_PASSWORD: PASSWORD });

    const secret = archiveSecretFile(dataDir, 'viafile');
    expect(fs.statSync(secret).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(secret)).mode & 0o777).toBe(0o700);
    expect(fs.readFileSync(secret, 'utf8')).toContain(PASSWORD);

    const listed = ok(['pacs', 'list']);
    expect(listed.split('\n')).toEqual([
      `env  ${locked.dicomWebUrl}  basic auth as alice (password stored)`,
      `locked  ${locked.dicomWebUrl}  basic auth as alice (password stored)`,
      `open  ${open.dicomWebUrl}  no auth`,
      `viafile  ${locked.dicomWebUrl}  basic auth as alice (password stored)`,
      '',
    ]);
    const json = ok(['pacs', 'list', '--json']);
    const infos = JSON.parse(json) as ArchiveInfo[];
    expect(infos.map((a) => [a.name, a.auth, a.user, a.hasSecret])).toEqual([
      ['env', 'basic', 'alice', true],
      ['locked', 'basic', 'alice', true],
      ['open', 'none', null, false],
      ['viafile', 'basic', 'alice', true],
    ]);
    for (const out of [added, listed, json]) expect(out).not.toContain(PASSWORD);
    const dbBytes = ['', '-wal', '-shm']
      .map((s) => path.join(dataDir, DB_FILE_NAME + s))
      .filter((f) => fs.existsSync(f))
      .map((f) => fs.readFileSync(f).toString('latin1'))
      .join('');
    expect(dbBytes).toContain(locked.dicomWebUrl);
    expect(dbBytes).not.toContain(PASSWORD);

    expect(ok(['pacs', 'remove', 'env'])).toBe('Removed archive "env" and its stored secret\n');
    expect(fs.existsSync(archiveSecretFile(dataDir, 'env'))).toBe(false);
    const gone = cleft(['pacs', 'remove', 'env']);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toBe('cleft pacs remove: no archive named "env" (saved archives: "locked", "open", "viafile")\n');
    const noPw = cleft(['pacs', 'add', 'nopw', '--url', locked.dicomWebUrl, '--auth', 'basic', '--user', 'alice']);
    expect(noPw.status).toBe(1);
    expect(noPw.stderr).toContain(
      'basic auth needs the password: --token-file FILE (a file holding it) or the environment variable CLEFT_PACS_PASSWORD',
    );
  });

  it('tests a live archive (QIDO, WADO, STOW answer) and a dead URL (not reachable, exit 1)', async () => {
    const live = JSON.parse(ok(['pacs', 'test', 'open', '--json'])) as ArchiveTestResult;
    expect(live).toMatchObject({ name: 'open', reachable: true, problem: null });
    expect([live.services.qido.answers, live.services.wado.answers, live.services.stow.answers]).toEqual([true, true, true]);
    expect(ok(['pacs', 'test', 'locked'])).toMatch(/^locked {2}\S+: reachable\n {2}QIDO-RS {2}answers/);
    const before = await open.rest<string[]>('/instances');
    expect(before).toHaveLength(12); // the STOW probe stored nothing

    const port = await freePort();
    ok(['pacs', 'add', 'dead', '--url', `http://127.0.0.1:${port}/dicom-web`]);
    const dead = cleft(['pacs', 'test', 'dead']);
    expect(dead.status).toBe(1);
    expect(dead.stdout).toContain(
      `dead  http://127.0.0.1:${port}/dicom-web: NOT reachable: archive "dead": GET /studies?limit=1: connection refused by http://127.0.0.1:${port}`,
    );
  });

  it('queries by patient and by date range, and says which studies the library holds', () => {
    expect(cleft(['import', path.join(exams, 'exam1')]).status).toBe(0); // progress on stderr
    const byPatient = JSON.parse(ok(['pacs', 'query', 'open', '--patient-id', 'P2', '--json'])) as ArchiveStudy[];
    expect(byPatient).toEqual([
      {
        studyUid: '1.2.826.0.1.3680043.9.7777.2',
        patientId: 'P2',
        patientName: 'Doe^Jane',
        studyDate: '20240112',
        accession: 'A2',
        description: null,
        modalities: ['MG'],
        series: 1,
        images: 4,
        inLibrary: false,
        libraryImages: 0,
      },
    ]);
    const byDate = JSON.parse(
      ok(['pacs', 'query', 'open', '--study-date', '20240111-20240112', '--modality', 'MG', '--json']),
    ) as ArchiveStudy[];
    expect(byDate.map((s) => [s.patientId, s.studyDate, s.inLibrary, s.libraryImages]).sort()).toEqual([
      ['P1', '20240111', true, 4],
      ['P2', '20240112', false, 0],
    ]);
    const table = ok(['pacs', 'query', 'open', '--study-date', '20240113-']);
    expect(table.split('\n')[0]).toMatch(/^patient\s+date\s+accession\s+description\s+images\s+in library\s+StudyInstanceUID$/);
    expect(table).toMatch(/P3 \(Doe\^Jane\)\s+2024-01-13\s+A3\s+-\s+4\s+no\s+1\.2\.826\.0\.1\.3680043\.9\.7777\.3\n1 study\n$/);
    const bad = cleft(['pacs', 'query', 'open', '--study-date', '2024-01-01']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('--study-date "2024-01-01": not a date range');
  });

  it('passes basic auth with the right password and says "credentials refused" for a wrong one', () => {
    const right = JSON.parse(ok(['pacs', 'query', 'locked', '--patient-id', 'P4', '--json'])) as ArchiveStudy[];
    expect(right.map((s) => s.accession)).toEqual(['A4']);
    const wrongFile = path.join(tmpDir(), 'wrong.txt');
    fs.writeFileSync(wrongFile, 'not-the-password');
    ok(['pacs', 'add', 'wrong', '--url', locked.dicomWebUrl, '--auth', 'basic', '--user', 'alice', '--token-file', wrongFile]);
    const refused = cleft(['pacs', 'query', 'wrong', '--patient-id', 'P4']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toBe(
      'cleft pacs query: archive "wrong": GET /studies?PatientID=P4&limit=100&includefield=00081030&includefield=00080061&includefield=00201206&includefield=00201208: ' +
        "credentials refused (HTTP 401): check the archive's user and password or token\n",
    );
    expect(refused.stderr + refused.stdout).not.toContain('not-the-password');
    const test = cleft(['pacs', 'test', 'wrong', '--json']);
    expect(test.status).toBe(1);
    expect((JSON.parse(test.stdout) as ArchiveTestResult).problem).toContain('credentials refused (HTTP 401)');
  });

  it('stores a file over STOW-RS (then Orthanc holds it) and refuses a non-DICOM file with the reason', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'new.dcm');
    writeMgInstance(file, {
      sopInstanceUid: '1.2.826.0.1.3680043.9.7777.9.1.1',
      studyUid: '1.2.826.0.1.3680043.9.7777.9',
      seriesUid: '1.2.826.0.1.3680043.9.7777.9.1',
      patientId: 'P9',
    });
    const junk = path.join(dir, 'notes.txt');
    fs.writeFileSync(junk, 'not a DICOM file');
    const r = cleft(['pacs', 'store', 'locked', file, junk, '--json']);
    expect(r.status).toBe(1); // one refused
    const results = JSON.parse(r.stdout) as ArchiveStoreResult[];
    expect(results).toEqual([
      { file, sopInstanceUid: '1.2.826.0.1.3680043.9.7777.9.1.1', status: 'stored', reason: null },
      { file: junk, sopInstanceUid: null, status: 'refused', reason: 'not sent: not a DICOM Part 10 file (no DICM preamble)' },
    ]);
    const found = await locked.rest<{ MainDicomTags: { SOPInstanceUID: string } }[]>('/instances?expand');
    expect(found.map((i) => i.MainDicomTags.SOPInstanceUID)).toContain('1.2.826.0.1.3680043.9.7777.9.1.1');
    expect(ok(['pacs', 'store', 'locked', file])).toBe(`stored   ${file}\n1 of 1 stored in "locked"\n`);
  });
});
