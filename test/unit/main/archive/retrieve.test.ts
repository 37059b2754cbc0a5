// The retrieve core against a real Orthanc (and, for broken answers, tiny local HTTP servers): a
// 4-view exam lands in the library indexed exactly as a folder import indexes the same files, in the
// transfer syntax it was uploaded in; FOR PROCESSING instances are left out on request; a second run
// fetches nothing; basic auth; a server killed after the first stored instance fails its studies with
// a message naming them and leaves no temp file, and a server restarted on the same storage lets the
// rerun complete; 401, 404, a timeout, a malformed multipart body and an unparsable instance are
// per-study errors while the other studies are retrieved.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveConnection } from '../../../../src/main/archive/connections';
import { retrieveStudies, studyFolder, type RetrieveOptions, type StoredInstance } from '../../../../src/main/archive/retrieve';
import { DB_FILE_NAME, openDatabase, type Db } from '../../../../src/main/db/database';
import { readDicomHeader } from '../../../../src/main/dicom/header';
import { indexFiles } from '../../../../src/main/library/index-files';
import { LibraryWriter } from '../../../../src/main/library/library-writer';
import { requireDump2dcm, writeFourViewExam, writeMgInstance } from '../../../helpers/dcmtk';
import { startOrthanc, type OrthancServer } from '../../../helpers/orthanc';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

const J2K_LOSSLESS = '1.2.840.10008.1.2.4.90';
const JPEG_LS_LOSSLESS = '1.2.840.10008.1.2.4.80';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

const servers: OrthancServer[] = [];
const httpServers: http.Server[] = [];
const dbs: Db[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const s of httpServers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  for (const d of dbs) d.close();
  removeTmpDirs();
});

function library(): { db: Db; dataDir: string } {
  const dataDir = tmpDir('cleft-lib-');
  const db = openDatabase(path.join(dataDir, DB_FILE_NAME));
  dbs.push(db);
  return { db, dataDir };
}

function conn(url: string, auth: ArchiveConnection['auth'] = { kind: 'none' }): ArchiveConnection {
  return { name: 'test-pacs', url, auth };
}

function options(
  lib: { db: Db; dataDir: string },
  c: ArchiveConnection,
  studies: string[],
  extra: Partial<RetrieveOptions> = {},
): RetrieveOptions {
  return { ...lib, conn: c, studies, onlyForPresentation: false, jobId: null, signal: new AbortController().signal, ...extra };
}

/** Every file under `dir` (relative paths), to show nothing half-written stays. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

/** The library's rows for a study, without what depends on where the files lie. */
function indexRows(db: Db): unknown[] {
  return db
    .prepare(
      `SELECT p.patient_id, p.patient_name, s.study_uid, s.study_date, s.accession, s.description, se.series_uid, se.modality,
              i.sop_instance_uid, i.sop_class_uid, i.file_size, i.transfer_syntax_uid, i.modality AS im, i.presentation_intent,
              i.laterality, i.view_position, i.rows, i.columns, i.bits_allocated, i.bits_stored, i.photometric, i.number_of_frames
         FROM instances i JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = se.study_ref JOIN patients p ON p.id = s.patient_ref
        ORDER BY i.sop_instance_uid`,
    )
    .all();
}

/** Re-encodes `file` into a compressed transfer syntax with dcmtk/gdcm (tools that are not ours). */
function compress(file: string, syntax: 'j2k' | 'jls'): void {
  const out = `${file}.c`;
  if (syntax === 'j2k') execFileSync('gdcmconv', ['--j2k', file, out]);
  else execFileSync('dcmcjpls', ['--encode-lossless', file, out]);
  fs.renameSync(out, file);
}

let orthanc: OrthancServer;
const exam1: string[] = [];
const mixed: string[] = [];

beforeAll(async () => {
  requireDump2dcm();
  orthanc = await startOrthanc();
  servers.push(orthanc);
  const dir = tmpDir();
  exam1.push(...writeFourViewExam(dir, 1));
  // Exam 2: two views in JPEG 2000, one in JPEG-LS, and a FOR PROCESSING view.
  mixed.push(...writeFourViewExam(dir, 2));
  compress(mixed[0]!, 'j2k');
  compress(mixed[1]!, 'j2k');
  compress(mixed[2]!, 'jls');
  const forProcessing = path.join(dir, 'exam2', 'IM5');
  writeMgInstance(forProcessing, {
    sopInstanceUid: '1.2.826.0.1.3680043.9.7777.2.1.5',
    studyUid: '1.2.826.0.1.3680043.9.7777.2',
    seriesUid: '1.2.826.0.1.3680043.9.7777.2.2',
    patientId: 'P2',
    intent: 'FOR PROCESSING',
  });
  mixed.push(forProcessing);
  await orthanc.upload([...exam1, ...mixed]);
});

describe('retrieve from a DICOMweb archive', () => {
  it('stores a 4-view exam indexed exactly as a folder import of the same files', async () => {
    const lib = library();
    const stored: StoredInstance[] = [];
    const summary = await retrieveStudies(
      options(lib, conn(orthanc.dicomWebUrl), ['1.2.826.0.1.3680043.9.7777.1'], { onStored: (s) => void stored.push(s) }),
    );
    expect(summary.studies).toEqual([
      expect.objectContaining({
        studyUid: '1.2.826.0.1.3680043.9.7777.1',
        status: 'done',
        instances: 4,
        fetched: 4,
        alreadyStored: 0,
        error: null,
      }),
    ]);
    const folder = studyFolder(lib.dataDir, 'test-pacs', '1.2.826.0.1.3680043.9.7777.1');
    expect(filesUnder(folder)).toEqual([1, 2, 3, 4].map((i) => `1.2.826.0.1.3680043.9.7777.1.1/1.2.826.0.1.3680043.9.7777.1.1.${i}.dcm`));
    expect(stored.map((s) => s.transferSyntax)).toEqual([EXPLICIT_LE, EXPLICIT_LE, EXPLICIT_LE, EXPLICIT_LE]);

    const folderLib = library();
    const scanned = exam1.map((f) => ({ file: f, size: fs.statSync(f).size, mtimeMs: fs.statSync(f).mtimeMs }));
    await indexFiles(new LibraryWriter(folderLib.db), null, scanned);
    expect(indexRows(lib.db)).toEqual(indexRows(folderLib.db));
    expect(indexRows(lib.db)).toHaveLength(4);
    // The files are the uploaded DICOM objects (Orthanc keeps what it received).
    for (const f of exam1) {
      const uid = (await readDicomHeader(f)).sopInstanceUID!;
      expect(fs.readFileSync(path.join(folder, '1.2.826.0.1.3680043.9.7777.1.1', `${uid}.dcm`))).toEqual(fs.readFileSync(f));
    }

    // Resume: everything is stored, nothing is fetched again.
    const again = await retrieveStudies(options(lib, conn(orthanc.dicomWebUrl), ['1.2.826.0.1.3680043.9.7777.1']));
    expect(again.studies[0]).toMatchObject({ status: 'done', fetched: 0, alreadyStored: 4 });
    expect(again.bytes).toBe(0);
  });

  it('keeps each instance in the transfer syntax it was uploaded in, and leaves FOR PROCESSING out on request', async () => {
    const lib = library();
    const stored: StoredInstance[] = [];
    const summary = await retrieveStudies(
      options(lib, conn(orthanc.dicomWebUrl), ['1.2.826.0.1.3680043.9.7777.2'], {
        onlyForPresentation: true,
        onStored: (s) => void stored.push(s),
      }),
    );
    expect(summary.studies[0]).toMatchObject({ status: 'done', instances: 5, fetched: 4, skippedForProcessing: 1 });
    const uploaded = new Map<string, string>();
    for (const f of mixed) {
      const h = await readDicomHeader(f);
      uploaded.set(h.sopInstanceUID!, h.transferSyntaxUID);
    }
    expect(new Set(uploaded.values())).toEqual(new Set([J2K_LOSSLESS, JPEG_LS_LOSSLESS, EXPLICIT_LE]));
    for (const s of stored) {
      expect((await readDicomHeader(s.file)).transferSyntaxUID).toBe(uploaded.get(s.sopInstanceUid));
      expect(s.transferSyntax).toBe(uploaded.get(s.sopInstanceUid));
    }
    expect(stored.map((s) => s.sopInstanceUid)).not.toContain('1.2.826.0.1.3680043.9.7777.2.1.5');
    const rows = indexRows(lib.db) as { transfer_syntax_uid: string; presentation_intent: string | null }[];
    expect(rows.map((r) => r.transfer_syntax_uid).sort()).toEqual([...uploaded.values()].filter((_, i) => i < 4).sort());
    expect(rows.some((r) => r.presentation_intent === 'FOR PROCESSING')).toBe(false);

    // Without the flag the FOR PROCESSING view comes too, and only it is fetched.
    const rest = await retrieveStudies(options(lib, conn(orthanc.dicomWebUrl), ['1.2.826.0.1.3680043.9.7777.2']));
    expect(rest.studies[0]).toMatchObject({ status: 'done', fetched: 1, alreadyStored: 4 });
  });

  it('uses basic auth, and says when credentials are missing or wrong', async () => {
    const secured = await startOrthanc({ users: { alice: 's3cret' } });
    servers.push(secured);
    await secured.upload(exam1);
    const study = '1.2.826.0.1.3680043.9.7777.1';
    const ok = await retrieveStudies(
      options(library(), conn(secured.dicomWebUrl, { kind: 'basic', user: 'alice', password: 's3cret' }), [study]),
    );
    expect(ok.studies[0]).toMatchObject({ status: 'done', fetched: 4 });
    const none = await retrieveStudies(options(library(), conn(secured.dicomWebUrl), [study]));
    expect(none.studies[0]!.error).toMatch(
      /^study 1\.2\.826\.0\.1\.3680043\.9\.7777\.1: archive "test-pacs": GET \/studies\/1\.2\.826\.0\.1\.3680043\.9\.7777\.1\/metadata: credentials refused \(HTTP 401\)/,
    );
    const wrong = await retrieveStudies(
      options(library(), conn(secured.dicomWebUrl, { kind: 'basic', user: 'alice', password: 'nope' }), [study]),
    );
    expect(wrong.studies[0]!.error).toMatch(/credentials refused \(HTTP 401\)/);
    expect(wrong.studies[0]!.error).not.toContain('nope');
    await secured.stop();
  });

  it('a server killed after the first stored instance fails the studies by name, leaves no temp file, and the rerun on the restarted server completes', async () => {
    const root = tmpDir('cleft-orthanc-keep-');
    const first = await startOrthanc({ storageDir: path.join(root, 'storage') });
    servers.push(first);
    await first.upload([...exam1, ...mixed]);
    const lib = library();
    const studies = ['1.2.826.0.1.3680043.9.7777.1', '1.2.826.0.1.3680043.9.7777.2'];
    let kills = 0;
    const summary = await retrieveStudies(
      options(lib, conn(first.dicomWebUrl), studies, {
        concurrency: 1,
        onStored: async () => {
          if (kills++ === 0) await first.kill();
        },
      }),
    );
    expect(summary.studies.map((s) => s.status)).toEqual(['failed', 'failed']);
    expect(summary.studies[0]!.fetched).toBe(1);
    expect(summary.studies[0]!.error).toMatch(
      /^study 1\.2\.826\.0\.1\.3680043\.9\.7777\.1: archive "test-pacs": GET \/studies\/[0-9.]+\/series\/[0-9.]+\/instances\/[0-9.]+: connection refused by http:\/\/127\.0\.0\.1:\d+/,
    );
    // Study 2 was listed before the server died; its first instance request fails the same way.
    expect(summary.studies[1]!.error).toMatch(
      /^study 1\.2\.826\.0\.1\.3680043\.9\.7777\.2: archive "test-pacs": GET .*: connection refused/,
    );
    const archiveDir = path.join(lib.dataDir, 'archive');
    expect(filesUnder(path.join(archiveDir, 'test-pacs'))).toEqual([
      `1.2.826.0.1.3680043.9.7777.1/1.2.826.0.1.3680043.9.7777.1.1/1.2.826.0.1.3680043.9.7777.1.1.1.dcm`,
    ]);
    expect(indexRows(lib.db)).toHaveLength(1);

    const second = await startOrthanc({ storageDir: path.join(root, 'storage') });
    servers.push(second);
    const fetched: string[] = [];
    const resumed = await retrieveStudies(
      options(lib, conn(second.dicomWebUrl), studies, { onStored: (s) => void fetched.push(s.sopInstanceUid) }),
    );
    expect(resumed.studies.map((s) => [s.status, s.fetched, s.alreadyStored])).toEqual([
      ['done', 3, 1],
      ['done', 5, 0],
    ]);
    expect(fetched).not.toContain('1.2.826.0.1.3680043.9.7777.1.1.1');
    expect(indexRows(lib.db)).toHaveLength(9);
    await second.stop();
  });
});

/** A local HTTP server answering every request with `handler` (to play a broken archive). */
async function fakeArchive(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  httpServers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/dicom-web`;
}

/** Metadata of one study with one instance, as a DICOMweb server writes it. */
function metadataOf(study: string): string {
  return JSON.stringify([
    {
      '0020000D': { vr: 'UI', Value: [study] },
      '0020000E': { vr: 'UI', Value: [`${study}.1`] },
      '00080018': { vr: 'UI', Value: [`${study}.1.1`] },
      '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.1.2'] },
    },
  ]);
}

describe('retrieve from a broken archive: a clear error per study, the others go on', () => {
  it('a malformed multipart body, a 404, an unparsable instance and a timeout each fail their study only', async () => {
    const good = fs.readFileSync(exam1[0]!);
    const goodUid = '1.2.826.0.1.3680043.9.7777.1';
    const url = await fakeArchive((req, res) => {
      const u = req.url ?? '';
      const study = /\/studies\/([0-9.]+)/.exec(u)?.[1] ?? '';
      if (study === '9.404') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Study not found');
        return;
      }
      if (study === '9.6') return; // never answers: the idle timeout gives up
      if (u.endsWith('/metadata')) {
        res.writeHead(200, { 'Content-Type': 'application/dicom+json' }).end(metadataOf(study));
        return;
      }
      const ct = 'multipart/related; type="application/dicom"; boundary=XX';
      if (study === '9.1') {
        res.writeHead(200, { 'Content-Type': ct }).end('garbage that is not multipart at all');
      } else if (study === '9.2') {
        // A part that breaks off: the connection ends before the closing boundary.
        res
          .writeHead(200, { 'Content-Type': ct })
          .end(Buffer.concat([Buffer.from('--XX\r\nContent-Type: application/dicom\r\n\r\n'), good.subarray(0, 100)]));
      } else if (study === '9.3') {
        res.writeHead(200, { 'Content-Type': ct }).end('--XX\r\nContent-Type: application/dicom\r\n\r\nnot a dicom file at all\r\n--XX--');
      } else {
        res
          .writeHead(200, { 'Content-Type': ct })
          .end(Buffer.concat([Buffer.from('--XX\r\nContent-Type: application/dicom\r\n\r\n'), good, Buffer.from('\r\n--XX--\r\n')]));
      }
    });
    const lib = library();
    const studies = ['9.1', '9.2', '9.404', '9.3', goodUid, 'not/a/uid'];
    const summary = await retrieveStudies(options(lib, conn(url), studies));
    // A server that never answers: alone, with a short idle timeout (the others keep the default).
    const silent = await retrieveStudies(options(lib, conn(url), ['9.6'], { idleTimeoutMs: 300 }));
    summary.studies.push(...silent.studies);
    const byUid = new Map(summary.studies.map((s) => [s.studyUid, s]));
    expect(byUid.get('9.1')!.error).toBe(
      `study 9.1: instance 9.1.1.1: malformed multipart/related response: the boundary "XX" never occurs in the multipart body`,
    );
    expect(byUid.get('9.2')!.error).toMatch(
      /^study 9\.2: instance 9\.2\.1\.1: malformed multipart\/related response: the multipart body ends inside part 1 after 100 bytes.*truncated/,
    );
    expect(byUid.get('9.404')!.error).toBe(
      `study 9.404: archive "test-pacs": GET /studies/9.404/metadata: not found (HTTP 404): Study not found`,
    );
    expect(byUid.get('9.3')!.error).toMatch(/^study 9\.3: instance 9\.3\.1\.1 was refused: not a DICOM file/);
    expect(byUid.get('9.3')!.refused).toBe(1);
    expect(byUid.get('9.6')!.error).toBe(`study 9.6: archive "test-pacs": GET /studies/9.6/metadata: no answer for 0.3 s (timed out)`);
    expect(byUid.get('not/a/uid')!.error).toMatch(/is not a DICOM UID/);
    expect(byUid.get(goodUid)).toMatchObject({ status: 'done', fetched: 1, error: null });
    // Only the good instance is left; nothing half-written, no temp file.
    expect(filesUnder(path.join(lib.dataDir, 'archive', 'test-pacs'))).toEqual([`${goodUid}/${goodUid}.1/${goodUid}.1.1.dcm`]);
    // The refused instance is in the library's problems, as an import lists it.
    const problems = lib.db.prepare(`SELECT kind, reason FROM import_problems`).all() as { kind: string; reason: string }[];
    expect(problems).toEqual([expect.objectContaining({ kind: 'skipped', reason: expect.stringMatching(/not a DICOM file/) })]);
  });
});
