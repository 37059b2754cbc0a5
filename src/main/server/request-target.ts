// What the web host accepts as a request target, checked on the raw text before any URL parsing:
// `new URL('//', base)` throws, and absolute-form (`http://evil/`) or asterisk-form (`*`) targets
// would otherwise be read as paths of ours. Anything else is refused with 400 by the caller.

/** Longer targets are refused; ours are short (method names, `?token=`, asset paths). */
export const MAX_TARGET_LENGTH = 2048;

export interface RequestTarget {
  pathname: string;
  searchParams: URLSearchParams;
}

/** Origin-form only: one leading '/', printable ASCII, bounded length; null when refused. */
export function parseRequestTarget(raw: string | undefined): RequestTarget | null {
  if (raw === undefined || raw.length === 0 || raw.length > MAX_TARGET_LENGTH) return null;
  if (raw[0] !== '/' || raw[1] === '/' || raw[1] === '\\') return null;
  if (!/^[\x21-\x7e]+$/.test(raw)) return null;
  try {
    const url = new URL(raw, 'http://127.0.0.1');
    return { pathname: url.pathname, searchParams: url.searchParams };
  } catch {
    return null;
  }
}

/** A percent-encoded path segment (an API method name), or null when its encoding is invalid. */
export function decodeSegment(segment: string): string | null {
  try {
    const decoded = decodeURIComponent(segment);
    // Control characters are never part of a name of ours; refusing them keeps logs readable.
    return hasControlCharacter(decoded) ? null : decoded;
  } catch {
    return null;
  }
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
