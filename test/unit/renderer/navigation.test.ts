// Hash routes and keyboard shortcuts, the parts of navigation that are pure logic.
import { describe, expect, it, vi } from 'vitest';
import { hrefFor, PAGE_IDS, PAGES, parseHash, shortcutLabel } from '../../../src/renderer/src/lib/router';
import { CHORD_TIMEOUT_MS, createShortcutHandler, isEditableTarget, type ShortcutKeyEvent } from '../../../src/renderer/src/lib/shortcuts';

describe('router', () => {
  it('parses page hashes, with and without extra segments', () => {
    expect(parseHash('#/settings')).toEqual({ page: 'settings', rest: [], fallback: false });
    expect(parseHash('#/viewer/study/42')).toEqual({ page: 'viewer', rest: ['study', '42'], fallback: false });
    expect(parseHash('#viewer/')).toEqual({ page: 'viewer', rest: [], fallback: false });
    expect(parseHash('#/library/a%2Fb')).toEqual({ page: 'library', rest: ['a/b'], fallback: false });
  });

  it('falls back to the Library for empty or unknown hashes', () => {
    expect(parseHash('')).toEqual({ page: 'library', rest: [], fallback: false });
    expect(parseHash('#/')).toEqual({ page: 'library', rest: [], fallback: false });
    expect(parseHash('#/nope')).toEqual({ page: 'library', rest: [], fallback: true });
  });

  it('builds hrefs that parse back', () => {
    for (const id of PAGE_IDS) expect(parseHash(hrefFor(id)).page).toBe(id);
    expect(parseHash(hrefFor('viewer', 'study', 'a b')).rest).toEqual(['study', 'a b']);
  });

  it('has one page per id, unique shortcut letters, none of them g or j', () => {
    expect(PAGES.map((p) => p.id)).toEqual([...PAGE_IDS]);
    const keys = PAGES.map((p) => p.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).not.toContain('g');
    expect(keys).not.toContain('j');
    expect(shortcutLabel('models')).toBe('Alt+6 or G then M');
  });
});

function key(k: string, extra: Partial<ShortcutKeyEvent> = {}): ShortcutKeyEvent {
  const code = /^[0-9]$/.test(k) ? `Digit${k}` : /^[a-z]$/i.test(k) ? `Key${k.toUpperCase()}` : k;
  return {
    key: k,
    code,
    altKey: false,
    ctrlKey: false,
    metaKey: false,
    shiftKey: false,
    defaultPrevented: false,
    repeat: false,
    target: null,
    ...extra,
  };
}

describe('shortcuts', () => {
  function setup() {
    let now = 0;
    const actions = { navigate: vi.fn(), toggleJobs: vi.fn(), showHelp: vi.fn() };
    const handle = createShortcutHandler(actions, () => now);
    return { actions, handle, tick: (ms: number) => (now += ms) };
  }

  it('Alt+1..8 opens pages by physical key', () => {
    const { actions, handle } = setup();
    expect(handle(key('3', { altKey: true }))).toBe(true);
    // macOS: Alt+7 types "¶" but the code is still Digit7.
    expect(handle({ ...key('¶', { altKey: true }), code: 'Digit7' })).toBe(true);
    expect(handle(key('8', { altKey: true }))).toBe(true);
    expect(handle(key('9', { altKey: true }))).toBe(false);
    expect(handle(key('3', { altKey: true, ctrlKey: true }))).toBe(false);
    expect(actions.navigate.mock.calls).toEqual([['labels'], ['settings'], ['archive']]);
  });

  it('g then a letter opens a page; g then j toggles jobs', () => {
    const { actions, handle } = setup();
    expect(handle(key('g'))).toBe(true);
    expect(handle(key('m'))).toBe(true);
    handle(key('g'));
    handle(key('j'));
    expect(actions.navigate.mock.calls).toEqual([['models']]);
    expect(actions.toggleJobs).toHaveBeenCalledTimes(1);
  });

  it('a lone letter does nothing, and the chord expires', () => {
    const { actions, handle, tick } = setup();
    expect(handle(key('m'))).toBe(false);
    handle(key('g'));
    tick(CHORD_TIMEOUT_MS + 1);
    expect(handle(key('m'))).toBe(false);
    handle(key('g'));
    expect(handle(key('x'))).toBe(false);
    expect(handle(key('m'))).toBe(false); // the chord ended at x
    expect(actions.navigate).not.toHaveBeenCalled();
  });

  it('a chord typed in time works however long the page took to handle its keys', () => {
    const { actions, handle, tick } = setup();
    handle(key('g')); // taken at 0
    tick(5000); // the page was busy: the second key, pressed at 1000, is handled at 5000
    expect(handle(key('m', { timeStamp: 1000 }))).toBe(true);
    // pressed before the page even took the "g": still the chord
    tick(1);
    handle(key('g'));
    expect(handle(key('s', { timeStamp: 4000 }))).toBe(true);
    handle(key('g'));
    expect(handle(key('m', { timeStamp: 5001 + CHORD_TIMEOUT_MS + 1 }))).toBe(false); // pressed too late
    expect(actions.navigate.mock.calls).toEqual([['models'], ['settings']]);
  });

  it('never takes keys typed into fields, repeated keys or handled events', () => {
    const { actions, handle } = setup();
    const input = { tagName: 'INPUT', type: 'text' };
    expect(handle(key('g', { target: input }))).toBe(false);
    expect(handle(key('3', { altKey: true, target: { tagName: 'TEXTAREA' } }))).toBe(false);
    expect(handle(key('g', { target: { tagName: 'DIV', isContentEditable: true } }))).toBe(false);
    expect(handle(key('g', { repeat: true }))).toBe(false);
    expect(handle(key('g', { defaultPrevented: true }))).toBe(false);
    expect(actions.navigate).not.toHaveBeenCalled();
  });

  it('"?" opens the help', () => {
    const { actions, handle } = setup();
    expect(handle(key('?', { shiftKey: true, code: 'Slash' }))).toBe(true);
    expect(actions.showHelp).toHaveBeenCalled();
  });

  it('knows which elements take text', () => {
    expect(isEditableTarget({ tagName: 'INPUT', type: 'checkbox' })).toBe(false);
    expect(isEditableTarget({ tagName: 'input', type: 'search' })).toBe(true);
    expect(isEditableTarget({ tagName: 'SELECT' })).toBe(true);
    expect(isEditableTarget({ tagName: 'BUTTON' })).toBe(false);
    expect(isEditableTarget(null)).toBe(false);
  });
});
