// The desktop shell's `navigate` command names every page the renderer has (one list:
// src/common/pages.ts), the Archive page among them; a page that does not exist is refused.
import { describe, expect, it } from 'vitest';
import { UiCommand } from '../../../src/common/contract';
import { PAGE_IDS } from '../../../src/common/pages';
import { isPageId, PAGES } from '../../../src/renderer/src/lib/router';

describe('ui.command navigate', () => {
  it('accepts every page of the router, archive included, and refuses others', () => {
    expect(UiCommand.parse({ command: 'navigate', page: 'archive' })).toEqual({ command: 'navigate', page: 'archive' });
    for (const p of PAGES) expect(UiCommand.safeParse({ command: 'navigate', page: p.id }).success).toBe(true);
    expect(PAGES.map((p) => p.id)).toEqual([...PAGE_IDS]);
    expect(isPageId('archive')).toBe(true);
    expect(UiCommand.safeParse({ command: 'navigate', page: 'nowhere' }).success).toBe(false);
  });
});
