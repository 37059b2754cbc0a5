import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBackend, type Backend } from '../../../src/main/api/backend';
import { dispatch } from '../../../src/main/api/dispatch';
import { launchThreadWorker } from '../../../src/main/workers/thread-launcher';
import { CleftError } from '../../../src/common/errors';
import { tmpDir } from '../../helpers/tmp';
import { callApi } from '../../helpers/api';
import { LATEST_SCHEMA_VERSION } from '../../../src/main/db/migrations';

describe('dispatch validates every payload against the contract', () => {
  let backend: Backend;
  beforeEach(() => {
    backend = createBackend({ dataDir: tmpDir(), launchWorker: launchThreadWorker, host: 'web', version: '9.9.9' });
  });
  afterEach(() => backend.close());

  it('answers a valid call with a value that matches the output schema', async () => {
    const res = await dispatch(backend.handlers, 'app.info', {});
    expect(res.ok).toBe(true);
    if (res.ok)
      expect(res.value).toMatchObject({ name: 'CLEFT Studio', version: '9.9.9', host: 'web', schemaVersion: LATEST_SCHEMA_VERSION });
  });

  it('rejects an unknown method with a typed error', async () => {
    const res = await dispatch(backend.handlers, 'library.dropEverything', {});
    expect(res).toEqual({ ok: false, error: { code: 'unknown_method', message: 'unknown method "library.dropEverything"' } });
    const notString = await dispatch(backend.handlers, { evil: true }, {});
    expect(notString.ok || notString.error.code).toBe('unknown_method');
  });

  it('lists each field problem for invalid input instead of crashing', async () => {
    const res = await dispatch(backend.handlers, 'settings.update', { threads: -3, executionProvider: 'tpu', surprise: 1 });
    expect(res.ok).toBe(false);
    if (res.ok) return;
    expect(res.error.code).toBe('invalid_input');
    const paths = (res.error.issues ?? []).map((i) => i.path).sort();
    expect(paths).toEqual(['(root)', 'executionProvider', 'threads']);
  });

  it.each([null, 42, 'text', [1, 2], { id: 'seven' }, { id: -1 }])('refuses malformed payload %j for jobs.get', async (payload) => {
    const res = await dispatch(backend.handlers, 'jobs.get', payload);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error.code).toBe('invalid_input');
  });

  it('passes CleftErrors through and maps other throws to internal', async () => {
    const missing = await dispatch(backend.handlers, 'jobs.get', { id: 999 });
    expect(missing).toEqual({ ok: false, error: { code: 'not_found', message: 'no job with id 999' } });
    const broken = {
      ...backend.handlers,
      'library.stats': () => {
        throw new Error('disk on fire');
      },
    };
    const res = await dispatch(broken, 'library.stats', {});
    expect(res).toEqual({ ok: false, error: { code: 'internal', message: 'disk on fire' } });
  });

  it('refuses a handler result outside the contract', async () => {
    const lying = { ...backend.handlers, 'library.stats': () => ({ patients: 'many' }) as never };
    const res = await dispatch(lying, 'library.stats', {});
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error.code).toBe('internal');
  });

  it('says the native folder dialog is desktop-only', async () => {
    const res = await dispatch(backend.handlers, 'dialog.openFolder', {});
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error.code).toBe('unsupported');
  });

  it('settings round-trip and persist, defaults fill the rest', async () => {
    const updated = await dispatch(backend.handlers, 'settings.update', { threads: 2, executionProvider: 'cuda:1' });
    expect(updated).toEqual({
      ok: true,
      value: {
        threads: 2,
        executionProvider: 'cuda:1',
        annotator: 'researcher',
        sessionIdleMinutes: 10,
        sessionMemoryMb: 0,
        weights: 'float32',
      },
    });
    const again = await dispatch(backend.handlers, 'settings.get', {});
    expect(again).toEqual(updated);
    const webgpu = await dispatch(backend.handlers, 'settings.update', { executionProvider: 'webgpu' });
    expect(webgpu).toMatchObject({ ok: true, value: { executionProvider: 'webgpu' } });
    const bad = await dispatch(backend.handlers, 'settings.update', { executionProvider: 'metal' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(JSON.stringify(bad.error)).toMatch(/use 'auto', 'cpu', 'webgpu' or 'cuda:N'/);
  });

  it('CleftError survives a payload round trip', () => {
    const e = new CleftError('invalid_input', 'bad', [{ path: 'a', message: 'b' }]);
    const back = CleftError.fromPayload(JSON.parse(JSON.stringify(e.toPayload())));
    expect(back).toBeInstanceOf(CleftError);
    expect(back.code).toBe('invalid_input');
    expect(back.issues).toEqual([{ path: 'a', message: 'b' }]);
  });
});

describe('engine.status', () => {
  it('reports the provider in use and why CUDA is not, probed in a worker', async () => {
    const backend = createBackend({ dataDir: tmpDir(), launchWorker: launchThreadWorker, host: 'web', version: 't' });
    try {
      const status = await callApi(backend, 'engine.status', {});
      // This machine has no GPU and no CUDA provider files: auto falls back to CPU with a reason.
      expect(status).toMatchObject({ requested: 'auto', provider: 'cpu', available: true, telemetryDisabled: true });
      expect(status.reason).toMatch(/^CUDA not available: /);
      expect(status.providers.find((p) => p.name === 'cpu')?.status).toBe('loads');
      await callApi(backend, 'settings.update', { executionProvider: 'cuda:0' });
      expect(await callApi(backend, 'engine.status', {})).toMatchObject({ provider: 'cuda:0', available: false });
    } finally {
      backend.close();
    }
  });
});
