// The app's pages, in sidebar order: one list for the renderer's router and the contract's
// `navigate` command (the desktop menu, a second launch), so neither can name a page the other lacks.
export const PAGE_IDS = ['library', 'viewer', 'labels', 'predictions', 'training', 'models', 'settings', 'archive'] as const;
export type PageId = (typeof PAGE_IDS)[number];
