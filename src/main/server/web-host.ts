// The local web host: the same contract as Electron IPC, over HTTP (POST /api/<method>) and a
// WebSocket for events (/events), plus the built renderer. Bound to 127.0.0.1 with a per-launch
// token (see auth.ts). Lets the UI run in any browser on this machine and in Playwright tests.
import http from 'node:http';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { CONTENT_SECURITY_POLICY } from '../../common/csp';
import type { ErrorCode, ErrorPayload } from '../../common/errors';
import type { Backend } from '../api/backend';
import { dispatch } from '../api/dispatch';
import { dispatchBinary } from '../api/dispatch-binary';
import { cookieToken, headerToken, hostAllowed, newToken, originAllowed, TOKEN_COOKIE, tokensEqual } from './auth';
import { resolveStaticFile } from './static-files';

export interface WebHostOptions {
  backend: Backend;
  /** Folder with the built renderer; null serves the API only. */
  staticDir: string | null;
  port?: number;
  token?: string;
}

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
  const { backend } = options;
  let port = 0;

  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      console.error('web host request failed:', err);
      if (!res.headersSent) sendError(res, { code: 'internal', message: 'internal error' });
      else res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    setSecurityHeaders(res);
    if (!hostAllowed(req, port)) return sendError(res, { code: 'unauthorized', message: 'unexpected Host header' });
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);

    if (url.pathname.startsWith('/binary/')) {
      if (req.method !== 'POST') return sendError(res, { code: 'unsupported', message: 'use POST for API calls' }, 405);
      if (!tokensEqual(token, headerToken(req))) return sendError(res, { code: 'unauthorized', message: 'missing or wrong access token' });
      let input: unknown;
      try {
        input = await readJson(req);
      } catch (err) {
        return sendError(res, { code: 'invalid_input', message: (err as Error).message });
      }
      const result = await dispatchBinary(backend, decodeURIComponent(url.pathname.slice('/binary/'.length)), input);
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
      const method = decodeURIComponent(url.pathname.slice('/api/'.length));
      let input: unknown;
      try {
        input = await readJson(req);
      } catch (err) {
        return sendError(res, { code: 'invalid_input', message: (err as Error).message });
      }
      const envelope = await dispatch(backend.handlers, method, input);
      res.setHeader('Cache-Control', 'no-store');
      return sendJson(res, envelope.ok ? 200 : STATUS[envelope.error.code], envelope);
    }

    // Page and assets: the token arrives once in the URL, then rides in a same-site cookie.
    const queryToken = url.searchParams.get('token');
    const authorised = tokensEqual(token, queryToken) || tokensEqual(token, cookieToken(req));
    if (!authorised) {
      res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('CLEFT Studio: open the address printed by `cleft serve`; it carries the access token.\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, { code: 'unsupported', message: 'method not allowed' }, 405);
    if (queryToken) res.setHeader('Set-Cookie', `${TOKEN_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`);
    const found = options.staticDir ? resolveStaticFile(options.staticDir, url.pathname) : null;
    if (!found) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(options.staticDir ? 'not found\n' : 'The renderer is not built: run `npm run build`.\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': found.type, 'Cache-Control': 'no-cache' });
    if (req.method === 'HEAD') return void res.end();
    fs.createReadStream(found.file).pipe(res);
  }

  // Events: one socket per page; every back-end event is forwarded as { event, payload }.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const ok =
      url.pathname === '/events' && hostAllowed(req, port) && originAllowed(req, port) && tokensEqual(token, url.searchParams.get('token'));
    if (!ok) {
      socket.write('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  const sockets = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    // The socket is for server-to-client events only; anything sent to it is ignored.
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
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;

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

function sendError(res: http.ServerResponse, error: ErrorPayload, status?: number): void {
  sendJson(res, status ?? STATUS[error.code], { ok: false, error });
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error(`request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new Error('request body is not valid JSON');
  }
}
