// The layout holds on every page at the window sizes researchers use, with the Jobs drawer open and
// closed, with a long patient name and a long model name in the library (issue #17): nothing
// overflows its container, the window never scrolls as a whole (main is the one scroll container),
// Tab reaches every control without scrolling the shell, cut text ends in an ellipsis with the full
// text in its title, and the app logs no console warning or error. One library (the tiny demo plus
// one long-named exam) serves every size; screenshots of each state land in test-results/screenshots.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { ROOT } from '../serve';
import { useDemoHost } from './demo-host';
import { expect, hostApi, navLink, screenshot, test } from './fixtures';

const { host, dataDir } = useDemoHost('layout');

const LONG_PATIENT = 'Vandenberghe-Oyelaran^Maximiliana Alexandrina Josephine^Theodora-Wilhelmina';
const LONG_BUNDLE = 'CLEFT demo (phantom mammograms, density, a bundle name long enough to be cut anywhere)';
const LONG_ARCHIVE = 'research-pacs-of-the-screening-programme-with-a-long-name';
const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 1440, height: 900 },
  { width: 1920, height: 1080 },
] as const;

let phantoms: string | undefined;
let longStudyId = 0;

test.afterAll(() => {
  if (phantoms) fs.rmSync(phantoms, { recursive: true, force: true });
});

/** One more exam whose patient name is long, and the demo bundle again under a long name. */
async function addLongNames(): Promise<void> {
  const api = hostApi(host().url);
  phantoms = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-layout-phantoms-'));
  const cli = path.join(ROOT, 'bin/cleft.mjs');
  execFileSync(process.execPath, [cli, 'phantom', '--output', phantoms, '--exams', '1', '--seed', '91'], { cwd: ROOT, stdio: 'pipe' });
  const files = fs
    .readdirSync(phantoms, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.dcm'))
    .map((f) => path.join(phantoms!, f));
  expect(files.length).toBeGreaterThan(0);
  execFileSync('dcmodify', ['-nb', '-m', `(0010,0010)=${LONG_PATIENT}`, ...files], { stdio: 'pipe' });

  let job = await api<{ id: number; status: string }>('library.import', { paths: [phantoms] });
  await expect
    .poll(async () => (job = await api<{ id: number; status: string }>('jobs.get', { id: job.id })).status, { timeout: 90_000 })
    .toMatch(/done|failed|cancelled/);
  expect(job.status).toBe('done');
  const list = await api<{ rows: { id: number; patientName: string | null }[] }>('library.studies', {
    sort: { key: 'studyDate', dir: 'desc' },
  });
  longStudyId = list.rows.find((r) => (r.patientName ?? '').startsWith('Vandenberghe'))!.id;
  expect(longStudyId).toBeGreaterThan(0);

  // The demo bundle again, as a copy under the long name without its learned prompt set (so a new
  // identity: the library refuses the same model twice).
  const bundle = (await api<{ name: string; kind: string; path: string }[]>('models.list', {})).find((m) => m.kind === 'bundle')!;
  const copy = path.join(phantoms, 'long-bundle');
  fs.cpSync(path.resolve(dataDir(), bundle.path), copy, { recursive: true });
  const manifestFile = path.join(copy, 'cleft-bundle.json');
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { name: string };
  fs.writeFileSync(manifestFile, JSON.stringify({ ...manifest, name: LONG_BUNDLE, promptSets: [] }, null, 2));
  await api('models.import', { path: copy, name: LONG_BUNDLE, copy: true });
  // A saved archive with a long name and URL (saving contacts nothing), so the Archive page shows its table and search.
  await api('archives.add', { name: LONG_ARCHIVE, url: `http://127.0.0.1:9/${'dicom-web-of-a-very-long-path/'.repeat(4)}dicom-web` });
}

interface Problem {
  what: string;
  where: string;
}

/** Overflow and truncation problems of what is on screen now (run in the page). */
function layoutProblems(page: Page): Promise<Problem[]> {
  return page.evaluate(() => {
    const problems: Problem[] = [];
    const describe = (el: Element): string => {
      const id = el.id ? `#${el.id}` : '';
      const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
      const text = (el.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 60);
      return `${el.tagName.toLowerCase()}${id}${cls} "${text}"`;
    };
    const hidden = (el: Element): boolean => el.closest('.visually-hidden, svg, canvas, [aria-hidden="true"]') !== null;
    const shell = document.querySelector('.shell');
    if (!shell) return [{ what: 'no shell', where: '' }];
    for (const el of shell.querySelectorAll<HTMLElement>('*')) {
      if (hidden(el) || el.getClientRects().length === 0) continue;
      const style = getComputedStyle(el);
      if (style.display === 'inline' || style.display === 'contents') continue;
      if (el.scrollWidth <= el.clientWidth + 1) continue;
      if (el.clientWidth === 0 && el.clientHeight === 0) continue;
      if (style.textOverflow === 'ellipsis') {
        // Cut text: its full text must be in a tooltip (its own title or its control's).
        const titled = el.closest<HTMLElement>('[title]');
        const full = (el.textContent ?? '').trim();
        if (!titled || !(titled.title.includes(full) || full.includes(titled.title.trim())))
          problems.push({ what: 'cut text without its full text in a title', where: describe(el) });
        continue;
      }
      if (el instanceof HTMLSelectElement || el instanceof HTMLInputElement) continue; // form controls scroll their own text
      problems.push({ what: `overflows by ${el.scrollWidth - el.clientWidth}px (overflow-x ${style.overflowX})`, where: describe(el) });
    }
    // Selects: a cut option label needs the full text in the select's title.
    for (const sel of shell.querySelectorAll<HTMLSelectElement>('select')) {
      if (hidden(sel) || sel.getClientRects().length === 0) continue;
      const chosen = sel.selectedOptions[0]?.textContent?.trim() ?? '';
      const probe = document.createElement('span');
      probe.style.cssText = `position:fixed;visibility:hidden;white-space:nowrap;font:${getComputedStyle(sel).font}`;
      probe.textContent = chosen;
      document.body.append(probe);
      const needs = probe.getBoundingClientRect().width;
      probe.remove();
      const room = sel.clientWidth - 28; // the arrow and padding
      if (needs > room && !(sel.title || '').includes(chosen))
        problems.push({ what: `select label cut (${Math.round(needs)} > ${room}px) without a title`, where: describe(sel) });
    }
    return problems;
  });
}

/**
 * What must stay 0: the window's and the shell's scroll positions, and how far anything sticks out of
 * the window (a hidden caption placed outside the layout made the document taller than the window).
 */
function shellScroll(page: Page): Promise<number[]> {
  return page.evaluate(() => {
    const doc = document.scrollingElement!;
    const shell = document.querySelector('.shell')!;
    const sidebar = document.querySelector('.sidebar')!;
    const beyond = Math.max(0, doc.scrollHeight - doc.clientHeight) + Math.max(0, doc.scrollWidth - doc.clientWidth);
    return [doc.scrollTop, doc.scrollLeft, shell.scrollTop, shell.scrollLeft, sidebar.scrollTop, beyond];
  });
}

/**
 * Tabs through the page until focus comes back round (at most `limit` presses); after each press the
 * focused control must be inside the window and the shell must not have scrolled.
 */
async function tabThrough(page: Page, limit: number): Promise<{ visited: number; problems: string[] }> {
  await page.locator('main').focus();
  const problems: string[] = [];
  const seen = new Set<string>();
  let visited = 0;
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    const r = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return null;
      const box = el.getBoundingClientRect();
      const path: string[] = [];
      for (let n: Element | null = el; n && n !== document.body; n = n.parentElement)
        path.unshift(`${n.tagName}${n.id ? '#' + n.id : ''}:${Array.prototype.indexOf.call(n.parentElement?.children ?? [], n)}`);
      const doc = document.scrollingElement!;
      const shell = document.querySelector('.shell')!;
      return {
        key: path.join('/'),
        name: `${el.tagName.toLowerCase()} "${(el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 40)}"`,
        inWindow: box.bottom > 0 && box.top < innerHeight && box.right > 0 && box.left < innerWidth,
        scrolled: doc.scrollTop + doc.scrollLeft + shell.scrollTop + shell.scrollLeft,
      };
    });
    if (!r) continue;
    if (seen.has(r.key)) break;
    seen.add(r.key);
    visited++;
    if (!r.inWindow) problems.push(`${r.name} is focused outside the window`);
    if (r.scrolled !== 0) problems.push(`Tab to ${r.name} scrolled the shell by ${r.scrolled}px`);
  }
  return { visited, problems };
}

test('every page holds its layout at 1280, 1440 and 1920 wide, Jobs drawer open or closed', async ({ page, consoleErrors }) => {
  test.setTimeout(600_000);
  await addLongNames();

  const PAGES = [
    { id: 'library', hash: '#/library', title: 'Library' },
    { id: 'viewer', hash: `#/viewer/study/${longStudyId}`, title: 'Viewer' },
    { id: 'labels', hash: '#/labels', title: 'Labels' },
    { id: 'predictions', hash: '#/predictions', title: 'Predictions' },
    { id: 'training', hash: '#/training', title: 'Training' },
    { id: 'models', hash: '#/models', title: 'Models' },
    { id: 'settings', hash: '#/settings', title: 'Settings' },
    { id: 'archive', hash: '#/archive', title: 'Archive' },
  ];
  await page.setViewportSize(VIEWPORTS[0]);
  await page.goto(`${host().url}#/library`);
  await expect(page.getByRole('table', { name: 'Studies in the library' })).toBeVisible();
  await expect(page.getByText(LONG_PATIENT.split('^')[0]!)).toBeVisible();

  const failures: string[] = [];
  const jobsToggle = page.getByRole('button', { name: /^Jobs/ });
  for (const vp of VIEWPORTS) {
    await page.setViewportSize(vp);
    for (const p of PAGES) {
      await page.evaluate((hash) => (location.hash = hash), p.hash);
      await expect(navLink(page, p.title)).toHaveAttribute('aria-current', 'page');
      if (p.id === 'viewer') await expect(page.getByTestId('hanging')).toBeVisible();
      if (p.id === 'models') await expect(page.getByText(LONG_BUNDLE).first()).toBeAttached();
      for (const drawer of ['closed', 'open'] as const) {
        if ((await jobsToggle.getAttribute('aria-expanded')) !== String(drawer === 'open')) await jobsToggle.click();
        if (drawer === 'open') await expect(page.getByRole('region', { name: 'Jobs' })).toBeVisible();
        else await expect(page.getByRole('region', { name: 'Jobs' })).toHaveCount(0);
        const at = `${vp.width}x${vp.height} ${p.id}, drawer ${drawer}`;

        for (const x of await layoutProblems(page)) failures.push(`${at}: ${x.what}: ${x.where}`);

        // A wheel over the page and over the drawer scrolls those, never the window.
        const main = page.locator('main');
        const box = (await main.boundingBox())!;
        await page.mouse.move(box.x + box.width / 3, box.y + box.height / 2);
        await page.mouse.wheel(0, 4000);
        if (drawer === 'open') {
          await page.mouse.move(vp.width - 40, vp.height / 2);
          await page.mouse.wheel(0, 4000);
        }
        await expect.poll(() => shellScroll(page), { message: `${at}: wheel` }).toEqual([0, 0, 0, 0, 0, 0]);
        await main.evaluate((m) => m.scrollTo(0, 0));

        const tab = await tabThrough(page, 120);
        failures.push(...tab.problems.map((x) => `${at}: ${x}`));
        expect(tab.visited, `${at}: Tab reaches the page's controls`).toBeGreaterThan(5);
        expect(await shellScroll(page), `${at}: Tab`).toEqual([0, 0, 0, 0, 0, 0]);
        await main.evaluate((m) => m.scrollTo(0, 0));
        await screenshot(page, `layout-${vp.width}x${vp.height}-${p.id}-drawer-${drawer}`);
      }
    }
  }
  // One line per kind of problem and place (a long list repeats the same row of a table).
  const byKind = new Map<string, string>();
  for (const f of failures) {
    const key = f.replace(/ by \d+px/, '').replace(/ ".*$/, '');
    if (!byKind.has(key)) byKind.set(key, f);
  }
  expect([...byKind.values()]).toEqual([]);
  expect(consoleErrors).toEqual([]);
});

test('the task in view is one choice: labels decide the default, switching it anywhere switches every page', async ({
  page,
  consoleErrors,
}) => {
  const checked = (select: ReturnType<Page['locator']>) => select.locator('option:checked');
  const libraryTask = () => page.getByRole('group', { name: 'Prediction filters' }).getByLabel('Task');
  const viewerTask = () => page.getByRole('complementary', { name: 'Labeling' }).getByLabel('Task');
  const keysHelp = async () => {
    const keys = page.locator('details.keys');
    if ((await keys.getAttribute('open')) === null) await keys.locator('summary').click();
    return page.getByTestId('class-keys');
  };

  // A fresh window (no remembered task) on the demo's library, whose labels are all density.
  await page.goto(`${host().url}#/library`);
  await expect(checked(libraryTask())).toHaveText('Breast density');
  await page.evaluate((id) => (location.hash = `#/viewer/study/${id}`), longStudyId || 1);
  await expect(checked(viewerTask())).toHaveText(/^Breast density/);
  await expect(await keysHelp()).toContainText('1–4 Breast density: 1 A · 2 B · 3 C · 4 D');
  await page.evaluate(() => (location.hash = '#/predictions'));
  await expect(checked(page.locator('#pred-task'))).toHaveText('Breast density');

  // Switched in the Viewer: the Keys help, Predictions and the Library follow, and a reload keeps it.
  await page.evaluate((id) => (location.hash = `#/viewer/study/${id}`), longStudyId || 1);
  await viewerTask().selectOption({ label: 'BI-RADS assessment' });
  await expect(await keysHelp()).toContainText('0–6 BI-RADS assessment');
  await expect(page.getByTestId('class-keys')).not.toContainText('density');
  await page.evaluate(() => (location.hash = '#/predictions'));
  await expect(checked(page.locator('#pred-task'))).toHaveText('BI-RADS assessment');
  await page.evaluate(() => (location.hash = '#/library'));
  await expect(checked(libraryTask())).toHaveText('BI-RADS assessment');
  await page.reload();
  await expect(checked(libraryTask())).toHaveText('BI-RADS assessment');

  // Switched back from the Library filter: the Viewer follows.
  await libraryTask().selectOption({ label: 'Breast density' });
  await page.evaluate((id) => (location.hash = `#/viewer/study/${id}`), longStudyId || 1);
  await expect(checked(viewerTask())).toHaveText(/^Breast density/);
  await expect(await keysHelp()).toContainText('1–4 Breast density');
  expect(consoleErrors).toEqual([]);
});
