import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import { startWebHost, type WebHost } from '../../../src/main/server/web-host';
import type { Job } from '../../../src/common/jobs';
import { expectedFolderDigest, makeFileTree, removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { testBackend } from '../../helpers/library';

let backend: Backend;
let host: WebHost;
let base: string;

beforeAll(async () => {
  const staticDir = tmpDir();
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>CLEFT</title>');
  fs.writeFileSync(path.join(staticDir, 'app.js'), 'console.log(1)');
  // Links: one to a file inside the root (fine), two pointing outside it (never served).
  const outside = tmpDir();
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'not for the web');
  fs.symlinkSync(path.join(staticDir, 'app.js'), path.join(staticDir, 'alias.js'));
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(staticDir, 'leak.txt'));
  fs.symlinkSync(outside, path.join(staticDir, 'assets'));
  backend = testBackend();
  host = await startWebHost({ backend, staticDir });
  base = `http://127.0.0.1:${host.port}`;
});
afterAll(async () => {
  await host.close();
  backend.close();
  removeTmpDirs();
});

/** Raw request so the Host header can be forged (fetch does not allow it). */
function raw(
  options: http.RequestOptions & { body?: string },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: host.port, ...options }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    if (options.body) req.write(options.body);
    req.end();
  });
}

async function api(method: string, input: unknown, token: string | null = host.token): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}/api/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token === null ? {} : { 'X-Cleft-Token': token }) },
    body: JSON.stringify(input),
  });
  return { status: res.status, body: await res.json() };
}

describe('local web host', () => {
  it('binds to 127.0.0.1 and prints a URL with the token', () => {
    expect(host.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32}$/);
  });

  it('serves the contract to a caller with the token', async () => {
    const res = await api('library.stats', {});
    expect(res).toEqual({
      status: 200,
      body: { ok: true, value: { patients: 0, studies: 0, series: 0, instances: 0, labels: 0, predictions: 0, models: 0, reports: 0 } },
    });
  });

  it('refuses API calls without the token or with a wrong one', async () => {
    expect(await api('library.stats', {}, null)).toEqual({
      status: 401,
      body: { ok: false, error: { code: 'unauthorized', message: 'missing or wrong access token' } },
    });
    expect((await api('library.stats', {}, 'x'.repeat(32))).status).toBe(401);
  });

  it('answers bad payloads with typed errors', async () => {
    const bad = await api('jobs.get', { id: 'one' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ ok: false, error: { code: 'invalid_input', issues: [{ path: 'id' }] } });
    const notJson = await raw({
      path: '/api/app.info',
      method: 'POST',
      headers: { 'x-cleft-token': host.token, host: `127.0.0.1:${host.port}` },
      body: '{nope',
    });
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.body)).toEqual({ ok: false, error: { code: 'invalid_input', message: 'request body is not valid JSON' } });
    expect((await api('no.such.method', {})).status).toBe(404);
  });

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    const res = await raw({ path: `/?token=${host.token}`, headers: { host: `evil.example:${host.port}` } });
    expect(res.status).toBe(401);
  });

  it('serves the page only with the token, then its assets via a same-site asset cookie', async () => {
    expect((await fetch(`${base}/`)).status).toBe(401);
    const first = await fetch(`${base}/?token=${host.token}`);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-security-policy')).toContain("default-src 'self'");
    const cookie = first.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const asset = await fetch(`${base}/app.js`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const escape = await raw({ path: `/..%2f..%2fetc%2fpasswd?token=${host.token}`, headers: { host: `127.0.0.1:${host.port}` } });
    expect(escape.status).toBe(404);
  });

  it('gives the page an asset cookie that is not the API token and opens no API call', async () => {
    const first = await fetch(`${base}/?token=${host.token}`);
    const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0]!;
    const [name, value] = cookie.split('=');
    expect(name).toBe('cleft_asset');
    expect(value).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(value).not.toBe(host.token);
    expect(first.headers.get('set-cookie')).not.toContain(host.token);
    // Another server on 127.0.0.1 receives this cookie; replaying it must get nowhere.
    expect(await api('library.stats', {}, value!)).toEqual({
      status: 401,
      body: { ok: false, error: { code: 'unauthorized', message: 'missing or wrong access token' } },
    });
    const asHeaderAndCookie = await fetch(`${base}/api/library.stats`, {
      method: 'POST',
      headers: { 'X-Cleft-Token': value!, cookie },
      body: '{}',
    });
    expect(asHeaderAndCookie.status).toBe(401);
    const binary = await fetch(`${base}/binary/image.frame`, { method: 'POST', headers: { 'X-Cleft-Token': value!, cookie }, body: '{}' });
    expect(binary.status).toBe(401);
    // Nor does it open the event socket, nor work as the page's ?token=.
    const socketRefused = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${host.port}/events?token=${value}`, { headers: { cookie } });
      ws.on('open', () => {
        ws.close();
        resolve(false);
      });
      ws.on('error', () => resolve(true));
    });
    expect(socketRefused).toBe(true);
    expect((await fetch(`${base}/?token=${value}`)).status).toBe(401);
    // What it is for: the page's own assets.
    expect((await fetch(`${base}/app.js`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${base}/app.js`, { headers: { cookie: `cleft_asset=${host.token}` } })).status).toBe(401);
  });

  it('follows no symbolic link out of the static root', async () => {
    const get = (p: string) => raw({ path: `${p}?token=${host.token}`, headers: { host: `127.0.0.1:${host.port}` } });
    expect(await get('/alias.js')).toMatchObject({ status: 200, body: 'console.log(1)' });
    expect(await get('/leak.txt')).toMatchObject({ status: 404 });
    expect(await get('/assets/secret.txt')).toMatchObject({ status: 404 });
  });

  it('refuses the event socket without the token or from another origin', async () => {
    const refused = (url: string, origin?: string) =>
      new Promise<boolean>((resolve) => {
        const ws = new WebSocket(url, origin ? { origin } : {});
        ws.on('open', () => {
          ws.close();
          resolve(false);
        });
        ws.on('error', () => resolve(true));
      });
    expect(await refused(`ws://127.0.0.1:${host.port}/events`)).toBe(true);
    expect(await refused(`ws://127.0.0.1:${host.port}/events?token=${host.token}`, 'http://evil.example')).toBe(true);
  });

  it('runs a job end to end over HTTP and streams its progress over the WebSocket', async () => {
    const folder = makeFileTree(200, 512 * 1024);
    const ws = new WebSocket(`ws://127.0.0.1:${host.port}/events?token=${host.token}`, { origin: base });
    await new Promise((r) => ws.once('open', r));
    const updates: Job[] = [];
    const done = new Promise<Job>((resolve) =>
      ws.on('message', (data: Buffer) => {
        const { event, payload } = JSON.parse(data.toString()) as { event: string; payload: Job };
        if (event !== 'job.updated') return;
        updates.push(payload);
        if (payload.status === 'done' || payload.status === 'failed') resolve(payload);
      }),
    );
    const started = await api('jobs.start', { kind: 'hash-folder', params: { folder } });
    expect(started.body).toMatchObject({ ok: true, value: { kind: 'hash-folder' } });
    const final = await done;
    ws.close();
    expect(final.status).toBe('done');
    expect(final.result).toMatchObject(expectedFolderDigest(folder));
    expect(updates.some((u) => u.status === 'running' && u.progress.fraction > 0 && u.progress.fraction < 1)).toBe(true);
    const listed = await api('jobs.list', {});
    expect(listed.body).toMatchObject({ ok: true, value: [{ status: 'done' }] });
  });
});
