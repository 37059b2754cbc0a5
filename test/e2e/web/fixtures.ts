// Shared pieces of the web e2e tests: the served app, a console watcher, and page facts.
import { test as base, expect, type BrowserContext, type Page } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import { servedApp, type ServedApp } from '../server';

export const PAGES = [
  { id: 'library', title: 'Library', key: 'l', empty: 'No studies yet' },
  { id: 'viewer', title: 'Viewer', key: 'v', empty: 'No study open' },
  { id: 'labels', title: 'Labels', key: 'a', empty: 'No labels yet' },
  { id: 'predictions', title: 'Predictions', key: 'p', empty: 'No predictions yet' },
  { id: 'training', title: 'Training', key: 't', empty: 'Nothing to train yet' },
  { id: 'models', title: 'Models', key: 'm', empty: 'No models yet' },
  { id: 'settings', title: 'Settings', key: 's', empty: 'About this installation' },
  { id: 'archive', title: 'Archive', key: 'r', empty: 'No archive yet' },
] as const;

export const SCREENSHOT_DIR = path.resolve('test-results/screenshots');

export const test = base.extend<{ served: ServedApp; consoleErrors: string[]; consoleWarnings: void; cpuThrottle: void }>({
  // eslint-disable-next-line no-empty-pattern -- Playwright fixtures must destructure their dependencies
  served: async ({}, use) => {
    await use(servedApp());
  },
  // Page errors and console errors (CSP violations show up here) collected for tests to assert on.
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      await use(errors);
    },
    { auto: true },
  ],
  // Every test fails on a console warning the app logs (issue #17). Unlike errors, which a few tests
  // provoke on purpose and assert on, no warning is ever expected, so the check runs here, after the
  // test, for all of them. Each entry names the script that logged it. Watched: every page the test
  // opens, in its own context and in those it makes with browser.newContext() (tests that need a
  // browser without the token's cookie), which is wrapped for the test's duration only.
  consoleWarnings: [
    async ({ page, context, browser }, use) => {
      const warnings: string[] = [];
      const watch = (p: Page): void => {
        p.on('console', (m) => {
          if (m.type() !== 'warning') return;
          const at = m.location().url;
          warnings.push(`${m.text()}${at ? ` (${at})` : ''}`);
        });
      };
      const watchContext = (c: BrowserContext): void => {
        c.pages().forEach(watch);
        c.on('page', watch);
      };
      void page; // the test's page is among its context's pages
      watchContext(context);
      const newContext = browser.newContext;
      browser.newContext = async (...args: Parameters<typeof newContext>): Promise<BrowserContext> => {
        const c = await newContext.apply(browser, args);
        watchContext(c);
        return c;
      };
      try {
        await use();
      } finally {
        browser.newContext = newContext;
      }
      expect(warnings, 'console warnings logged during the test').toEqual([]);
    },
    { auto: true },
  ],
  // CLEFT_E2E_CPU_THROTTLE=4 runs every page 4× slower (Chrome's CPU throttling) while the host keeps
  // its speed: how a loaded CI machine looks to tests that race a running job.
  cpuThrottle: [
    async ({ page }, use) => {
      const rate = Number(process.env.CLEFT_E2E_CPU_THROTTLE ?? 1);
      if (rate > 1) await (await page.context().newCDPSession(page)).send('Emulation.setCPUThrottlingRate', { rate });
      await use();
    },
    { auto: true },
  ],
});
export { expect };

/** The web host's API, called directly (with the token of `hostUrl`), to check a page against the back end. */
export function hostApi(hostUrl: string): <T = unknown>(method: string, input: unknown) => Promise<T> {
  const url = new URL(hostUrl);
  return async <T>(method: string, input: unknown): Promise<T> => {
    const res = await fetch(new URL(`/api/${method}`, url.origin), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Cleft-Token': url.searchParams.get('token')! },
      body: JSON.stringify(input),
    });
    const body = (await res.json()) as { ok: boolean; value?: T; error?: unknown };
    if (!body.ok) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
    return body.value as T;
  };
}

/** Opens the printed address and waits for the shell. */
export async function openApp(page: Page, served: ServedApp, hash = ''): Promise<void> {
  await page.goto(`${served.url}${hash}`);
  await expect(page.getByRole('navigation', { name: 'Pages' })).toBeVisible();
  await expect(page.getByTestId('connection-status')).toContainText('Live');
}

export function navLink(page: Page, title: string) {
  return page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: title, exact: true });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  // Park the mouse so hover styles do not leak into the picture.
  await page.mouse.move(1439, 899);
  await page.waitForTimeout(250); // let hover transitions settle
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
}
