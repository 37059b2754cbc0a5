// Hash routing (`#/library`, later `#/viewer/<study>`): works the same from app://renderer/ in
// Electron and from the web host, needs no server support, and survives reloads.

import { PAGE_IDS, type PageId } from '../../../common/pages';

export { PAGE_IDS, type PageId };

export interface PageMeta {
  id: PageId;
  title: string;
  /** Second key of the "g then letter" shortcut. */
  key: string;
  /** One line for the sidebar tooltip. */
  summary: string;
}

export const PAGES: readonly PageMeta[] = [
  { id: 'library', title: 'Library', key: 'l', summary: 'Studies on this machine' },
  { id: 'viewer', title: 'Viewer', key: 'v', summary: 'Read a study in the mammography hanging' },
  { id: 'labels', title: 'Labels', key: 'a', summary: 'Annotate images, breasts or exams' },
  { id: 'predictions', title: 'Predictions', key: 'p', summary: 'Zero-shot results and metrics' },
  { id: 'training', title: 'Training', key: 't', summary: 'Prompt learning, LoRA and Adaptor' },
  { id: 'models', title: 'Models', key: 'm', summary: 'Encoders, adapters and bundles' },
  { id: 'settings', title: 'Settings', key: 's', summary: 'Compute, annotator and data folder' },
  { id: 'archive', title: 'Archive', key: 'r', summary: 'Search and retrieve studies from a DICOMweb archive' },
];

export const DEFAULT_PAGE: PageId = 'library';

export interface Route {
  page: PageId;
  /** Segments after the page, e.g. ['study', '42'] for `#/viewer/study/42`. */
  rest: string[];
  /** True when the hash named no known page and the default was substituted. */
  fallback: boolean;
}

export function isPageId(value: string): value is PageId {
  return (PAGE_IDS as readonly string[]).includes(value);
}

export function parseHash(hash: string): Route {
  const segments = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  const [first, ...rest] = segments;
  if (first !== undefined && isPageId(first)) return { page: first, rest, fallback: false };
  return { page: DEFAULT_PAGE, rest: [], fallback: first !== undefined };
}

export function hrefFor(page: PageId, ...rest: string[]): string {
  return `#/${[page, ...rest].map(encodeURIComponent).join('/')}`;
}

export function pageMeta(page: PageId): PageMeta {
  return PAGES.find((p) => p.id === page) ?? PAGES[0]!;
}

/** The keyboard shortcuts of a page, in words, for tooltips and the help list. */
export function shortcutLabel(page: PageId): string {
  const index = PAGE_IDS.indexOf(page);
  return `Alt+${index + 1} or G then ${pageMeta(page).key.toUpperCase()}`;
}
