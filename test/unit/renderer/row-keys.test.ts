import { describe, it, expect } from 'vitest';
import { isRowKey, nextRowIndex, rowsPerPage, scrollTopToShow } from '../../../src/renderer/src/lib/row-keys';

describe('row keys of the studies table', () => {
  it('arrows step, pages jump, Home and End reach the ends of the whole list, all clamped', () => {
    expect(nextRowIndex('ArrowDown', 4, 10_050, 9)).toBe(5);
    expect(nextRowIndex('ArrowUp', 0, 10_050, 9)).toBe(0);
    expect(nextRowIndex('ArrowDown', 10_049, 10_050, 9)).toBe(10_049);
    expect(nextRowIndex('PageDown', 4, 10_050, 9)).toBe(13);
    expect(nextRowIndex('PageUp', 4, 10_050, 9)).toBe(0);
    expect(nextRowIndex('PageDown', 10_045, 10_050, 9)).toBe(10_049);
    expect(nextRowIndex('Home', 5_000, 10_050, 9)).toBe(0);
    expect(nextRowIndex('End', 3, 10_050, 9)).toBe(10_049);
    expect(nextRowIndex('End', 0, 0, 9)).toBe(0);
    expect(isRowKey('End')).toBe(true);
    expect(isRowKey('Enter')).toBe(false);
  });

  it('scrolls as little as needed to show a row below the sticky header', () => {
    // rows of 52 px, header 40 px, a 600 px viewport at scrollTop 1000 shows rows 20..30 whole
    expect(scrollTopToShow(25, 52, 40, 1000, 600)).toBe(1000); // already in view
    expect(scrollTopToShow(10, 52, 40, 1000, 600)).toBe(520); // above: its top at the header
    expect(scrollTopToShow(40, 52, 40, 1000, 600)).toBe(40 + 41 * 52 - 600); // below: its bottom at the bottom
    expect(scrollTopToShow(10_049, 52, 40, 0, 600)).toBe(40 + 10_050 * 52 - 600);
    expect(rowsPerPage(600, 40, 52)).toBe(9);
    expect(rowsPerPage(60, 40, 52)).toBe(1);
  });
});
