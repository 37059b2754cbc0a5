// The viewer's keys have one definition (lib/viewer/viewer-keys.ts): the key handler acts on it and
// the shortcuts dialog and the Viewer's Keys panel list it. Every key the handler takes, in every
// state, must be one the dialog and the panel show for that action; D, A and Z (ruler, area,
// magnifier) among them.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  chordText,
  keysPanelRows,
  keysText,
  VIEWER_KEYS,
  viewerKeyAction,
  type ViewerKeyEvent,
} from '../../../src/renderer/src/lib/viewer/viewer-keys';

const NAMED = ['Enter', 'Escape', 'Delete', 'Backspace', 'Home', 'End', 'PageDown', 'PageUp', 'ArrowUp', 'ArrowDown', 'Tab', ' '];
const PRINTABLE = [...'abcdefghijklmnopqrstuvwxyz0123456789+=-_?/.,;[]'];

function* everyEvent(): Generator<ViewerKeyEvent> {
  for (const key of [...PRINTABLE, ...PRINTABLE.map((k) => k.toUpperCase()), ...NAMED])
    for (const shiftKey of [false, true])
      for (const ctrlKey of [false, true]) {
        const code = /^\d$/.test(key) ? `Digit${key}` : /^[a-z]$/i.test(key) ? `Key${key.toUpperCase()}` : '';
        // Shift+digit: the layout's symbol, the physical digit
        const shown = shiftKey && /^\d$/.test(key) ? '!@#$%^&*()'[Number(key)]! : key;
        yield { key: shown, code, shiftKey, ctrlKey, metaKey: false, altKey: false };
      }
}

const STATES = [
  { labelingActive: false, single: false, onControl: false },
  { labelingActive: true, single: false, onControl: false },
  { labelingActive: true, single: true, onControl: true },
  { labelingActive: false, single: true, onControl: false },
].map((s) => ({ ...s, isClassKey: (k: string) => /^[1-4]$/.test(k) }));

describe('viewer keys', () => {
  it('every key the handler takes is listed by the dialog under that action', () => {
    const listed = new Map<string, Set<string>>();
    for (const entry of VIEWER_KEYS)
      for (const c of entry.keys) listed.set(entry.label, (listed.get(entry.label) ?? new Set()).add(chordText(c)));
    let handled = 0;
    for (const state of STATES)
      for (const e of everyEvent()) {
        const hit = viewerKeyAction(e, state);
        if (!hit) continue;
        handled++;
        const chord = chordText({
          key: /^[a-z]$/i.test(hit.key) ? hit.key.toLowerCase() : hit.key,
          ...(e.shiftKey && /^\d$/.test(hit.key) ? { shift: true } : {}),
          ...(e.ctrlKey ? { ctrl: true } : {}),
        });
        expect(listed.get(hit.entry.label), `${JSON.stringify(e)} → ${hit.entry.action}`).toContain(chord);
      }
    expect(handled).toBeGreaterThan(50);
  });

  it('the Keys panel lists every key the handler takes, as the dialog writes it', () => {
    const rows = keysPanelRows();
    let checked = 0;
    for (const state of STATES)
      for (const e of everyEvent()) {
        const hit = viewerKeyAction(e, state);
        // The class digits: the panel spells them out for the task in view (its class-keys line).
        if (!hit || hit.entry.action === 'label') continue;
        checked++;
        const row = rows.find((r) => r.label === hit.entry.label);
        expect(row, `${JSON.stringify(e)} → ${hit.entry.action} is missing from the Keys panel`).toBeDefined();
        expect(row!.keys, `${hit.entry.action}`).toEqual(keysText(hit.entry.keys));
      }
    expect(checked).toBeGreaterThan(50);
    // The panel renders these rows and writes no key of its own by hand.
    const panel = fs.readFileSync(path.resolve('src/renderer/src/components/viewer/LabelPanel.svelte'), 'utf8');
    expect(panel).toMatch(/\{#each keyRows as row/);
    expect(panel).toMatch(/const keyRows = keysPanelRows\(\)/);
    expect(panel.match(/<kbd>[^{<]*<\/kbd>/g)).toBeNull();
  });

  it('handles D, A, Z, M, C and the rest as the dialog says', () => {
    const at = (key: string, o: Partial<ViewerKeyEvent> = {}, s: Partial<(typeof STATES)[number]> = {}) =>
      viewerKeyAction({ key, code: '', shiftKey: false, ctrlKey: false, metaKey: false, altKey: false, ...o }, { ...STATES[0]!, ...s })
        ?.entry.action ?? null;
    expect(at('d')).toBe('tool-ruler');
    expect(at('A', { shiftKey: true })).toBe('tool-area');
    expect(at('z')).toBe('tool-loupe');
    expect(at('z', { ctrlKey: true })).toBe('undo');
    expect(at('m')).toBe('explain');
    expect(at('c')).toBe('classify');
    expect(at('2')).toBe('select-view');
    expect(at('2', {}, { labelingActive: true })).toBe('label');
    expect(at('7', {}, { labelingActive: true })).toBeNull(); // not a class key of the task
    expect(at('@', { code: 'Digit2', shiftKey: true }, { labelingActive: true })).toBe('select-view');
    expect(at('Escape')).toBeNull();
    expect(at('Escape', {}, { single: true })).toBe('exit-single');
    expect(at('Enter', {}, { onControl: true })).toBeNull();
    expect(at('g')).toBeNull(); // the page shortcuts' chord
    for (const action of ['tool-ruler', 'tool-area', 'tool-loupe', 'explain'])
      expect(VIEWER_KEYS.some((k) => k.action === action)).toBe(true);
  });

  it('writes keys as the dialog shows them', () => {
    expect(keysText(VIEWER_KEYS.find((k) => k.action === 'label')!.keys)).toEqual(['0–9']);
    expect(keysText(VIEWER_KEYS.find((k) => k.action === 'select-view')!.keys)).toEqual(['Shift + 1–4']);
    expect(keysText(VIEWER_KEYS.find((k) => k.action === 'undo')!.keys)).toEqual(['Ctrl + Z']);
    expect(keysText(VIEWER_KEYS.find((k) => k.action === 'next-study')!.keys)).toEqual(['J', 'Page Down']);
    expect(keysText([{ key: '1' }, { key: '2' }])).toEqual(['1', '2']);
  });
});
