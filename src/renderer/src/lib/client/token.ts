// The web host's per-launch access token. It arrives once in the address (`/?token=...`, printed by
// `cleft serve`); the page keeps it in sessionStorage (this tab only, gone when the tab closes) and
// removes it from the address bar so it does not end up in bookmarks, screenshots or history.

export const TOKEN_STORAGE_KEY = 'cleft.token';

export interface TokenEnvironment {
  location: { href: string };
  history: { state: unknown; replaceState(data: unknown, unused: string, url?: string): void };
  sessionStorage: Pick<Storage, 'getItem' | 'setItem'>;
}

/** Reads the token from the address (preferred: it is the newest) or from this tab's storage. */
export function takeToken(env: TokenEnvironment): string | null {
  const url = new URL(env.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    try {
      env.sessionStorage.setItem(TOKEN_STORAGE_KEY, fromUrl);
    } catch {
      // Storage can be disabled; the token then lives for this page load only.
    }
    url.searchParams.delete('token');
    env.history.replaceState(env.history.state, '', `${url.pathname}${url.search}${url.hash}`);
    return fromUrl;
  }
  try {
    return env.sessionStorage.getItem(TOKEN_STORAGE_KEY);
  } catch {
    return null;
  }
}
