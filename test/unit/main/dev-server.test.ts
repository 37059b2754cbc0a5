// The packaged app ignores ELECTRON_RENDERER_URL; only a development run loads a dev server.
import { describe, expect, it } from 'vitest';
import { devServerUrl } from '../../../src/main/electron/dev-server';

describe('devServerUrl', () => {
  it('is ignored by a packaged app', () => {
    expect(devServerUrl({ ELECTRON_RENDERER_URL: 'http://evil.example/' }, true)).toBeUndefined();
    expect(devServerUrl({ ELECTRON_RENDERER_URL: 'http://localhost:5173/' }, true)).toBeUndefined();
  });

  it('is honoured in development, and absent when unset or empty', () => {
    expect(devServerUrl({ ELECTRON_RENDERER_URL: 'http://localhost:5173/' }, false)).toBe('http://localhost:5173/');
    expect(devServerUrl({}, false)).toBeUndefined();
    expect(devServerUrl({ ELECTRON_RENDERER_URL: '' }, false)).toBeUndefined();
  });
});
