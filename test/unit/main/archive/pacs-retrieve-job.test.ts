// The pacs-retrieve job against a real Orthanc behind a small counting proxy (test-only) that can
// hold instance requests: cancel once the first instance is stored, then resume, and every instance
// is fetched exactly once (the proxy's count and the job's own checkpoint agree); a server killed
// once the first instance is stored fails the job with a message naming the study and leaves no
// temp file, and resuming against a server restarted on the same storage completes; the contract
// method refuses an unknown archive at once; `cleft pacs retrieve` prints per study. Every wait is on
// a state (rows in the library, requests held by the proxy, the job's status), never a duration.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isJobOf, type Job } from '../../../../src/common/jobs';
import { addArchive } from '../../../../src/main/archive/connections';
import { progressMessage } from '../../../../src/main/jobs/kinds/pacs-retrieve';
import type { Backend } from '../../../../src/main/api/backend';
import { callApi } from '../../../helpers/api';
import { CLI, ROOT } from '../../../helpers/cli';
import { requireDump2dcm, writeFourViewExam } from '../../../helpers/dcmtk';
import { testBackend } from '../../../helpers/library';
import { until } from '../../../helpers/wait';
import { startOrthanc, type OrthancServer } from '../../../helpers/orthanc';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

const STUDY = '1.2.826.0.1.3680043.9.7777.1';

/** Forwards to `upstream`; instance requests beyond `allow` are held until released or abandoned by the client. */
class GateProxy {
  upstream: number;
  allow = Infinity;
  /** Instance requests forwarded, by path. */
  readonly forwarded = new Map<string, number>();
  private readonly held: { release: () => void }[] = [];
  private forwardedInstances = 0;
  readonly server: http.Server;

  constructor(upstream: number) {
    this.upstream = upstream;
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  get heldCount(): number {
    return this.held.length;
  }

  open(): void {
    this.allow = Infinity;
    for (const h of this.held.splice(0)) h.release();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '/';
    const isInstance = /\/instances\/[0-9.]+$/.test(url);
    const go = (): void => {
      if (isInstance) {
        this.forwarded.set(url, (this.forwarded.get(url) ?? 0) + 1);
        this.forwardedInstances++;
      }
      const up = http.request({ host: '127.0.0.1', port: this.upstream, method: req.method, path: url, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      // A dead upstream: the client sees its connection dropped, as with a server that died.
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    if (isInstance && this.forwardedInstances >= this.allow) {
      const entry = {
        release: () => {
          if (!res.destroyed && !res.writableEnded) go();
        },
      };
      this.held.push(entry);
      // The client gave up (cancel): forget the request, never forward it.
      res.on('close', () => {
        const i = this.held.indexOf(entry);
        if (i >= 0) this.held.splice(i, 1);
      });
      return;
    }
    go();
  }
}

const servers: OrthancServer[] = [];
const proxies: GateProxy[] = [];
const backends: Backend[] = [];
afterAll(async () => {
  for (const b of backends) b.close();
  for (const s of servers) await s.stop();
  for (const p of proxies) {
    p.server.closeAllConnections();
    await new Promise((r) => p.server.close(r));
  }
  removeTmpDirs();
});

let exam: string[] = [];
beforeAll(() => {
  requireDump2dcm();
  exam = writeFourViewExam(tmpDir(), 1);
});

function instancesInLibrary(b: Backend): number {
  return (b.db.prepare(`SELECT count(*) AS n FROM instances`).get() as { n: number }).n;
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

async function setup(storageDir?: string): Promise<{ b: Backend; dataDir: string; orthanc: OrthancServer; proxy: GateProxy }> {
  const orthanc = await startOrthanc(storageDir ? { storageDir } : {});
  servers.push(orthanc);
  await orthanc.upload(exam);
  const proxy = new GateProxy(orthanc.port);
  proxies.push(proxy);
  const proxyUrl = await proxy.listen();
  const dataDir = tmpDir('cleft-lib-');
  const b = testBackend(dataDir);
  backends.push(b);
  addArchive(b.db, dataDir, { name: 'pacs', url: `${proxyUrl}/dicom-web` });
  return { b, dataDir, orthanc, proxy };
}

/** `cleft ...args` in a child process, without blocking this one (the proxy answers from here). */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function checkpointFetched(job: Job): string[] {
  expect(job.checkpointPath).not.toBeNull();
  return (JSON.parse(fs.readFileSync(job.checkpointPath!, 'utf8')) as { fetched: string[] }).fetched;
}

describe('pacs-retrieve progress', () => {
  it('says the study, instances and bytes, the measured rate and the time left at that rate', () => {
    expect(progressMessage({ done: 3, total: 10, fetched: 2, bytes: 40e6, study: 1, studies: 2, seconds: 4 })).toBe(
      'Study 1 of 2: 3 of 10 instances, 40.0 MB at 10.0 MB/s (0.5 images/s), about 14 s left',
    );
    expect(progressMessage({ done: 0, total: 8, fetched: 0, bytes: 0, study: 0, studies: 2, seconds: 0 })).toBe(
      'Study 1 of 2: 0 of 8 instances, 0.0 MB',
    );
    expect(progressMessage({ done: 8, total: 8, fetched: 8, bytes: 8e6, study: 2, studies: 2, seconds: 2 })).toBe(
      'Study 2 of 2: 8 of 8 instances, 8.0 MB at 4.0 MB/s (4.0 images/s)',
    );
  });
});

describe('pacs-retrieve job', () => {
  it('resumes after a cancel without fetching any instance twice', async () => {
    const { b, proxy } = await setup();
    proxy.allow = 1;
    const started = await callApi(b, 'archives.retrieve', { archive: 'pacs', studies: [STUDY] });
    // The first instance is stored and indexed, and the next request waits at the proxy.
    await until(() => instancesInLibrary(b) === 1 && proxy.heldCount >= 1, 'one image in the library and a request held at the proxy');
    await callApi(b, 'jobs.cancel', { id: started.id });
    const cancelled = await b.jobs.waitFor(started.id);
    expect(cancelled.status).toBe('cancelled');
    const before = checkpointFetched(cancelled);
    expect(before).toHaveLength(1);
    // The cancelled job's requests held at the proxy are abandoned by their client; wait until the
    // proxy has seen them close, or opening it could still forward one of them.
    await until(() => proxy.heldCount === 0, "the cancelled job's held requests closed at the proxy");

    proxy.open();
    await callApi(b, 'jobs.resume', { id: started.id });
    const done = await b.jobs.waitFor(started.id);
    expect(done.status, done.error ?? '').toBe('done');
    if (!isJobOf(done, 'pacs-retrieve') || !done.result) throw new Error('no result');
    expect(done.result).toMatchObject({ archive: 'pacs', fetched: 4, alreadyStored: 1 });
    expect(done.result.studies).toEqual([expect.objectContaining({ studyUid: STUDY, status: 'done', fetched: 3, alreadyStored: 1 })]);
    expect(done.result.imagesPerSecond).toBeGreaterThan(0);
    // Each instance went through the proxy exactly once, and the job's own record says the same.
    expect([...proxy.forwarded.values()]).toEqual([1, 1, 1, 1]);
    const all = checkpointFetched(done);
    expect(all.slice().sort()).toEqual([1, 2, 3, 4].map((i) => `${STUDY}.1.${i}`));
    expect(all[0]).toBe(before[0]);
    expect(instancesInLibrary(b)).toBe(4);
    expect(done.progress.fraction).toBe(1);
  });

  it('fails cleanly naming the study when the server dies mid-retrieve, and completes when resumed against the restarted server', async () => {
    const storage = path.join(tmpDir('cleft-orthanc-keep-'), 'storage');
    const { b, dataDir, orthanc, proxy } = await setup(storage);
    proxy.allow = 1;
    const started = await callApi(b, 'archives.retrieve', { archive: 'pacs', studies: [STUDY] });
    await until(() => instancesInLibrary(b) === 1 && proxy.heldCount >= 1, 'one image in the library and a request held at the proxy');
    await orthanc.kill();
    proxy.open(); // the held requests now meet a dead server
    const failed = await b.jobs.waitFor(started.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(
      new RegExp(
        `^1 of 1 studies could not be retrieved from "pacs" \\(0 retrieved; what was stored is kept, and resuming the job retries the rest\\): study ${STUDY.replace(/\./g, '\\.')}: archive "pacs": GET /studies/.*/instances/.*: connection to http://127\\.0\\.0\\.1:\\d+ dropped`,
      ),
    );
    const archiveDir = path.join(dataDir, 'archive', 'pacs');
    expect(filesUnder(archiveDir)).toEqual([`${STUDY}/${STUDY}.1/${checkpointFetched(failed)[0]}.dcm`]);

    const restarted = await startOrthanc({ storageDir: storage });
    servers.push(restarted);
    proxy.upstream = restarted.port;
    await callApi(b, 'jobs.resume', { id: started.id });
    const done = await b.jobs.waitFor(started.id);
    expect(done.status, done.error ?? '').toBe('done');
    if (!isJobOf(done, 'pacs-retrieve') || !done.result) throw new Error('no result');
    expect(done.result).toMatchObject({ fetched: 4, alreadyStored: 1 });
    expect(filesUnder(archiveDir)).toHaveLength(4);
    expect(instancesInLibrary(b)).toBe(4);
  });

  it('refuses an unknown archive or a bad UID at once, without queueing a job', async () => {
    const { b } = await setup();
    await expect(callApi(b, 'archives.retrieve', { archive: 'nope', studies: [STUDY] })).rejects.toThrow(/no archive named "nope"/);
    await expect(callApi(b, 'archives.retrieve', { archive: 'pacs', studies: ['1.2.x'] })).rejects.toMatchObject({
      issues: [{ path: 'studies.0', message: 'a DICOM UID is digits and dots, at most 64 characters' }],
    });
    expect((await callApi(b, 'jobs.list', {})).filter((j) => j.kind === 'pacs-retrieve')).toEqual([]);
  });

  it('`cleft pacs retrieve` runs the job and prints each study; --json gives the result; an unknown archive or UID is refused', async () => {
    const { dataDir, b } = await setup();
    b.close(); // the CLI opens the library itself
    backends.splice(backends.indexOf(b), 1);
    const first = await cli(['pacs', 'retrieve', 'pacs', '--study', STUDY, '--data-dir', dataDir]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`${STUDY.replace(/\./g, '\\.')}: 4 fetched, 0 already in the library \\(4 on the archive`));
    expect(first.stdout).toMatch(/Retrieved 1 study from "pacs": 4 instances/);
    const again = await cli(['pacs', 'retrieve', 'pacs', '--study', STUDY, '--data-dir', dataDir, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'done', result: { fetched: 0, alreadyStored: 4 }, error: null });
    const unknown = await cli(['pacs', 'retrieve', 'nope', '--study', STUDY, '--data-dir', dataDir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/cleft pacs retrieve: no archive named "nope" \(saved archives: "pacs"\)/);
    const bad = await cli(['pacs', 'retrieve', 'pacs', '--study', '1.2.x', '--data-dir', dataDir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/cleft pacs retrieve: --study \("1\.2\.x"\): a DICOM UID is digits and dots/);
  });
});
