// The contract over the local web host: POST /api/<method> for calls and one WebSocket (/events)
// for back-end events, reopened with exponential backoff when it drops (host restarted, laptop
// slept). Implements the same interface as the Electron IPC client.
import type { BinaryInput, BinaryMethodName } from '../../../../common/binary';
import type { EventName, EventPayload, MethodInput, MethodName, MethodOutput } from '../../../../common/contract';
import { CleftError } from '../../../../common/errors';
import { unpackBinary } from './binary';
import { asCleftError, unwrapEnvelope } from './envelope';
import { EventHub } from './event-hub';
import type { BinaryResult, ConnectionState, RendererClient } from './types';

export const TOKEN_HEADER = 'X-Cleft-Token';

/** The part of the browser WebSocket the client uses, so tests can supply a fake. */
export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}
export type SocketFactory = (url: string) => SocketLike;

export interface Backoff {
  initialMs: number;
  maxMs: number;
  factor: number;
}
export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 15_000, factor: 2 };

/** The web host sends host.heartbeat every 30 s; a channel silent for this long is taken as dead
 * (a laptop that slept, a proxy that dropped the socket without closing it) and reopened. */
export const HEARTBEAT_TIMEOUT_MS = 75_000;

/** Delay before reconnect attempt `attempt` (1-based): exponential, capped, with ±25% jitter so
 * several tabs do not hammer a restarting host in lockstep. */
export function backoffDelay(attempt: number, backoff: Backoff = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** Math.max(0, attempt - 1));
  return Math.round(base * (0.75 + 0.5 * random()));
}

export interface HttpClientOptions {
  /** Origin of the web host, e.g. http://127.0.0.1:5123 */
  baseUrl: string;
  token: string | null;
  fetch?: typeof fetch;
  createSocket?: SocketFactory;
  backoff?: Backoff;
  random?: () => number;
  heartbeatTimeoutMs?: number;
}

export class HttpClient implements RendererClient {
  readonly transport = 'http' as const;
  private readonly hub = new EventHub();
  private readonly fetchImpl: typeof fetch;
  private readonly createSocket: SocketFactory;
  private readonly backoff: Backoff;
  private readonly random: () => number;
  private readonly connectionListeners = new Set<(state: ConnectionState) => void>();
  private state: ConnectionState;
  private socket: SocketLike | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private staleTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly heartbeatTimeoutMs: number;
  private closed = false;

  constructor(private readonly options: HttpClientOptions) {
    // Bound so a plain `fetch` reference keeps its window receiver.
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.createSocket = options.createSocket ?? ((url) => new WebSocket(url) as unknown as SocketLike);
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.random = options.random ?? Math.random;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
    if (options.token) {
      this.state = { status: 'connecting', attempt: 0, retryInMs: null, reason: null };
      this.connect();
    } else {
      this.state = { status: 'closed', attempt: 0, retryInMs: null, reason: 'no access token' };
    }
  }

  private requireToken(): string {
    if (!this.options.token) {
      throw new CleftError(
        'unauthorized',
        'This page has no access token. Open the address printed by `cleft serve` (it ends in ?token=...).',
      );
    }
    return this.options.token;
  }

  /** POST /binary/<method>: an octet-stream on success, a JSON error envelope (4xx/5xx) otherwise. */
  async invokeBinary<M extends BinaryMethodName>(method: M, input: BinaryInput<M>): Promise<BinaryResult<M>> {
    const token = this.requireToken();
    let response: Response;
    try {
      response = await this.fetchImpl(new URL(`/binary/${encodeURIComponent(method)}`, this.options.baseUrl).href, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', [TOKEN_HEADER]: token },
        body: JSON.stringify(input ?? {}),
        cache: 'no-store',
        credentials: 'same-origin',
      });
    } catch (err) {
      throw asCleftError(err, `Cannot reach the CLEFT Studio host for ${method}; is \`cleft serve\` still running?`);
    }
    const type = response.headers.get('Content-Type') ?? '';
    if (!response.ok || type.includes('application/json')) {
      let body: unknown;
      try {
        body = await response.json();
      } catch {
        throw new CleftError('internal', `${method}: the host answered HTTP ${response.status} without a JSON body`);
      }
      unwrapEnvelope(body, method);
      throw new CleftError('internal', `${method}: the host answered JSON where pixels were expected`);
    }
    let buffer: ArrayBuffer;
    try {
      buffer = await response.arrayBuffer();
    } catch (err) {
      throw asCleftError(err, `${method}: the answer was cut off`);
    }
    return unpackBinary(method, buffer);
  }

  async invoke<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>> {
    const token = this.requireToken();
    let response: Response;
    try {
      response = await this.fetchImpl(new URL(`/api/${encodeURIComponent(method)}`, this.options.baseUrl).href, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', [TOKEN_HEADER]: token },
        body: JSON.stringify(input ?? {}),
        cache: 'no-store',
        credentials: 'same-origin',
      });
    } catch (err) {
      throw asCleftError(err, `Cannot reach the CLEFT Studio host for ${method}; is \`cleft serve\` still running?`);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      throw new CleftError('internal', `${method}: the host answered HTTP ${response.status} without a JSON body`);
    }
    return unwrapEnvelope<MethodOutput<M>>(body, method);
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    return this.hub.on(event, listener);
  }

  connection(): ConnectionState {
    return this.state;
  }

  onConnection(listener: (state: ConnectionState) => void): () => void {
    this.connectionListeners.add(listener);
    return () => {
      this.connectionListeners.delete(listener);
    };
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.disarmStale();
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, 'client closed');
    this.setState({ status: 'closed', attempt: 0, retryInMs: null, reason: 'closed' });
  }

  private eventsUrl(): string {
    const url = new URL('/events', this.options.baseUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('token', this.options.token ?? '');
    return url.href;
  }

  private connect(): void {
    this.retryTimer = null;
    if (this.closed) return;
    let socket: SocketLike;
    try {
      socket = this.createSocket(this.eventsUrl());
    } catch (err) {
      this.scheduleReconnect(err instanceof Error ? err.message : 'cannot open the event channel');
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.armStale();
      this.setState({ status: 'open', attempt: 0, retryInMs: null, reason: null });
    };
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return;
      this.armStale(); // any message (heartbeat or event) shows the channel is alive
      this.handleMessage(ev.data);
    };
    // Browsers report a refused upgrade (wrong token) as error then close(1006); close decides.
    socket.onerror = () => undefined;
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.disarmStale();
      this.scheduleReconnect(ev.code === 1006 || !ev.reason ? 'connection lost' : ev.reason);
    };
  }

  private armStale(): void {
    this.disarmStale();
    this.staleTimer = setTimeout(() => this.onStale(), this.heartbeatTimeoutMs);
  }

  private disarmStale(): void {
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.staleTimer = null;
  }

  /** No heartbeat in time: the socket is stale even if the browser still calls it open. */
  private onStale(): void {
    this.staleTimer = null;
    const socket = this.socket;
    if (!socket || this.closed) return;
    this.socket = null;
    socket.close(4000, 'stale');
    this.scheduleReconnect(`stale: no heartbeat from the host for ${Math.round(this.heartbeatTimeoutMs / 1000)} s`);
  }

  private scheduleReconnect(reason: string): void {
    if (this.closed) return;
    const attempt = this.state.attempt + 1;
    const delay = backoffDelay(attempt, this.backoff, this.random);
    this.setState({ status: 'reconnecting', attempt, retryInMs: delay, reason });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private handleMessage(data: unknown): void {
    if (typeof data !== 'string') return;
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      console.warn('CLEFT: ignoring a non-JSON event message');
      return;
    }
    if (typeof message !== 'object' || message === null) return;
    const { event, payload } = message as { event?: unknown; payload?: unknown };
    this.hub.emit(event, payload);
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    for (const listener of [...this.connectionListeners]) listener(state);
  }
}
