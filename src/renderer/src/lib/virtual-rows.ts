// Windowing maths and a page cache for tables too long to render whole (the Library holds
// 10,000+ studies). Rows have a fixed height, so which rows are visible follows from the scroll
// offset alone; rows arrive from the back end in pages (limit/offset) that are cached, and a
// response for an older query (filter or sort changed meanwhile) is dropped.

export interface RowWindow {
  /** First row index to render (inclusive). */
  start: number;
  /** Row index after the last one to render (exclusive). */
  end: number;
  /** Space above the first rendered row, in pixels. */
  padTop: number;
  /** Space below the last rendered row, in pixels. */
  padBottom: number;
}

/** Rows to render for a viewport at scrollTop of viewportHeight, with overscan rows either side. */
export function visibleWindow(total: number, rowHeight: number, scrollTop: number, viewportHeight: number, overscan = 8): RowWindow {
  if (total <= 0 || rowHeight <= 0) return { start: 0, end: 0, padTop: 0, padBottom: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const shown = Math.ceil(Math.max(0, viewportHeight) / rowHeight) + 1;
  const start = Math.min(total, Math.max(0, first - overscan));
  const end = Math.min(total, first + shown + overscan);
  return { start, end, padTop: start * rowHeight, padBottom: (total - end) * rowHeight };
}

/** The scrollTop that brings row `index` fully into view, or null when it already is. */
export function scrollToReveal(index: number, rowHeight: number, scrollTop: number, viewportHeight: number): number | null {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewportHeight) return Math.max(0, bottom - viewportHeight);
  return null;
}

/** Moves a selection by a key: arrows by one row, PageUp/PageDown by a screenful, Home/End to the ends. */
export function moveSelection(current: number, key: string, total: number, pageRows: number): number | null {
  if (total <= 0) return null;
  const page = Math.max(1, pageRows);
  const from = current < 0 ? -1 : current;
  const next =
    key === 'ArrowDown'
      ? from + 1
      : key === 'ArrowUp'
        ? from - 1
        : key === 'PageDown'
          ? from + page
          : key === 'PageUp'
            ? from - page
            : key === 'Home'
              ? 0
              : key === 'End'
                ? total - 1
                : null;
  if (next === null) return null;
  return Math.min(total - 1, Math.max(0, next));
}

/** Page numbers covering rows [start, end). */
export function pagesFor(start: number, end: number, pageSize: number): number[] {
  if (end <= start) return [];
  const pages: number[] = [];
  for (let p = Math.floor(start / pageSize); p * pageSize < end; p++) pages.push(p);
  return pages;
}

/**
 * Rows fetched in pages of pageSize for one query at a time. reset() starts a new query
 * (filters or sort changed): the cache empties and answers to earlier queries are ignored.
 */
export class PageCache<T> {
  private pages = new Map<number, T[]>();
  private inFlight = new Set<number>();
  private generation = 0;

  constructor(
    readonly pageSize: number,
    private readonly fetchPage: (offset: number, limit: number) => Promise<T[]>,
    private readonly onLoaded: () => void = () => {},
  ) {}

  reset(): void {
    this.generation++;
    this.pages.clear();
    this.inFlight.clear();
  }

  /** The row at index, or undefined while its page is not loaded. */
  row(index: number): T | undefined {
    return this.pages.get(Math.floor(index / this.pageSize))?.[index % this.pageSize];
  }

  has(page: number): boolean {
    return this.pages.has(page);
  }

  /** Fetches the pages covering rows [start, end) that are neither cached nor on their way. */
  async ensure(start: number, end: number): Promise<void> {
    const wanted = pagesFor(start, end, this.pageSize).filter((p) => !this.pages.has(p) && !this.inFlight.has(p));
    const gen = this.generation;
    await Promise.all(
      wanted.map(async (p) => {
        this.inFlight.add(p);
        try {
          const rows = await this.fetchPage(p * this.pageSize, this.pageSize);
          if (gen !== this.generation) return; // an older query's answer
          this.pages.set(p, rows);
          this.onLoaded();
        } finally {
          if (gen === this.generation) this.inFlight.delete(p);
        }
      }),
    );
  }
}
