// The web host's token: taken from the address once, removed from it, kept for this tab.
import { describe, expect, it, vi } from 'vitest';
import { takeToken, TOKEN_STORAGE_KEY, type TokenEnvironment } from '../../../src/renderer/src/lib/client/token';

function env(href: string, stored: Record<string, string> = {}, opts: { storageThrows?: boolean } = {}) {
  const storage = new Map(Object.entries(stored));
  const replaceState = vi.fn();
  const e: TokenEnvironment = {
    location: { href },
    history: { state: { keep: 1 }, replaceState },
    sessionStorage: {
      getItem: (k) => {
        if (opts.storageThrows) throw new Error('SecurityError');
        return storage.get(k) ?? null;
      },
      setItem: (k, v) => {
        if (opts.storageThrows) throw new Error('SecurityError');
        storage.set(k, v);
      },
    },
  };
  return { e, storage, replaceState };
}

describe('takeToken', () => {
  it('reads ?token=, stores it for the tab and strips it from the address (keeping path, other params and hash)', () => {
    const { e, storage, replaceState } = env('http://127.0.0.1:5000/?token=abc_DEF-1&lang=en#/settings');
    expect(takeToken(e)).toBe('abc_DEF-1');
    expect(storage.get(TOKEN_STORAGE_KEY)).toBe('abc_DEF-1');
    expect(replaceState).toHaveBeenCalledWith({ keep: 1 }, '', '/?lang=en#/settings');
  });

  it('leaves no "?" behind when the token was the only parameter', () => {
    const { e, replaceState } = env('http://127.0.0.1:5000/?token=t1#/library');
    takeToken(e);
    expect(replaceState).toHaveBeenCalledWith({ keep: 1 }, '', '/#/library');
  });

  it('after a reload (no token in the address) uses the stored one and touches nothing', () => {
    const { e, replaceState } = env('http://127.0.0.1:5000/#/models', { [TOKEN_STORAGE_KEY]: 'kept' });
    expect(takeToken(e)).toBe('kept');
    expect(replaceState).not.toHaveBeenCalled();
  });

  it('a token in the address wins over a stored one (the host restarted with a new token)', () => {
    const { e, storage } = env('http://127.0.0.1:5000/?token=new', { [TOKEN_STORAGE_KEY]: 'old' });
    expect(takeToken(e)).toBe('new');
    expect(storage.get(TOKEN_STORAGE_KEY)).toBe('new');
  });

  it('returns null when there is none anywhere', () => {
    expect(takeToken(env('http://127.0.0.1:5000/').e)).toBeNull();
    expect(takeToken(env('http://127.0.0.1:5000/?token=').e)).toBeNull();
  });

  it('works for this load when storage is disabled', () => {
    const { e, replaceState } = env('http://127.0.0.1:5000/?token=t2', {}, { storageThrows: true });
    expect(takeToken(e)).toBe('t2');
    expect(replaceState).toHaveBeenCalled();
    expect(takeToken(env('http://127.0.0.1:5000/', {}, { storageThrows: true }).e)).toBeNull();
  });
});
