// HTTP to a saved DICOMweb archive, and nothing else: every request goes to a URL under the
// connection's base URL (redirects and absolute URLs a server hands back, e.g. a BulkDataURI, are
// checked the same way and refused when they point elsewhere), carries the connection's auth header,
// and fails with a message naming the archive and the request path: timeout, credentials refused,
// not found, connection refused or dropped. The timeout is an idle timeout: no response headers, or
// no body bytes, for `timeoutMs`; a large transfer that keeps moving is never cut.
import { CleftError, type ErrorCode } from '../../common/errors';
import { authHeaders, type ArchiveConnection } from './connections';

export const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_REDIRECTS = 5;

export type ArchiveErrorKind =
  | 'timeout'
  | 'unauthorized' // 401 / 403
  | 'not_found' // 404
  | 'refused' // nothing listening, host unknown
  | 'dropped' // the connection closed mid-request or mid-body
  | 'tls' // certificate not trusted
  | 'http' // any other non-2xx status
  | 'malformed' // a body that is not what the request asked for
  | 'outside_base' // a URL outside the configured archive
  | 'cancelled'; // the caller's signal

const CODES: Record<ArchiveErrorKind, ErrorCode> = {
  timeout: 'internal',
  unauthorized: 'unauthorized',
  not_found: 'not_found',
  refused: 'internal',
  dropped: 'internal',
  tls: 'internal',
  http: 'internal',
  malformed: 'internal',
  outside_base: 'invalid_input',
  cancelled: 'conflict',
};

export class ArchiveError extends CleftError {
  constructor(
    readonly kind: ArchiveErrorKind,
    readonly archive: string,
    /** METHOD and the path relative to the archive's base URL, e.g. "GET /studies?PatientID=P1". */
    readonly request: string,
    reason: string,
    readonly status?: number,
  ) {
    super(CODES[kind], `archive "${archive}": ${request}: ${reason}`);
    this.name = 'ArchiveError';
  }
}

export interface ArchiveRequest {
  method?: 'GET' | 'POST';
  /** The Accept header (e.g. application/dicom+json). */
  accept?: string;
  /** More headers; Authorization always comes from the connection. */
  headers?: Record<string, string>;
  body?: Uint8Array<ArrayBuffer> | string;
  /** Idle timeout in ms: no headers, or no body bytes, for this long fails the request (default 30 s). */
  timeoutMs?: number;
  /** The caller's cancel (a job's signal): the request fails with kind 'cancelled'. */
  signal?: AbortSignal;
  /** Statuses returned as responses instead of thrown (e.g. STOW-RS 409 with its failure list). 401/403 always throw. */
  allowStatus?: readonly number[];
}

function basePath(conn: ArchiveConnection): { origin: string; path: string } {
  const u = new URL(conn.url);
  return { origin: u.origin, path: u.pathname.replace(/\/+$/, '') };
}

/** "/studies?x=1" for a URL under the base (what messages show). */
function relativeTarget(conn: ArchiveConnection, u: URL): string {
  const p = u.pathname.slice(basePath(conn).path.length);
  return `${p === '' ? '/' : p}${u.search}`;
}

/** Same origin as the base URL, no userinfo, and a path at or under the base path. */
function isUnderBase(conn: ArchiveConnection, u: URL): boolean {
  const base = basePath(conn);
  return (
    u.origin === base.origin &&
    u.username === '' &&
    u.password === '' &&
    (base.path === '' || u.pathname === base.path || u.pathname.startsWith(`${base.path}/`))
  );
}

const outsideReason = (conn: ArchiveConnection): string =>
  `refused: outside the configured archive URL ${conn.url} (only that URL is ever contacted)`;

/**
 * The URL of `target` (a path relative to the base, e.g. "studies?PatientID=P1" or "/studies", or an
 * absolute URL the server handed back) if it lies under the archive's base URL; else an
 * ArchiveError 'outside_base' naming where it pointed (without its query).
 */
export function archiveUrl(conn: ArchiveConnection, target: string, method = 'GET'): URL {
  const base = basePath(conn);
  const absolute = /^[a-z][a-z0-9+.-]*:/i.test(target);
  let u: URL;
  try {
    u = absolute ? new URL(target) : new URL(`${base.origin}${base.path}${target.startsWith('/') ? '' : '/'}${target}`);
  } catch {
    throw new ArchiveError('outside_base', conn.name, `${method} ${target}`, 'not a valid URL');
  }
  if (!isUnderBase(conn, u)) throw new ArchiveError('outside_base', conn.name, `${method} ${u.origin}${u.pathname}`, outsideReason(conn));
  u.hash = '';
  return u;
}

const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_NOT_YET_VALID',
]);

function errorCode(e: unknown): string | undefined {
  for (let c: unknown = e, depth = 0; c && depth < 4; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** An exception of fetch or of a body read, as an ArchiveError. */
function networkError(conn: ArchiveConnection, request: string, u: URL, e: unknown, state: RequestState): ArchiveError {
  if (e instanceof ArchiveError) return e;
  if (state.callerSignal?.aborted) return new ArchiveError('cancelled', conn.name, request, 'cancelled');
  if (state.timedOut) return new ArchiveError('timeout', conn.name, request, `no answer for ${state.timeoutMs / 1000} s (timed out)`);
  const code = errorCode(e);
  const where = `${u.protocol}//${u.host}`;
  if (code === 'ECONNREFUSED')
    return new ArchiveError('refused', conn.name, request, `connection refused by ${where} (is the archive running, is the URL right?)`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ArchiveError('refused', conn.name, request, `host ${u.hostname} not found`);
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return new ArchiveError('timeout', conn.name, request, `no answer from ${where} (timed out)`);
  if (code !== undefined && TLS_CODES.has(code))
    return new ArchiveError('tls', conn.name, request, `the TLS certificate of ${where} is not trusted (${code})`);
  return new ArchiveError(
    'dropped',
    conn.name,
    request,
    `connection to ${where} dropped${code ? ` (${code})` : ''}: the archive closed it before the answer was complete`,
  );
}

interface RequestState {
  callerSignal?: AbortSignal;
  timeoutMs: number;
  timedOut: boolean;
}

/** The first bytes of an error body as one line, for messages (servers often say why there). */
async function errorDetail(res: Response): Promise<string> {
  try {
    const text = (await res.text()).replace(/\s+/g, ' ').trim();
    return text === '' ? '' : `: ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`;
  } catch {
    return '';
  }
}

/**
 * Sends one request to the archive (following redirects only inside its base URL) and returns the
 * response, whose body keeps the idle timeout until it is read to the end. Non-2xx statuses throw
 * ArchiveError unless listed in `allowStatus`.
 */
export async function archiveFetch(conn: ArchiveConnection, target: string, req: ArchiveRequest = {}): Promise<Response> {
  const method = req.method ?? 'GET';
  let u = archiveUrl(conn, target, method);
  const state: RequestState = { callerSignal: req.signal, timeoutMs: req.timeoutMs ?? DEFAULT_TIMEOUT_MS, timedOut: false };
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const finish = (): void => {
    clearTimeout(timer);
    req.signal?.removeEventListener('abort', onCallerAbort);
  };
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      state.timedOut = true;
      controller.abort();
    }, state.timeoutMs);
    timer.unref(); // an unread body must not keep a CLI alive; the socket itself does while it is in use
  };
  const onCallerAbort = (): void => controller.abort();
  if (req.signal?.aborted) throw new ArchiveError('cancelled', conn.name, `${method} ${relativeTarget(conn, u)}`, 'cancelled');
  req.signal?.addEventListener('abort', onCallerAbort, { once: true });

  const headers: Record<string, string> = { ...req.headers, ...authHeaders(conn) };
  if (req.accept) headers.Accept = req.accept;
  let res: Response;
  for (let hops = 0; ; hops++) {
    const request = `${method} ${relativeTarget(conn, u)}`;
    arm();
    try {
      res = await fetch(u, { method, headers, body: req.body, redirect: 'manual', signal: controller.signal });
    } catch (e) {
      finish();
      throw networkError(conn, request, u, e, state);
    }
    if (res.status < 300 || res.status >= 400 || res.status === 304) break;
    await res.body?.cancel().catch(() => undefined);
    const location = res.headers.get('location');
    if (location === null || method !== 'GET' || hops >= MAX_REDIRECTS) {
      finish();
      throw new ArchiveError(
        'http',
        conn.name,
        request,
        `HTTP ${res.status} redirect not followed${location === null ? ' (no Location)' : ''}`,
        res.status,
      );
    }
    let next: URL | null = null;
    try {
      next = new URL(location, u);
    } catch {
      /* reported below */
    }
    if (next === null || !isUnderBase(conn, next)) {
      finish();
      const where = next ? `${next.origin}${next.pathname}` : `"${location.slice(0, 200)}"`;
      throw new ArchiveError('outside_base', conn.name, request, `redirected to ${where}: ${outsideReason(conn)}`);
    }
    next.hash = '';
    u = next;
  }
  const request = `${method} ${relativeTarget(conn, u)}`;

  if (res.status >= 400 && (res.status === 401 || res.status === 403 || !(req.allowStatus ?? []).includes(res.status))) {
    const detail = await errorDetail(res).catch(() => '');
    finish();
    if (res.status === 401 || res.status === 403)
      throw new ArchiveError(
        'unauthorized',
        conn.name,
        request,
        `credentials refused (HTTP ${res.status}): check the archive's user and password or token`,
        res.status,
      );
    if (res.status === 404) throw new ArchiveError('not_found', conn.name, request, `not found (HTTP 404)${detail}`, 404);
    throw new ArchiveError('http', conn.name, request, `HTTP ${res.status} ${res.statusText}${detail}`, res.status);
  }

  // The body, with the idle timeout re-armed per chunk and errors mapped like the request's.
  const source = res.body;
  if (source === null || res.status === 204 || res.status === 205 || res.status === 304) {
    finish();
    return res;
  }
  arm();
  const reader = source.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          finish();
          ctrl.close();
          return;
        }
        arm();
        ctrl.enqueue(value);
      } catch (e) {
        finish();
        ctrl.error(networkError(conn, request, u, e, state));
      }
    },
    async cancel(reason) {
      finish();
      await reader.cancel(reason);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** A request's whole body as bytes (errors as ArchiveError). */
export async function archiveBytes(conn: ArchiveConnection, target: string, req: ArchiveRequest = {}): Promise<Buffer> {
  const res = await archiveFetch(conn, target, req);
  return Buffer.from(await res.arrayBuffer());
}

/** GET of a DICOM JSON answer (QIDO-RS, metadata): [] for 204 No Content; a body that is not JSON is 'malformed'. */
export async function archiveDicomJson<T = unknown>(conn: ArchiveConnection, target: string, req: ArchiveRequest = {}): Promise<T> {
  const res = await archiveFetch(conn, target, { accept: 'application/dicom+json', ...req });
  const text = await res.text();
  if (res.status === 204 || text.trim() === '') return [] as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ArchiveError(
      'malformed',
      conn.name,
      `${req.method ?? 'GET'} ${relativeTarget(conn, archiveUrl(conn, target))}`,
      'the answer is not JSON',
    );
  }
}
