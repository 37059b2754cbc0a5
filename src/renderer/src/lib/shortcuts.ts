// Global keyboard shortcuts: Alt+1..8 opens a page, and "g then letter" (as in mail and code
// review tools) does the same without a modifier, because some browsers on Linux keep Alt+digit
// for switching tabs. Keys typed into a field are never taken.
import { PAGE_IDS, PAGES, type PageId } from './router';

export interface ShortcutKeyEvent {
  key: string;
  code: string;
  altKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  defaultPrevented: boolean;
  repeat: boolean;
  target: unknown;
  /** When the key was pressed (the event's creation, on the `performance.now()` clock). */
  timeStamp?: number;
}

export interface ShortcutActions {
  navigate(page: PageId): void;
  toggleJobs(): void;
  showHelp(): void;
}

/**
 * How long "g" waits for its second key: from when the page took the "g" to when the second key was
 * pressed, so a page busy rendering (or a slow machine) between the two keys never breaks a chord
 * typed in time.
 */
export const CHORD_TIMEOUT_MS = 1500;

/** Whether a key pressed at `pressedAt` completes a chord whose first key the page took at `takenAt`. */
export function withinChord(takenAt: number, pressedAt: number): boolean {
  return pressedAt - takenAt <= CHORD_TIMEOUT_MS;
}

export const JOBS_KEY = 'j';

export function isEditableTarget(target: unknown): boolean {
  if (typeof target !== 'object' || target === null) return false;
  const el = target as { tagName?: unknown; isContentEditable?: unknown; type?: unknown };
  if (el.isContentEditable === true) return true;
  const tag = typeof el.tagName === 'string' ? el.tagName.toUpperCase() : '';
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag !== 'INPUT') return false;
  // Buttons dressed as inputs take no text.
  return !['button', 'submit', 'reset', 'checkbox', 'radio', 'range', 'color', 'file'].includes(String(el.type ?? 'text'));
}

/** Returns a keydown handler; it reports whether it consumed the key (the caller then prevents default). */
export function createShortcutHandler(
  actions: ShortcutActions,
  now: () => number = () => performance.now(),
): (e: ShortcutKeyEvent) => boolean {
  let chordStartedAt: number | null = null;
  return (e) => {
    if (e.defaultPrevented || e.repeat || isEditableTarget(e.target)) return false;

    // Alt+digit: by physical key, since Alt changes e.key on macOS layouts.
    if (e.altKey && !e.ctrlKey && !e.metaKey && !e.shiftKey) {
      const match = /^Digit([1-9])$/.exec(e.code);
      const page = match ? PAGE_IDS[Number(match[1]) - 1] : undefined;
      if (page) {
        chordStartedAt = null;
        actions.navigate(page);
        return true;
      }
      return false;
    }
    if (e.altKey || e.ctrlKey || e.metaKey) return false;

    const key = e.key.toLowerCase();
    if (chordStartedAt !== null && withinChord(chordStartedAt, e.timeStamp ?? now())) {
      chordStartedAt = null;
      if (key === JOBS_KEY) {
        actions.toggleJobs();
        return true;
      }
      const page = PAGES.find((p) => p.key === key);
      if (page) {
        actions.navigate(page.id);
        return true;
      }
      return false;
    }
    chordStartedAt = null;
    if (key === 'g' && !e.shiftKey) {
      chordStartedAt = now();
      return true;
    }
    if (e.key === '?') {
      actions.showHelp();
      return true;
    }
    return false;
  };
}
