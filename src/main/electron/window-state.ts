// Remembers where the main window was, and puts it back only where a display still shows it
// (a laptop undocked from the reading-room monitors must not open the app off-screen).
import fs from 'node:fs';
import { z } from 'zod';

export const WindowState = z.object({
  x: z.number().int(),
  y: z.number().int(),
  width: z.number().int().min(400),
  height: z.number().int().min(300),
  maximized: z.boolean(),
});
export type WindowState = z.infer<typeof WindowState>;

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const DEFAULT_SIZE = { width: 1440, height: 900 };

export function loadWindowState(file: string): WindowState | null {
  try {
    const parsed = WindowState.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function saveWindowState(file: string, state: WindowState): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state));
  fs.renameSync(tmp, file);
}

/** The saved bounds if at least a 100x100 corner of them is on some display's work area. */
export function visibleBounds(state: WindowState | null, workAreas: Rect[]): Rect | null {
  if (!state) return null;
  const visible = workAreas.some((a) => {
    const w = Math.min(state.x + state.width, a.x + a.width) - Math.max(state.x, a.x);
    const h = Math.min(state.y + state.height, a.y + a.height) - Math.max(state.y, a.y);
    return w >= 100 && h >= 100;
  });
  return visible ? { x: state.x, y: state.y, width: state.width, height: state.height } : null;
}
