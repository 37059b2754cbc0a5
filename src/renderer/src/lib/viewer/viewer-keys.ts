// The viewer's keys, defined once: the viewer's key handler finds the action here, and the keyboard
// shortcuts dialog and the Viewer's Keys panel list these same entries, so a key the viewer handles
// is always in both.

export type ViewerAction =
  | 'undo'
  | 'select-view'
  | 'label'
  | 'clear-label'
  | 'toggle-single'
  | 'exit-single'
  | 'next-study'
  | 'previous-study'
  | 'right-breast'
  | 'left-breast'
  | 'invert'
  | 'reset'
  | 'tool-wl'
  | 'tool-pan'
  | 'tool-ruler'
  | 'tool-area'
  | 'tool-loupe'
  | 'zoom-in'
  | 'zoom-out'
  | 'classify'
  | 'explain';

/** One key as pressed: `key` is KeyboardEvent.key (letters match either case). */
export interface KeyChord {
  key: string;
  shift?: boolean;
  ctrl?: boolean;
}

export interface ViewerKey {
  action: ViewerAction;
  /** What the dialog says it does. */
  label: string;
  keys: readonly KeyChord[];
  /** Only then (the default: always). */
  when?: 'labeling' | 'single-view' | 'not-on-control';
}

const letter = (k: string): KeyChord[] => [{ key: k }];
const digits = (from: number, to: number, shift = false): KeyChord[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ key: String(from + i), ...(shift ? { shift } : {}) }));

/** In the order the dialog lists them; the first entry matching a key (and its condition) wins. */
export const VIEWER_KEYS: readonly ViewerKey[] = [
  { action: 'undo', label: 'Undo the last label', keys: [{ key: 'z', ctrl: true }] },
  { action: 'select-view', label: 'Select view 1–4 (also while labeling)', keys: digits(1, 4, true) },
  { action: 'label', label: "Label with the task's class key", keys: digits(0, 9), when: 'labeling' },
  { action: 'select-view', label: 'Select view 1–4 (labeling panel closed)', keys: digits(1, 4) },
  { action: 'clear-label', label: 'Clear the label', keys: [{ key: 'Delete' }, { key: 'Backspace' }], when: 'labeling' },
  { action: 'toggle-single', label: 'Single view / hanging', keys: [{ key: 'Enter' }], when: 'not-on-control' },
  { action: 'exit-single', label: 'Back to the hanging', keys: [{ key: 'Escape' }], when: 'single-view' },
  { action: 'next-study', label: 'Next study', keys: [...letter('j'), { key: 'PageDown' }] },
  { action: 'previous-study', label: 'Previous study', keys: [...letter('k'), { key: 'PageUp' }] },
  { action: 'right-breast', label: 'Right breast', keys: letter('r') },
  { action: 'left-breast', label: 'Left breast', keys: letter('l') },
  { action: 'invert', label: 'Invert', keys: letter('i') },
  { action: 'reset', label: 'Reset zoom, pan, window and measurements', keys: [{ key: 'Home' }] },
  { action: 'tool-wl', label: 'Window/level tool', keys: letter('w') },
  { action: 'tool-pan', label: 'Pan tool', keys: letter('p') },
  { action: 'tool-ruler', label: 'Ruler (distance in mm)', keys: letter('d') },
  { action: 'tool-area', label: 'Area (mm²)', keys: letter('a') },
  { action: 'tool-loupe', label: 'Magnifier', keys: letter('z') },
  { action: 'zoom-in', label: 'Zoom in', keys: [{ key: '+' }, { key: '=' }] },
  { action: 'zoom-out', label: 'Zoom out', keys: [{ key: '-' }] },
  { action: 'classify', label: 'Classify the study', keys: letter('c') },
  { action: 'explain', label: 'Where the model looks (patch map)', keys: letter('m') },
];

/** One line of the Viewer's Keys panel: the keys as the dialog writes them and what they do. */
export interface KeysPanelRow {
  action: ViewerAction;
  keys: string[];
  label: string;
}

/**
 * The Viewer's Keys panel: every viewer key but the generic class digits, which the panel spells out
 * for the task in view instead (density 1–4 = A–D, BI-RADS 0–6).
 */
export function keysPanelRows(): KeysPanelRow[] {
  return VIEWER_KEYS.filter((k) => k.action !== 'label').map((k) => ({ action: k.action, keys: keysText(k.keys), label: k.label }));
}

export interface ViewerKeyEvent {
  key: string;
  code: string;
  shiftKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
}

export interface ViewerKeyState {
  /** The labeling panel is open with a task, and this digit is one of its class keys. */
  isClassKey: (key: string) => boolean;
  labelingActive: boolean;
  single: boolean;
  /** Focus is on a button, link, select or summary (Enter belongs to it). */
  onControl: boolean;
}

/** The key a chord stands for as the event says it: Shift+digit by physical key (Shift changes e.key). */
function pressedKey(e: ViewerKeyEvent): string {
  const digit = /^Digit(\d)$/.exec(e.code)?.[1];
  return e.shiftKey && digit ? digit : e.key;
}

function matches(c: KeyChord, e: ViewerKeyEvent): boolean {
  const ctrl = e.ctrlKey || e.metaKey;
  if (Boolean(c.ctrl) !== ctrl || e.altKey) return false;
  const key = pressedKey(e);
  // Letters match either case (Shift or Caps Lock).
  if (/^[a-z]$/.test(c.key)) return key.toLowerCase() === c.key;
  // Digits and named keys: Shift must be as defined for digits; other symbols come with whatever Shift makes them.
  if (/^\d$/.test(c.key)) return key === c.key && Boolean(c.shift) === e.shiftKey;
  return key === c.key;
}

/** The viewer's action for a key, or null when the viewer does not handle it in this state. */
export function viewerKeyAction(e: ViewerKeyEvent, s: ViewerKeyState): { entry: ViewerKey; key: string } | null {
  for (const entry of VIEWER_KEYS) {
    if (!entry.keys.some((c) => matches(c, e))) continue;
    const key = pressedKey(e);
    if (entry.when === 'labeling' && !(s.labelingActive && (entry.action !== 'label' || s.isClassKey(key)))) continue;
    if (entry.when === 'single-view' && !s.single) continue;
    if (entry.when === 'not-on-control' && s.onControl) continue;
    return { entry, key };
  }
  return null;
}

const NAMES: Record<string, string> = { PageDown: 'Page Down', PageUp: 'Page Up', Escape: 'Esc' };

/** How the dialog writes one chord: "Ctrl + Z", "Shift + 1", "J", "Page Down". */
export function chordText(c: KeyChord): string {
  const key = NAMES[c.key] ?? (c.key.length === 1 ? c.key.toUpperCase() : c.key);
  return [...(c.ctrl ? ['Ctrl'] : []), ...(c.shift ? ['Shift'] : []), key].join(' + ');
}

/** Consecutive digits shortened to a range ("1–4", "Shift + 1–4") so the dialog stays short. */
export function keysText(keys: readonly KeyChord[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    const c = keys[i]!;
    let j = i;
    while (
      /^\d$/.test(c.key) &&
      j + 1 < keys.length &&
      keys[j + 1]!.key === String(Number(keys[j]!.key) + 1) &&
      !!keys[j + 1]!.shift === !!c.shift
    )
      j++;
    out.push(j > i + 1 ? `${chordText(c)}–${keys[j]!.key}` : chordText(c));
    if (j === i + 1) out.push(chordText(keys[j]!));
    i = j;
  }
  return out;
}
