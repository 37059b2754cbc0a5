// Access control for the local web host. It listens on 127.0.0.1 only, and every request must
// carry the per-launch token: as `?token=` on the first page load, as the X-Cleft-Token header on
// API calls (a custom header, so no other web page can send it without a CORS preflight we never
// grant), and as `?token=` on the event socket together with a matching Origin. The Host header
// is checked against DNS rebinding.
// The first page load sets a cookie for the page's own assets (scripts, styles). It holds a second
// secret that opens nothing else: browsers do not separate cookies by port, so any other server on
// 127.0.0.1 receives it, and it must never work as the API token.
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_HEADER = 'x-cleft-token';
export const ASSET_COOKIE = 'cleft_asset';

export function newToken(): string {
  return crypto.randomBytes(24).toString('base64url');
}

export function tokensEqual(expected: string, given: string | null | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** The asset cookie's value, or null; only ever compared with the asset secret. */
export function assetCookie(req: IncomingMessage): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === ASSET_COOKIE) return rest.join('=');
  }
  return null;
}

export function assetCookieHeader(secret: string): string {
  return `${ASSET_COOKIE}=${secret}; HttpOnly; SameSite=Strict; Path=/`;
}

export function headerToken(req: IncomingMessage): string | null {
  const v = req.headers[TOKEN_HEADER];
  return typeof v === 'string' ? v : null;
}

/** Only loopback names with our own port: a rebinding attacker's hostname never matches. */
export function hostAllowed(req: IncomingMessage, port: number): boolean {
  // Node keeps the first of several Host headers; a request with two is refused, not guessed at.
  if (headerCount(req, 'host') !== 1) return false;
  const host = req.headers.host;
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

export function originAllowed(req: IncomingMessage, port: number): boolean {
  if (headerCount(req, 'origin') > 1) return false;
  const origin = req.headers.origin;
  // Non-browser clients (tests, scripts) send no Origin; browsers always do on WebSocket.
  if (origin === undefined) return true;
  return origin === `http://127.0.0.1:${port}` || origin === `http://localhost:${port}`;
}

function headerCount(req: IncomingMessage, name: string): number {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === name) count++;
  return count;
}
