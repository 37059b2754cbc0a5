// Windowing maths and the page cache behind long tables (the Library's 10,000+ studies).
import { describe, expect, it } from 'vitest';
import { moveSelection, PageCache, pagesFor, scrollToReveal, visibleWindow } from '../../../src/renderer/src/lib/virtual-rows';

describe('visibleWindow', () => {
  it('renders the visible rows plus overscan and pads the rest, keeping the full height', () => {
    const w = visibleWindow(10_000, 30, 3000, 600, 5);
    // Row 100 is at the top; 21 rows cover 600 px (+1 for a partial row).
    expect(w.start).toBe(95);
    expect(w.end).toBe(100 + 21 + 5);
    expect(w.padTop + (w.end - w.start) * 30 + w.padBottom).toBe(10_000 * 30);
  });
  it('clamps at both ends', () => {
    expect(visibleWindow(10_000, 30, 0, 600, 5)).toMatchObject({ start: 0, padTop: 0 });
    const end = visibleWindow(10_000, 30, 10_000 * 30 - 600, 600, 5);
    expect(end.end).toBe(10_000);
    expect(end.padBottom).toBe(0);
    expect(visibleWindow(3, 30, 0, 600, 5)).toEqual({ start: 0, end: 3, padTop: 0, padBottom: 0 });
    expect(visibleWindow(0, 30, 100, 600)).toEqual({ start: 0, end: 0, padTop: 0, padBottom: 0 });
  });
  it('keeps the rendered count bounded whatever the total', () => {
    for (const total of [100, 10_000, 1_000_000]) {
      const w = visibleWindow(total, 32, 31 * 32 * 7, 640, 8);
      expect(w.end - w.start).toBeLessThanOrEqual(Math.ceil(640 / 32) + 1 + 16);
    }
  });
});

describe('scrollToReveal', () => {
  it('scrolls up to a row above, down to a row below, and not at all for a visible row', () => {
    expect(scrollToReveal(5, 30, 300, 600)).toBe(150);
    expect(scrollToReveal(40, 30, 300, 600)).toBe(41 * 30 - 600);
    expect(scrollToReveal(15, 30, 300, 600)).toBeNull();
  });
});

describe('moveSelection', () => {
  it('moves by row, by page and to the ends, clamped to the table', () => {
    expect(moveSelection(-1, 'ArrowDown', 100, 20)).toBe(0);
    expect(moveSelection(10, 'ArrowUp', 100, 20)).toBe(9);
    expect(moveSelection(0, 'ArrowUp', 100, 20)).toBe(0);
    expect(moveSelection(10, 'PageDown', 100, 20)).toBe(30);
    expect(moveSelection(90, 'PageDown', 100, 20)).toBe(99);
    expect(moveSelection(10, 'PageUp', 100, 20)).toBe(0);
    expect(moveSelection(50, 'Home', 100, 20)).toBe(0);
    expect(moveSelection(5, 'End', 10_000, 20)).toBe(9_999);
    expect(moveSelection(5, 'a', 100, 20)).toBeNull();
    expect(moveSelection(0, 'End', 0, 20)).toBeNull();
  });
});

describe('pagesFor', () => {
  it('lists the pages covering a row range', () => {
    expect(pagesFor(0, 10, 200)).toEqual([0]);
    expect(pagesFor(190, 230, 200)).toEqual([0, 1]);
    expect(pagesFor(400, 400, 200)).toEqual([]);
    expect(pagesFor(9_990, 10_000, 200)).toEqual([49]);
  });
});

describe('PageCache', () => {
  const rows = (offset: number, limit: number) => Array.from({ length: limit }, (_, i) => `row ${offset + i}`);

  it('fetches each needed page once and serves rows from it', async () => {
    const calls: number[] = [];
    const cache = new PageCache<string>(200, async (offset, limit) => {
      calls.push(offset);
      return rows(offset, limit);
    });
    expect(cache.row(250)).toBeUndefined();
    await Promise.all([cache.ensure(190, 260), cache.ensure(200, 230)]);
    expect(calls).toEqual([0, 200]);
    expect(cache.row(250)).toBe('row 250');
    await cache.ensure(0, 399);
    expect(calls).toEqual([0, 200]);
  });

  it('ignores an answer for a query replaced meanwhile', async () => {
    let release: (r: string[]) => void = () => {};
    let prefix = 'old';
    const cache = new PageCache<string>(10, (offset) => {
      const p = prefix;
      return p === 'old' ? new Promise((r) => (release = r)) : Promise.resolve([`${p} ${offset}`]);
    });
    const stale = cache.ensure(0, 5);
    cache.reset();
    prefix = 'new';
    await cache.ensure(0, 5);
    release(['old 0']);
    await stale;
    expect(cache.row(0)).toBe('new 0');
  });

  it('lets a failed page be fetched again', async () => {
    let fail = true;
    const cache = new PageCache<string>(10, async (offset, limit) => {
      if (fail) throw new Error('offline');
      return rows(offset, limit);
    });
    await expect(cache.ensure(0, 5)).rejects.toThrow('offline');
    fail = false;
    await cache.ensure(0, 5);
    expect(cache.row(3)).toBe('row 3');
  });
});
