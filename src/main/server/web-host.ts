// The local web host: the same contract as Electron IPC, over HTTP (POST /api/<method>) and a
// WebSocket for events (/events), plus the built renderer. Bound to 127.0.0.1 with a per-launch
// token (see auth.ts). Lets the UI run in any browser on this machine and in Playwright tests.
// Any page in a browser on this machine can reach it, so no request, however malformed, may throw
// out of a handler (that would end the process and its running jobs): every one is answered with a
// status or a closed socket.
import http from 'node:http';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WebSocketServer, type WebSocket } from 'ws';
import { CONTENT_SECURITY_POLICY } from '../../common/csp';
import type { ErrorCode, ErrorPayload } from '../../common/errors';
import type { Backend } from '../api/backend';
import { dispatch } from '../api/dispatch';
import { dispatchBinary } from '../api/dispatch-binary';
import { assetCookie, assetCookieHeader, headerToken, hostAllowed, newToken, originAllowed, tokensEqual } from './auth';
import { decodeSegment, parseRequestTarget } from './request-target';
import { resolveStaticFile } from './static-files';

export interface WebHostOptions {
  backend: Backend;
  /** Folder with the built renderer; null serves the API only. */
  staticDir: string | null;
  port?: number;
  token?: string;
  /** Slow-client limits; the defaults suit real use, tests shorten them. */
  timeouts?: Partial<WebHostTimeouts>;
}

export interface WebHostTimeouts {
  /** A request's headers must arrive within this (slowloris). */
  headersMs: number;
  /** The whole request, body included, must arrive within this. */
  requestMs: number;
  /** How often Node checks the two limits above. */
  checkIntervalMs: number;
}

const DEFAULT_TIMEOUTS: WebHostTimeouts = { headersMs: 10_000, requestMs: 60_000, checkIntervalMs: 1_000 };

export interface WebHost {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 4 << 20;
/** Browsers cannot see protocol pings; an application event lets the page notice a dead socket. */
const HEARTBEAT_MS = 30_000;

const STATUS: Record<ErrorCode, number> = {
  invalid_input: 400,
  unknown_method: 404,
  not_found: 404,
  conflict: 409,
  unsupported: 501,
  unauthorized: 401,
  internal: 500,
};

export async function startWebHost(options: WebHostOptions): Promise<WebHost> {
  const token = options.token ?? newToken();
  // Opens the page's assets only; see auth.ts for why it is not the token.
  const assetSecret = newToken();
  const { backend } = options;
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  let port = 0;

  const server = http.createServer(
    { requestTimeout: timeouts.requestMs, headersTimeout: timeouts.headersMs, connectionsCheckingInterval: timeouts.checkIntervalMs },
    (req, res) => {
      void handle(req, res).catch((err: unknown) => {
        // The path only: the query may carry the token.
        console.error(`web host: ${req.method} ${String(req.url).split('?')[0]!.slice(0, 200)} failed:`, err);
        if (!res.headersSent) sendError(res, { code: 'internal', message: 'internal error' });
        else res.destroy();
      });
    },
  );

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    setSecurityHeaders(res);
    const url = parseRequestTarget(req.url);
    if (!url) return sendError(res, { code: 'invalid_input', message: 'malformed request target' }, 400, { close: true });
    if (!hostAllowed(req, port)) return sendError(res, { code: 'unauthorized', message: 'unexpected Host header' });

    if (url.pathname.startsWith('/binary/')) {
      if (req.method !== 'POST') return sendError(res, { code: 'unsupported', message: 'use POST for API calls' }, 405);
      if (!tokensEqual(token, headerToken(req))) return sendError(res, { code: 'unauthorized', message: 'missing or wrong access token' });
      const method = decodeSegment(url.pathname.slice('/binary/'.length));
      if (method === null) return sendError(res, { code: 'invalid_input', message: 'malformed method name' });
      const input = await readJsonOrAnswer(req, res);
      if (input === NO_BODY) return;
      const result = await dispatchBinary(backend, method, input);
      if (!result.ok) return sendError(res, result.error);
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': result.bytes.byteLength,
        'Cache-Control': 'no-store',
      });
      res.end(result.bytes);
      return;
    }

    if (url.pathname.startsWith('/api/')) {
      if (req.method !== 'POST') return sendError(res, { code: 'unsupported', message: 'use POST for API calls' }, 405);
      if (!tokensEqual(token, headerToken(req))) return sendError(res, { code: 'unauthorized', message: 'missing or wrong access token' });
      const method = decodeSegment(url.pathname.slice('/api/'.length));
      if (method === null) return sendError(res, { code: 'invalid_input', message: 'malformed method name' });
      const input = await readJsonOrAnswer(req, res);
      if (input === NO_BODY) return;
      const envelope = await dispatch(backend.handlers, method, input);
      res.setHeader('Cache-Control', 'no-store');
      return sendJson(res, envelope.ok ? 200 : STATUS[envelope.error.code], envelope);
    }

    // Page and assets: the token arrives once in the URL; the page's assets then ride on the asset cookie.
    const queryToken = url.searchParams.get('token');
    const authorised = tokensEqual(token, queryToken) || tokensEqual(assetSecret, assetCookie(req));
    if (!authorised) {
      res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('CLEFT Studio: open the address printed by `cleft serve`; it carries the access token.\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, { code: 'unsupported', message: 'method not allowed' }, 405);
    if (queryToken) res.setHeader('Set-Cookie', assetCookieHeader(assetSecret));
    const found = options.staticDir ? resolveStaticFile(options.staticDir, url.pathname) : null;
    if (!found) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(options.staticDir ? 'not found\n' : 'The renderer is not built: run `npm run build`.\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': found.type, 'Cache-Control': 'no-cache' });
    if (req.method === 'HEAD') return void res.end();
    // A file that vanishes or fails mid-read ends this response, nothing more.
    await pipeline(fs.createReadStream(found.file), res).catch(() => res.destroy());
  }

  /** The JSON body, or NO_BODY after answering 400/413 (oversized bodies also close the connection). */
  async function readJsonOrAnswer(req: http.IncomingMessage, res: http.ServerResponse): Promise<unknown> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) return tooLarge(res);
    try {
      return await readJson(req);
    } catch (err) {
      if (err instanceof BodyTooLarge) return tooLarge(res);
      sendError(res, { code: 'invalid_input', message: (err as Error).message });
      return NO_BODY;
    }
  }

  function tooLarge(res: http.ServerResponse): typeof NO_BODY {
    sendError(res, { code: 'invalid_input', message: `request body larger than ${MAX_BODY_BYTES} bytes` }, 413, { close: true });
    return NO_BODY;
  }

  // Events: one socket per page; every back-end event is forwarded as { event, payload }.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node hands the socket over without its error listener: a reset must not become uncaught.
    socket.on('error', () => socket.destroy());
    try {
      const url = parseRequestTarget(req.url);
      if (!url) return answerAndClose(socket, '400 Bad Request');
      const ok =
        url.pathname === '/events' &&
        hostAllowed(req, port) &&
        originAllowed(req, port) &&
        tokensEqual(token, url.searchParams.get('token'));
      if (!ok) return answerAndClose(socket, '401 Unauthorized');
      // ws answers a bad handshake (version, key) with 400 itself.
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    } catch (err) {
      console.error('web host: upgrade failed:', err);
      socket.destroy();
    }
  });
  const sockets = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    // A protocol error (unmasked or oversized frame) closes that socket; without a listener it would throw.
    ws.on('error', () => ws.terminate());
    // The socket is for server-to-client events only; anything sent to it is ignored.
  });

  // Requests Node cannot parse (bad request line, header overflow, slow headers) never reach the
  // handlers above; answer like Node's default would, then drop the connection.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    if (err.code === 'ECONNRESET') return void socket.destroy();
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    answerAndClose(socket, status);
  });
  const heartbeat = setInterval(() => {
    const text = JSON.stringify({ event: 'host.heartbeat', payload: { at: new Date().toISOString() } });
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  const unsubscribe = backend.events.subscribe((event, payload) => {
    const text = JSON.stringify({ event, payload });
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  // After listening, errors are per connection (e.g. too many open files): log, keep serving.
  server.on('error', (err) => console.error('web host:', err));

  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    close: async () => {
      unsubscribe();
      clearInterval(heartbeat);
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function setSecurityHeaders(res: http.ServerResponse): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** `close` ends the connection after the answer, for requests whose rest is not worth reading. */
function sendError(res: http.ServerResponse, error: ErrorPayload, status?: number, opts: { close?: boolean } = {}): void {
  if (opts.close) res.setHeader('Connection', 'close');
  sendJson(res, status ?? STATUS[error.code], { ok: false, error });
}

/** For sockets outside Node's request/response handling (refused upgrades, unparsable requests). */
function answerAndClose(socket: Duplex, status: string): void {
  if (!socket.writable) return void socket.destroy();
  // Destroy once the answer is handed to the system, so the client can read it before the close.
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
}

const NO_BODY = Symbol('answered');

class BodyTooLarge extends Error {}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new Error('request body is not valid JSON');
  }
}
