// A hostile client against the real web host on 127.0.0.1, over raw sockets: malformed request
// lines, targets, headers, upgrades and bodies, and slow clients. Each must get a 4xx answer or a
// closed socket, nothing may escape as an uncaught exception, and the host must keep answering.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Backend } from '../../../src/main/api/backend';
import { startWebHost, type WebHost } from '../../../src/main/server/web-host';
import { testBackend } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

let backend: Backend;
let host: WebHost;
const uncaught = vi.fn();
/** What the host logs as a failed request (a 500 with its stack): a hostile client must cause none. */
let loggedFailures: { mock: { calls: unknown[][] }; mockRestore(): void };

beforeAll(async () => {
  process.on('uncaughtException', uncaught);
  loggedFailures = vi.spyOn(console, 'error');
  const staticDir = tmpDir();
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>CLEFT</title>');
  backend = testBackend();
  // Short slow-client limits so those cases end quickly; every other client sends its request at once.
  host = await startWebHost({ backend, staticDir, timeouts: { headersMs: 2_000, requestMs: 10_000, checkIntervalMs: 100 } });
});
afterAll(async () => {
  await host.close();
  backend.close();
  removeTmpDirs();
  process.off('uncaughtException', uncaught);
  loggedFailures.mockRestore();
});
afterEach(() => {
  expect(uncaught).not.toHaveBeenCalled();
});

/** The status of the first answer on the socket, or 'closed' when it closed (or reset) without one. */
type Outcome = number | 'closed';

interface Conversation {
  socket: net.Socket;
  outcome: Promise<Outcome>;
}

function connect(): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: host.port });
    let received = '';
    const outcome = new Promise<Outcome>((done) => {
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        const head = /^HTTP\/1\.1 (\d{3}) /.exec(received);
        if (head && received.includes('\r\n\r\n')) {
          done(Number(head[1]));
          socket.destroy();
        }
      });
      socket.on('error', () => done('closed'));
      socket.on('close', () => done('closed'));
    });
    socket.once('connect', () => resolve({ socket, outcome }));
    socket.once('error', reject);
  });
}

/** Sends the bytes in one write and waits for the answer or the close. */
async function exchange(bytes: string | Buffer): Promise<Outcome> {
  const { socket, outcome } = await connect();
  socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  return outcome;
}

const hostHeader = (): string => `Host: 127.0.0.1:${host.port}`;
const wsHeaders =
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
const post = (target: string, body: string, extra = ''): string =>
  `POST ${target} HTTP/1.1\r\n${hostHeader()}\r\nX-Cleft-Token: ${host.token}\r\nContent-Type: application/json\r\n` +
  `Content-Length: ${Buffer.byteLength(body, 'latin1')}\r\n${extra}\r\n${body}`;

describe('web host against a hostile client', () => {
  it('refuses malformed request lines and targets with 400 (or a closed socket)', async () => {
    const cases: [string, Outcome[]][] = [
      [`GET // HTTP/1.1\r\n${hostHeader()}\r\n\r\n`, [400]],
      [`GET //events?token=${host.token} HTTP/1.1\r\n${hostHeader()}\r\n\r\n`, [400]],
      [`GET /\\evil HTTP/1.1\r\n${hostHeader()}\r\n\r\n`, [400]],
      [`GET http://evil/ HTTP/1.1\r\nHost: evil\r\n\r\n`, [400]],
      [`GET http://127.0.0.1:${host.port}/?token=${host.token} HTTP/1.1\r\n${hostHeader()}\r\n\r\n`, [400]],
      [`OPTIONS * HTTP/1.1\r\n${hostHeader()}\r\n\r\n`, [400]],
      [`GET /${'a'.repeat(3_000)} HTTP/1.1\r\n${hostHeader()}\r\n\r\n`, [400]],
      [`GET /${'a'.repeat(100_000)} HTTP/1.1\r\n${hostHeader()}\r\n\r\n`, [400, 431, 'closed']],
      [`GET /\x01 HTTP/1.1\r\n${hostHeader()}\r\n\r\n`, [400, 'closed']],
      [`GET /a\x7fb HTTP/1.1\r\n${hostHeader()}\r\n\r\n`, [400, 'closed']],
      [`GET /caf\xc3\xa9 HTTP/1.1\r\n${hostHeader()}\r\n\r\n`, [400, 'closed']],
      [`GET / HTTP/1.1\r\n${hostHeader()}\r\nX-Evil: a\x00b\r\n\r\n`, [400, 'closed']],
      [`GET / HTTP/9.9\r\n${hostHeader()}\r\n\r\n`, [400, 505, 'closed']],
      ['GARBAGE\r\n\r\n', [400, 'closed']],
      ['\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03', [400, 'closed']],
    ];
    for (const [request, allowed] of cases) {
      expect({ request: request.slice(0, 80), outcome: await exchange(request) }).toEqual({
        request: request.slice(0, 80),
        outcome: expect.toBeOneOf(allowed),
      });
    }
  });

  it('answers a badly percent-encoded API or binary method name with 400 invalid_input, not 500', async () => {
    for (const target of ['/api/%E0%A4%A', '/api/%ZZ', '/api/app%00info', '/binary/%E0%A4%A', '/binary/%']) {
      expect({ target, outcome: await exchange(post(target, '{}')) }).toEqual({ target, outcome: 400 });
    }
    const res = await fetch(`http://127.0.0.1:${host.port}/api/%E0%A4%A`, {
      method: 'POST',
      headers: { 'X-Cleft-Token': host.token },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ ok: false, error: { code: 'invalid_input', message: 'malformed method name' } });
    // Page paths with a bad encoding or a NUL are simply not found.
    for (const target of [`/%E0%A4%A?token=${host.token}`, `/%00?token=${host.token}`, `/index.html%00.js?token=${host.token}`]) {
      expect({ target, outcome: await exchange(`GET ${target} HTTP/1.1\r\n${hostHeader()}\r\n\r\n`) }).toEqual({ target, outcome: 404 });
    }
  });

  it('refuses missing, foreign and duplicate Host headers', async () => {
    const get = `GET /?token=${host.token} HTTP/1.1\r\n`;
    expect(await exchange(`${get}\r\n`)).toBe(400);
    expect(await exchange(`${get}Host: evil.example:${host.port}\r\n\r\n`)).toBe(401);
    expect(await exchange(`${get}Host: 127.0.0.1\r\n\r\n`)).toBe(401);
    expect(await exchange(`${get}${hostHeader()}\r\nHost: evil.example\r\n\r\n`)).toBeOneOf([400, 401]);
    expect(await exchange(`${get}${hostHeader()}\r\n${hostHeader()}\r\n\r\n`)).toBeOneOf([400, 401]);
    expect(await exchange(`${get}Host: \r\n\r\n`)).toBeOneOf([400, 401]);
    expect(await exchange(post('/api/app.info', '{}', `Host: evil.example\r\n`))).toBeOneOf([400, 401]);
  });

  it('refuses bad upgrade requests without crashing', async () => {
    const t = host.token;
    const cases: [string, Outcome[]][] = [
      [`GET // HTTP/1.1\r\n${hostHeader()}\r\n${wsHeaders}\r\n`, [400]],
      [`GET //events?token=${t} HTTP/1.1\r\n${hostHeader()}\r\n${wsHeaders}\r\n`, [400]],
      [`GET /events/../x?token=${t} HTTP/1.1\r\n${hostHeader()}\r\n${wsHeaders}\r\n`, [401]],
      [`GET /x/../events?token=${t}x HTTP/1.1\r\n${hostHeader()}\r\n${wsHeaders}\r\n`, [401]],
      [`GET /events%2f..%2fx?token=${t} HTTP/1.1\r\n${hostHeader()}\r\n${wsHeaders}\r\n`, [401]],
      [`GET http://127.0.0.1:${host.port}/events?token=${t} HTTP/1.1\r\n${hostHeader()}\r\n${wsHeaders}\r\n`, [400]],
      [`GET * HTTP/1.1\r\n${hostHeader()}\r\n${wsHeaders}\r\n`, [400]],
      [`GET /${'e'.repeat(5_000)} HTTP/1.1\r\n${hostHeader()}\r\n${wsHeaders}\r\n`, [400]],
      [`GET /events?token=${t} HTTP/1.1\r\n${wsHeaders}\r\n`, [400, 401]],
      [`GET /events?token=${t} HTTP/1.1\r\nHost: evil.example\r\n${wsHeaders}\r\n`, [401]],
      [`GET /events?token=${t} HTTP/1.1\r\n${hostHeader()}\r\nHost: evil.example\r\n${wsHeaders}\r\n`, [400, 401]],
      [`GET /events?token=${t} HTTP/1.1\r\n${hostHeader()}\r\nOrigin: http://evil.example\r\n${wsHeaders}\r\n`, [401]],
      [
        `GET /events?token=${t} HTTP/1.1\r\n${hostHeader()}\r\nOrigin: http://127.0.0.1:${host.port}\r\nOrigin: http://evil.example\r\n${wsHeaders}\r\n`,
        [401],
      ],
      [`GET /events?token=${t} HTTP/1.1\r\n${hostHeader()}\r\n${wsHeaders.replace('dGhlIHNhbXBsZSBub25jZQ==', 'short')}\r\n`, [400]],
      [`GET /events?token=${t} HTTP/1.1\r\n${hostHeader()}\r\n${wsHeaders.replace(/Sec-WebSocket-Key: .*\r\n/, '')}\r\n`, [400]],
      [`GET /events?token=${t} HTTP/1.1\r\n${hostHeader()}\r\n${wsHeaders.replace('Version: 13', 'Version: 7')}\r\n`, [400, 426]],
      [`POST /events?token=${t} HTTP/1.1\r\n${hostHeader()}\r\n${wsHeaders}Content-Length: 0\r\n\r\n`, [400, 405]],
      [`GET /api/app.info HTTP/1.1\r\n${hostHeader()}\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n`, [401]],
    ];
    for (const [request, allowed] of cases) {
      expect({ request: request.slice(0, 60), outcome: await exchange(request) }).toEqual({
        request: request.slice(0, 60),
        outcome: expect.toBeOneOf(allowed),
      });
    }
  });

  it('closes an authorised event socket that breaks the protocol, and stays up', async () => {
    const frames = [
      Buffer.from([0x81, 0x05, ...Buffer.from('hello')]), // unmasked client frame
      Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4]), // masked, claims 1 GiB (> maxPayload)
      Buffer.from([0x8f, 0x80, 1, 2, 3, 4]), // reserved opcode
    ];
    for (const frame of frames) {
      const socket = net.connect({ host: '127.0.0.1', port: host.port });
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => undefined);
      const opened = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString('latin1'))));
      socket.write(`GET /events?token=${host.token} HTTP/1.1\r\n${hostHeader()}\r\n${wsHeaders}\r\n`);
      expect(await opened).toMatch(/^HTTP\/1\.1 101 /);
      socket.write(frame);
      await closed;
    }
  });

  it('answers garbage and malformed bodies with 400 and oversized ones with 413', async () => {
    expect(await exchange(post('/api/app.info', 'garbage'))).toBe(400);
    expect(await exchange(post('/api/app.info', '\x00\xff\xfe{'))).toBe(400);
    expect(await exchange(post('/binary/image.frame', '[[[['))).toBe(400);
    const head = `POST /api/app.info HTTP/1.1\r\n${hostHeader()}\r\nX-Cleft-Token: ${host.token}\r\n`;
    expect(await exchange(`${head}Content-Length: abc\r\n\r\n{}`)).toBeOneOf([400, 'closed']);
    expect(await exchange(`${head}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`)).toBeOneOf([400, 'closed']);
    expect(await exchange(`${head}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`)).toBeOneOf([400, 'closed']);
    expect(await exchange(`${head}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`)).toBeOneOf([400, 'closed']);
    expect(await exchange(`${head}Content-Length: 5000000\r\n\r\n{`)).toBe(413);
    expect(await exchange(`${head}Content-Length: 99999999999999999999\r\n\r\n{`)).toBeOneOf([400, 413, 'closed']);

    // Bodies the client gives up on halfway, before and after the host starts reading.
    for (const cut of [`${head}Content-Length: 100\r\n\r\n{"a":`, `${head}Transfer-Encoding: chunked\r\n\r\n5\r\n{"a":`]) {
      const { socket } = await connect();
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write(cut, () => socket.destroy());
      await closed;
    }

    // A chunked body that never says its size up front: streamed until the host answers or closes.
    const { socket, outcome } = await connect();
    socket.write(`${head}Transfer-Encoding: chunked\r\n\r\n`);
    const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 0x61), Buffer.from('\r\n')]);
    let answered = false;
    void outcome.then(() => (answered = true));
    for (let sent = 0; sent < 6 << 20 && !answered && !socket.destroyed; sent += 0x10000) {
      if (!socket.write(chunk)) await new Promise<void>((resolve) => socket.once('drain', resolve).once('close', resolve));
    }
    expect(await outcome).toBeOneOf([413, 'closed']);
  });

  it('drops a client that sends its headers byte by byte (slowloris) and one that sends nothing', async () => {
    const idle = await connect();
    expect(await idle.outcome).toBeOneOf([408, 'closed']);

    const { socket, outcome } = await connect();
    const request = Buffer.from(`GET /?token=${host.token} HTTP/1.1\r\n${hostHeader()}\r\nX-Slow: ${'s'.repeat(400)}`);
    let done = false;
    void outcome.then(() => (done = true));
    // Paced, not timed: the host's 2 s header limit must end this long before the bytes run out (about 11 s).
    for (let i = 0; i < request.length && !done; i++) {
      socket.write(request.subarray(i, i + 1));
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(done).toBe(true);
    expect(await outcome).toBeOneOf([408, 'closed']);
  });

  it('still answers a valid authorised API call afterwards', async () => {
    const res = await fetch(`http://127.0.0.1:${host.port}/api/app.info`, {
      method: 'POST',
      headers: { 'X-Cleft-Token': host.token, 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, value: { host: 'web' } });
    expect(uncaught).not.toHaveBeenCalled();
    expect(loggedFailures.mock.calls.filter(([first]) => String(first).startsWith('web host'))).toEqual([]);
  });
});
