import path from 'node:path';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadWindowState, saveWindowState, visibleBounds } from '../../../src/main/electron/window-state';
import { tmpDir } from '../../helpers/tmp';

const screen = [{ x: 0, y: 0, width: 1920, height: 1080 }];

describe('window state', () => {
  it('round-trips through a file and ignores garbage', () => {
    const file = path.join(tmpDir(), 'w.json');
    expect(loadWindowState(file)).toBeNull();
    saveWindowState(file, { x: 10, y: 20, width: 1200, height: 800, maximized: true });
    expect(loadWindowState(file)).toEqual({ x: 10, y: 20, width: 1200, height: 800, maximized: true });
    fs.writeFileSync(file, '{"x": "left"}');
    expect(loadWindowState(file)).toBeNull();
  });

  it('restores bounds only where a display still shows them', () => {
    const onScreen = { x: 100, y: 100, width: 1200, height: 800, maximized: false };
    expect(visibleBounds(onScreen, screen)).toEqual({ x: 100, y: 100, width: 1200, height: 800 });
    const onDetachedMonitor = { ...onScreen, x: 2500 };
    expect(visibleBounds(onDetachedMonitor, screen)).toBeNull();
    expect(visibleBounds(onDetachedMonitor, [...screen, { x: 1920, y: 0, width: 2560, height: 1440 }])).not.toBeNull();
    expect(visibleBounds({ ...onScreen, x: 1850 }, screen)).toBeNull(); // only a 70 px sliver visible
  });
});
