// The viewer's remembered switches (linked W/L, collapsed panels): per browser profile, like the
// labeling preferences; a storage that refuses (private mode) just forgets them.
export function readFlag(key: string, fallback: boolean): boolean {
  try {
    const v = localStorage.getItem(key);
    return v === null ? fallback : v === 'true';
  } catch {
    return fallback;
  }
}

export function writeFlag(key: string, value: boolean): void {
  try {
    localStorage.setItem(key, String(value));
  } catch {
    // A preference only.
  }
}

export const LINKED_WL_KEY = 'cleft.viewer.linkedWl';
export const PANELS_KEY = 'cleft.viewer.panelsOpen';
