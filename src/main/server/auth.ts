// Access control for the local web host. It listens on 127.0.0.1 only, and every request must
// carry the per-launch token: as `?token=` on the first page load (which sets a same-site cookie
// for the page's own assets), as the X-Cleft-Token header on API calls (a custom header, so no
// other web page can send it without a CORS preflight we never grant), and as `?token=` on the
// event socket together with a matching Origin. The Host header is checked against DNS rebinding.
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_HEADER = 'x-cleft-token';
export const TOKEN_COOKIE = 'cleft_token';

export function newToken(): string {
  return crypto.randomBytes(24).toString('base64url');
}

export function tokensEqual(expected: string, given: string | null | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

export function cookieToken(req: IncomingMessage): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === TOKEN_COOKIE) return rest.join('=');
  }
  return null;
}

export function headerToken(req: IncomingMessage): string | null {
  const v = req.headers[TOKEN_HEADER];
  return typeof v === 'string' ? v : null;
}

/** Only loopback names with our own port: a rebinding attacker's hostname never matches. */
export function hostAllowed(req: IncomingMessage, port: number): boolean {
  const host = req.headers.host;
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

export function originAllowed(req: IncomingMessage, port: number): boolean {
  const origin = req.headers.origin;
  // Non-browser clients (tests, scripts) send no Origin; browsers always do on WebSocket.
  if (origin === undefined) return true;
  return origin === `http://127.0.0.1:${port}` || origin === `http://localhost:${port}`;
}
