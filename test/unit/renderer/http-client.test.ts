// The browser transport, in node with fetch and WebSocket mocked: envelopes become values or
// CleftErrors, events are validated and fanned out, and the event channel reconnects with backoff.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CleftError } from '../../../src/common/errors';
import type { Job, JobOf } from '../../../src/common/jobs';
import { backoffDelay, HttpClient, type SocketLike } from '../../../src/renderer/src/lib/client/http-client';
import type { ConnectionState } from '../../../src/renderer/src/lib/client/types';

class FakeSocket implements SocketLike {
  static all: FakeSocket[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  closedByClient = false;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  close(): void {
    this.closedByClient = true;
  }
  open(): void {
    this.onopen?.({});
  }
  drop(code = 1006): void {
    this.onerror?.({});
    this.onclose?.({ code, reason: '' });
  }
  send(message: unknown): void {
    this.onmessage?.({ data: typeof message === 'string' ? message : JSON.stringify(message) });
  }
}

const BASE = 'http://127.0.0.1:4321';
const TOKEN = 'tok_abc-123';

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

function job(overrides: Partial<JobOf<'hash-folder'>> = {}): Job {
  return {
    id: 7,
    kind: 'hash-folder',
    status: 'running',
    params: { folder: '/data' },
    progress: { fraction: 0.5, message: 'Hashed 1 of 2 files', etaSeconds: 3 },
    result: null,
    error: null,
    checkpointPath: null,
    revision: 1,
    createdAt: '2025-01-01T00:00:00.000Z',
    startedAt: '2025-01-01T00:00:01.000Z',
    finishedAt: null,
    ...overrides,
  };
}

function client(fetchImpl: typeof fetch = vi.fn(), token: string | null = TOKEN): HttpClient {
  return new HttpClient({ baseUrl: BASE, token, fetch: fetchImpl, createSocket: (url) => new FakeSocket(url), random: () => 0.5 });
}

beforeEach(() => {
  FakeSocket.all = [];
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('HttpClient.invoke', () => {
  it('POSTs JSON to /api/<method> with the token header and returns the envelope value', async () => {
    const fetchMock = vi.fn(async (..._args: Parameters<typeof fetch>) => jsonResponse(200, { ok: true, value: { studies: 3 } }));
    const c = client(fetchMock as unknown as typeof fetch);
    await expect(c.invoke('library.stats', {})).resolves.toEqual({ studies: 3 });
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0]!;
    expect(url).toBe(`${BASE}/api/library.stats`);
    expect(init?.method).toBe('POST');
    expect(new Headers(init?.headers).get('X-Cleft-Token')).toBe(TOKEN);
    expect(new Headers(init?.headers).get('Content-Type')).toBe('application/json');
    expect(init?.body).toBe('{}');
    c.close();
  });

  it('sends the input as the body', async () => {
    const fetchMock = vi.fn(async (..._args: Parameters<typeof fetch>) => jsonResponse(200, { ok: true, value: job() }));
    const c = client(fetchMock as unknown as typeof fetch);
    await c.invoke('jobs.start', { kind: 'hash-folder', params: { folder: '/x y/z' } });
    expect(JSON.parse(String(fetchMock.mock.calls[0]![1]?.body))).toEqual({ kind: 'hash-folder', params: { folder: '/x y/z' } });
    c.close();
  });

  it('throws a CleftError with code, message and issues from an error envelope', async () => {
    const body = {
      ok: false,
      error: {
        code: 'invalid_input',
        message: 'bad settings',
        issues: [{ path: 'threads', message: 'Too big: expected number to be <=256' }],
      },
    };
    const c = client((async () => jsonResponse(400, body)) as unknown as typeof fetch);
    const err = await c.invoke('settings.update', { threads: 999 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CleftError);
    expect(err).toMatchObject({ code: 'invalid_input', message: 'bad settings', issues: body.error.issues });
    c.close();
  });

  it('maps a 401 envelope to an unauthorized CleftError', async () => {
    const c = client((async () =>
      jsonResponse(401, {
        ok: false,
        error: { code: 'unauthorized', message: 'missing or wrong access token' },
      })) as unknown as typeof fetch);
    await expect(c.invoke('app.info', {})).rejects.toMatchObject({ code: 'unauthorized', message: 'missing or wrong access token' });
    c.close();
  });

  it('turns a body that is not JSON into an internal CleftError naming the status', async () => {
    const c = client((async () => new Response('<html>proxy error</html>', { status: 502 })) as unknown as typeof fetch);
    const err = await c.invoke('app.info', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CleftError);
    expect(err).toMatchObject({ code: 'internal' });
    expect((err as Error).message).toContain('502');
    c.close();
  });

  it('rejects JSON that is not an envelope, and error envelopes with an unknown shape', async () => {
    const c1 = client((async () => jsonResponse(200, { studies: 3 })) as unknown as typeof fetch);
    await expect(c1.invoke('library.stats', {})).rejects.toMatchObject({ code: 'internal' });
    const c2 = client((async () => jsonResponse(500, { ok: false, error: { code: 'exploded' } })) as unknown as typeof fetch);
    await expect(c2.invoke('library.stats', {})).rejects.toMatchObject({ code: 'internal' });
    c1.close();
    c2.close();
  });

  it('turns a network failure into a CleftError that says the host is unreachable', async () => {
    const c = client((async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof fetch);
    const err = await c.invoke('app.info', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CleftError);
    expect((err as Error).message).toMatch(/Cannot reach the CLEFT Studio host.*Failed to fetch/);
    c.close();
  });

  it('without a token refuses locally and opens no socket', async () => {
    const fetchMock = vi.fn();
    const c = client(fetchMock as unknown as typeof fetch, null);
    await expect(c.invoke('app.info', {})).rejects.toMatchObject({ code: 'unauthorized' });
    expect(fetchMock).not.toHaveBeenCalled();
    expect(FakeSocket.all).toHaveLength(0);
    expect(c.connection()).toMatchObject({ status: 'closed', reason: 'no access token' });
  });
});

describe('HttpClient events', () => {
  it('opens /events with the token (ws: scheme) and reports the channel open', () => {
    const c = client();
    const states: ConnectionState[] = [];
    c.onConnection((s) => states.push(s));
    expect(FakeSocket.all).toHaveLength(1);
    const url = new URL(FakeSocket.all[0]!.url);
    expect(url.protocol).toBe('ws:');
    expect(url.host).toBe('127.0.0.1:4321');
    expect(url.pathname).toBe('/events');
    expect(url.searchParams.get('token')).toBe(TOKEN);
    expect(c.connection().status).toBe('connecting');
    FakeSocket.all[0]!.open();
    expect(states.map((s) => s.status)).toEqual(['open']);
    c.close();
  });

  it('delivers valid events to the listeners of that event only, and stops after unsubscribe', () => {
    const c = client();
    const socket = FakeSocket.all[0]!;
    socket.open();
    const jobs: Job[] = [];
    const commands: unknown[] = [];
    const off = c.on('job.updated', (j) => jobs.push(j));
    c.on('ui.command', (cmd) => commands.push(cmd));
    socket.send({ event: 'job.updated', payload: job() });
    socket.send({ event: 'ui.command', payload: { command: 'navigate', page: 'models' } });
    expect(jobs).toEqual([job()]);
    expect(commands).toEqual([{ command: 'navigate', page: 'models' }]);
    off();
    socket.send({ event: 'job.updated', payload: job({ status: 'done' }) });
    expect(jobs).toHaveLength(1);
    c.close();
  });

  it('drops malformed messages, unknown events and payloads outside the contract', () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const c = client();
    const socket = FakeSocket.all[0]!;
    socket.open();
    const jobs: Job[] = [];
    c.on('job.updated', (j) => jobs.push(j));
    socket.send('not json');
    socket.send('null');
    socket.send({ event: 'no.such.event', payload: {} });
    socket.send({ event: 'job.updated', payload: { id: 'seven' } });
    socket.send({ event: 'job.updated', payload: job({ id: 8 }) });
    expect(jobs.map((j) => j.id)).toEqual([8]);
    c.close();
  });

  it('a throwing listener does not starve the others', () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const c = client();
    FakeSocket.all[0]!.open();
    const seen: number[] = [];
    c.on('job.updated', () => {
      throw new Error('boom');
    });
    c.on('job.updated', (j) => seen.push(j.id));
    FakeSocket.all[0]!.send({ event: 'job.updated', payload: job() });
    expect(seen).toEqual([7]);
    c.close();
  });

  it('reconnects with growing, capped delays and resets the count once open', () => {
    vi.useFakeTimers();
    const c = new HttpClient({
      baseUrl: BASE,
      token: TOKEN,
      fetch: vi.fn() as unknown as typeof fetch,
      createSocket: (url) => new FakeSocket(url),
      backoff: { initialMs: 100, maxMs: 1000, factor: 2 },
      random: () => 0.5, // no jitter
    });
    const states: ConnectionState[] = [];
    c.onConnection((s) => states.push(s));
    FakeSocket.all[0]!.open();

    const delays: number[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      FakeSocket.all.at(-1)!.drop();
      const s = c.connection();
      expect(s.status).toBe('reconnecting');
      expect(s.attempt).toBe(attempt);
      delays.push(s.retryInMs!);
      const before = FakeSocket.all.length;
      vi.advanceTimersByTime(s.retryInMs! - 1);
      expect(FakeSocket.all.length).toBe(before); // not early
      vi.advanceTimersByTime(1);
      expect(FakeSocket.all.length).toBe(before + 1);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);

    FakeSocket.all.at(-1)!.open();
    expect(c.connection()).toEqual({ status: 'open', attempt: 0, retryInMs: null, reason: null });
    FakeSocket.all.at(-1)!.drop();
    expect(c.connection().retryInMs).toBe(100);
    expect(states.filter((s) => s.status === 'open')).toHaveLength(2);
    c.close();
  });

  it('events from a replaced socket are ignored', () => {
    vi.useFakeTimers();
    const c = client();
    const first = FakeSocket.all[0]!;
    first.open();
    first.drop();
    vi.runOnlyPendingTimers();
    const seen: number[] = [];
    c.on('job.updated', (j) => seen.push(j.id));
    first.send({ event: 'job.updated', payload: job({ id: 1 }) });
    FakeSocket.all[1]!.open();
    FakeSocket.all[1]!.send({ event: 'job.updated', payload: job({ id: 2 }) });
    expect(seen).toEqual([2]);
    c.close();
  });

  it('close() stops reconnecting and closes the socket', () => {
    vi.useFakeTimers();
    const c = client();
    FakeSocket.all[0]!.drop();
    c.close();
    vi.runAllTimers();
    expect(FakeSocket.all).toHaveLength(1);
    expect(c.connection().status).toBe('closed');

    const c2 = client();
    const s = FakeSocket.all.at(-1)!;
    s.open();
    c2.close();
    expect(s.closedByClient).toBe(true);
    s.drop(1000); // the close event after our own close() schedules nothing
    vi.runAllTimers();
    expect(c2.connection().status).toBe('closed');
  });
});

describe('backoffDelay', () => {
  it('grows exponentially, caps, and jitters within ±25%', () => {
    const b = { initialMs: 500, maxMs: 15_000, factor: 2 };
    expect(backoffDelay(1, b, () => 0.5)).toBe(500);
    expect(backoffDelay(3, b, () => 0.5)).toBe(2000);
    expect(backoffDelay(20, b, () => 0.5)).toBe(15_000);
    expect(backoffDelay(1, b, () => 0)).toBe(375);
    expect(backoffDelay(1, b, () => 0.999999)).toBe(625);
  });
});

describe('HttpClient heartbeat', () => {
  it('takes a channel silent for 75 s as stale and reopens it; heartbeats keep it open', () => {
    vi.useFakeTimers();
    const c = client();
    const s = FakeSocket.all[0]!;
    s.open();
    vi.advanceTimersByTime(60_000);
    s.send({ event: 'host.heartbeat', payload: { at: '2025-01-01T00:00:30.000Z' } });
    vi.advanceTimersByTime(60_000);
    expect(c.connection().status).toBe('open');
    expect(s.closedByClient).toBe(false);
    vi.advanceTimersByTime(16_000);
    expect(s.closedByClient).toBe(true);
    expect(c.connection().status).toBe('reconnecting');
    expect(c.connection().reason).toMatch(/stale/);
    vi.advanceTimersByTime(1_000);
    expect(FakeSocket.all).toHaveLength(2);
    c.close();
  });
});

describe('HttpClient.invokeBinary', () => {
  it('POSTs to /binary/<method> and decodes metadata and aligned pixels', async () => {
    const meta = {
      instanceId: 5,
      frame: 0,
      numberOfFrames: 1,
      rows: 2,
      columns: 2,
      fullRows: 2,
      fullColumns: 2,
      samples: 1,
      dataType: 'uint16',
      minValue: 1,
      maxValue: 4,
      photometric: 'MONOCHROME2',
      rescaleSlope: 1,
      rescaleIntercept: 0,
      windowCenter: [],
      windowWidth: [],
      windowExplanation: [],
      voiLutFunction: null,
      laterality: 'L',
      viewPosition: 'CC',
      patientOrientation: null,
      pixelSpacing: null,
      forProcessing: false,
    };
    const { encodeBinary } = await import('../../../src/common/binary');
    const px = new Uint16Array([1, 2, 3, 4]);
    const body = encodeBinary(meta, new Uint8Array(px.buffer));
    const fetchMock = vi.fn(
      async () =>
        new Response(body.slice().buffer as ArrayBuffer, { status: 200, headers: { 'Content-Type': 'application/octet-stream' } }),
    );
    const c = client(fetchMock as unknown as typeof fetch);
    const out = await c.invokeBinary('image.frame', { instanceId: 5 });
    expect(out.meta.rows).toBe(2);
    expect([...new Uint16Array(out.data)]).toEqual([1, 2, 3, 4]);
    const [url, init] = (fetchMock.mock.calls[0] as unknown as [string, RequestInit])!;
    expect(url).toBe(`${BASE}/binary/image.frame`);
    expect(new Headers(init.headers).get('X-Cleft-Token')).toBe(TOKEN);
    c.close();
  });

  it('turns a JSON error envelope into a CleftError', async () => {
    const fetchMock = vi.fn(async () => jsonResponse(404, { ok: false, error: { code: 'not_found', message: 'no image with id 9' } }));
    const c = client(fetchMock as unknown as typeof fetch);
    await expect(c.invokeBinary('image.frame', { instanceId: 9 })).rejects.toMatchObject({ code: 'not_found' });
    c.close();
  });
});
