// The DICOMweb HTTP helper against a real Orthanc (auth, 404) and small local servers that misbehave
// on purpose (never answer, redirect elsewhere, drop the connection mid-body): every failure is an
// ArchiveError naming the archive and the request path, and nothing outside the base URL is contacted.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveConnection } from '../../../../src/main/archive/connections';
import { ArchiveError, archiveDicomJson, archiveFetch, archiveUrl } from '../../../../src/main/archive/http';
import { freePort, startOrthanc, type OrthancServer } from '../../../helpers/orthanc';

let orthanc: OrthancServer;
const servers: http.Server[] = [];
/** Requests the local servers saw (path), to prove what was and was not contacted. */
const seen: string[] = [];

beforeAll(async () => {
  orthanc = await startOrthanc({ users: { alice: 's3cret' } });
});
afterAll(async () => {
  await orthanc.stop();
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function localServer(handler: http.RequestListener): Promise<string> {
  const srv = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    handler(req, res);
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
}

async function failure(p: Promise<unknown>): Promise<ArchiveError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ArchiveError) return e;
    throw e;
  }
  throw new Error('expected the request to fail');
}

describe('archive HTTP', () => {
  it('sends basic credentials; wrong ones give "credentials refused" naming the archive and path', async () => {
    const good: ArchiveConnection = { name: 'pacs', url: orthanc.dicomWebUrl, auth: { kind: 'basic', user: 'alice', password: 's3cret' } };
    expect(await archiveDicomJson(good, 'studies')).toEqual([]);
    const bad: ArchiveConnection = { ...good, auth: { kind: 'basic', user: 'alice', password: 'wrong' } };
    const e = await failure(archiveDicomJson(bad, 'studies?PatientID=P1'));
    expect(e.kind).toBe('unauthorized');
    expect(e.code).toBe('unauthorized');
    expect(e.message).toBe(
      'archive "pacs": GET /studies?PatientID=P1: credentials refused (HTTP 401): check the archive\'s user and password or token',
    );
    expect(e.message).not.toContain('wrong');
  });

  it('maps 404 to "not found"', async () => {
    const conn: ArchiveConnection = { name: 'pacs', url: orthanc.dicomWebUrl, auth: { kind: 'basic', user: 'alice', password: 's3cret' } };
    const e = await failure(archiveFetch(conn, 'studies/1.2.3.4/series/5.6/metadata'));
    expect(e.kind).toBe('not_found');
    expect(e.message).toMatch(/^archive "pacs": GET \/studies\/1\.2\.3\.4\/series\/5\.6\/metadata: not found \(HTTP 404\)/);
  });

  it('refuses URLs outside the base URL before any request, whatever their form', async () => {
    const conn: ArchiveConnection = { name: 'pacs', url: 'http://127.0.0.1:9/dicom-web', auth: { kind: 'none' } };
    expect(archiveUrl(conn, 'studies?x=1').href).toBe('http://127.0.0.1:9/dicom-web/studies?x=1');
    expect(archiveUrl(conn, 'http://127.0.0.1:9/dicom-web/studies/1/bulk/2').href).toBe('http://127.0.0.1:9/dicom-web/studies/1/bulk/2');
    for (const target of [
      'http://evil.example/dicom-web/studies',
      'http://127.0.0.1:10/dicom-web/studies',
      'https://127.0.0.1:9/dicom-web/studies',
      'http://127.0.0.1:9/dicom-webx/studies',
      'http://127.0.0.1:9/other',
      '../tools/reset',
      '/%2e%2e/tools/reset',
      'http://u:p@127.0.0.1:9/dicom-web/studies',
    ]) {
      const e = await failure(archiveFetch(conn, target));
      expect(e.kind, target).toBe('outside_base');
      expect(e.message, target).toContain('outside the configured archive URL http://127.0.0.1:9/dicom-web');
    }
  });

  it('does not follow a redirect (or a BulkDataURI-style URL) to another server', async () => {
    const elsewhere = await localServer((_req, res) => res.end('{}'));
    const base = await localServer((req, res) => {
      if (req.url === '/dicom-web/inside') res.writeHead(302, { Location: '/dicom-web/moved' }).end();
      else if (req.url === '/dicom-web/moved') res.writeHead(200, { 'Content-Type': 'application/dicom+json' }).end('[{"a":1}]');
      else res.writeHead(302, { Location: `${elsewhere}/steal` }).end();
    });
    const conn: ArchiveConnection = { name: 'pacs', url: `${base}/dicom-web`, auth: { kind: 'bearer', token: 'T' } };
    expect(await archiveDicomJson(conn, 'inside')).toEqual([{ a: 1 }]);
    const e = await failure(archiveFetch(conn, 'studies'));
    expect(e.kind).toBe('outside_base');
    expect(e.message).toContain(`archive "pacs": GET /studies: redirected to ${elsewhere}/steal`);
    const bulk = await failure(archiveFetch(conn, `${elsewhere}/bulk/1`));
    expect(bulk.kind).toBe('outside_base');
    expect(seen.filter((s) => s.startsWith('/steal') || s.startsWith('/bulk'))).toEqual([]);
  });

  it('times out when the server never answers, and says so', async () => {
    const base = await localServer(() => {
      /* accepts and never answers */
    });
    const conn: ArchiveConnection = { name: 'slow', url: `${base}/dicom-web`, auth: { kind: 'none' } };
    const e = await failure(archiveFetch(conn, 'studies', { timeoutMs: 300 }));
    expect(e.kind).toBe('timeout');
    expect(e.message).toBe('archive "slow": GET /studies: no answer for 0.3 s (timed out)');
  });

  it('times out a body that stops arriving mid-way (the timeout covers the body, not only the headers)', async () => {
    const base = await localServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      if (req.url === '/dicom-web/stall')
        res.write('first bytes'); // then nothing, socket left open
      else res.end('whole');
    });
    const conn: ArchiveConnection = { name: 'stall', url: `${base}/dicom-web`, auth: { kind: 'none' } };
    const res = await archiveFetch(conn, 'stall', { timeoutMs: 300 });
    const e = await failure(res.arrayBuffer());
    expect(e.kind).toBe('timeout');
    expect(e.message).toBe('archive "stall": GET /stall: no answer for 0.3 s (timed out)');
    expect(await (await archiveFetch(conn, 'whole', { timeoutMs: 300 })).text()).toBe('whole');
  });

  it('reports a connection dropped mid-body and a refused connection', async () => {
    const base = await localServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/dicom+json', 'Content-Length': '1000' });
      res.write('[{"0020000D"', () => res.socket?.destroy());
    });
    const conn: ArchiveConnection = { name: 'flaky', url: `${base}/dicom-web`, auth: { kind: 'none' } };
    const e = await failure(archiveDicomJson(conn, 'studies'));
    expect(e.kind).toBe('dropped');
    expect(e.message).toMatch(/^archive "flaky": GET \/studies: connection to http:\/\/127\.0\.0\.1:\d+ dropped/);

    const port = await freePort();
    const dead: ArchiveConnection = { name: 'dead', url: `http://127.0.0.1:${port}/dicom-web`, auth: { kind: 'none' } };
    const r = await failure(archiveFetch(dead, 'studies'));
    expect(r.kind).toBe('refused');
    expect(r.message).toBe(
      `archive "dead": GET /studies: connection refused by http://127.0.0.1:${port} (is the archive running, is the URL right?)`,
    );
  });

  it('stops at the caller’s cancel', async () => {
    const base = await localServer(() => {
      /* never answers */
    });
    const conn: ArchiveConnection = { name: 'slow', url: `${base}/dicom-web`, auth: { kind: 'none' } };
    const ac = new AbortController();
    const p = failure(archiveFetch(conn, 'studies', { signal: ac.signal }));
    ac.abort();
    expect((await p).kind).toBe('cancelled');
  });
});
