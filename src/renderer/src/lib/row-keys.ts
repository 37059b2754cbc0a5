// Keyboard movement through a long virtualised list (the Library's studies): which row a key goes
// to, and where to scroll so that row is in view below the sticky header.

export const ROW_KEYS = ['ArrowDown', 'ArrowUp', 'PageDown', 'PageUp', 'Home', 'End'] as const;
export type RowKey = (typeof ROW_KEYS)[number];

export function isRowKey(key: string): key is RowKey {
  return (ROW_KEYS as readonly string[]).includes(key);
}

/** The row `key` moves to from `current` in a list of `total` rows, `pageRows` rows a screen. */
export function nextRowIndex(key: RowKey, current: number, total: number, pageRows: number): number {
  if (total <= 0) return 0;
  const step = Math.max(1, pageRows);
  const target =
    key === 'ArrowDown'
      ? current + 1
      : key === 'ArrowUp'
        ? current - 1
        : key === 'PageDown'
          ? current + step
          : key === 'PageUp'
            ? current - step
            : key === 'Home'
              ? 0
              : total - 1;
  return Math.min(total - 1, Math.max(0, target));
}

/**
 * The scroll offset that shows row `index` (fixed `rowHeight`) whole, moving as little as possible;
 * the header (`headerHeight`, sticky) covers the top of the viewport.
 */
export function scrollTopToShow(index: number, rowHeight: number, headerHeight: number, scrollTop: number, viewportHeight: number): number {
  const top = index * rowHeight;
  const bottom = headerHeight + (index + 1) * rowHeight - viewportHeight;
  if (scrollTop > top) return top;
  if (scrollTop < bottom) return bottom;
  return scrollTop;
}

/** Rows a PageDown moves: one screen less one row, so the last row stays in sight. */
export function rowsPerPage(viewportHeight: number, headerHeight: number, rowHeight: number): number {
  return Math.max(1, Math.floor((viewportHeight - headerHeight) / rowHeight) - 1);
}
