// The shell in Chromium against the real web host: every page by link and by shortcut, honest
// empty states, the token kept out of the address bar, and keyboard-only use.
import { VIEWER_KEYS } from '../../../src/renderer/src/lib/viewer/viewer-keys';
import { expect, navLink, openApp, PAGES, screenshot, test } from './fixtures';

test('walks every page from the sidebar and saves a screenshot of each', async ({ page, served, consoleErrors }) => {
  await openApp(page, served);
  // The address bar no longer shows the token; it is kept for this tab only.
  expect(page.url()).not.toContain('token=');
  expect(await page.evaluate(() => sessionStorage.getItem('cleft.token'))).toBe(served.token);
  await expect(page).toHaveURL(/#\/library$/);

  for (const p of PAGES) {
    await navLink(page, p.title).click();
    await expect(page).toHaveURL(new RegExp(`#/${p.id}$`));
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(p.title);
    await expect(page.getByText(p.empty, { exact: true })).toBeVisible();
    await expect(navLink(page, p.title)).toHaveAttribute('aria-current', 'page');
    await expect(page.locator('nav a[aria-current="page"]')).toHaveCount(1);
    await expect(page).toHaveTitle(`${p.title} · CLEFT Studio`);
    await screenshot(page, p.id);
  }
  expect(consoleErrors).toEqual([]);
});

test('empty states say what to do first', async ({ page, served }) => {
  await openApp(page, served, '#/library');
  await expect(page.getByText('Import a folder of DICOM files', { exact: false })).toBeVisible();
  await expect(page.getByLabel('Folder of DICOM files')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Verify folder (hash files)' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Import folder' })).toBeVisible();
  // No native picker over the web host: the path field alone, no Browse button that would fail.
  await expect(page.getByRole('button', { name: /Browse/ })).toHaveCount(0);

  await navLink(page, 'Viewer').click();
  await expect(page.getByRole('link', { name: 'Go to the Library' })).toBeVisible();
  await navLink(page, 'Predictions').click();
  await expect(page.getByRole('link', { name: 'Add a model' })).toBeVisible();
  await navLink(page, 'Models').click();
  await expect(page.getByText('Automatic: CUDA when it works, otherwise CPU')).toBeVisible();
});

test('keyboard shortcuts open every page (Alt+digit and G then letter)', async ({ page, served }) => {
  await openApp(page, served);
  for (const [i, p] of PAGES.entries()) {
    await page.keyboard.press(`Alt+Digit${i + 1}`);
    await expect(page).toHaveURL(new RegExp(`#/${p.id}$`));
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(p.title);
  }
  for (const p of [...PAGES].reverse()) {
    await page.keyboard.press('g');
    await page.keyboard.press(p.key);
    await expect(page).toHaveURL(new RegExp(`#/${p.id}$`));
    await expect(page.getByRole('heading', { level: 1 })).toBeFocused();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(p.title);
  }
  // Tooltips name the shortcuts.
  await expect(navLink(page, 'Models')).toHaveAttribute('title', /Alt\+6 or G then M/);

  // Shortcuts never steal keys typed into a field.
  await page.keyboard.press('Alt+Digit7');
  const annotator = page.getByLabel('Annotator name');
  await annotator.click();
  await page.keyboard.type('gl');
  await expect(page).toHaveURL(/#\/settings$/);
  await expect(annotator).toHaveValue(/gl$/);

  // "?" lists the shortcuts in a dialog; Escape closes it.
  await page.getByRole('heading', { level: 1 }).focus();
  await page.keyboard.press('?');
  const dialog = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await expect(dialog).toBeVisible();
  // Every viewer key, from the one definition the viewer's handler uses (D, A and Z among them).
  const viewerKeys = dialog.getByTestId('viewer-keys').locator('tr');
  await expect(viewerKeys).toHaveCount(VIEWER_KEYS.length);
  for (const [action, key] of [
    ['tool-ruler', 'D'],
    ['tool-area', 'A'],
    ['tool-loupe', 'Z'],
    ['explain', 'M'],
  ] as const)
    await expect(viewerKeys.and(page.locator(`[data-action="${action}"]`)).locator('kbd')).toHaveText([key]);
  await screenshot(page, 'shortcuts');
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
});

test('keyboard only: skip link, Tab reaches the navigation, Enter opens a page', async ({ page, served }) => {
  await openApp(page, served, '#/library');
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to content' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeVisible();

  // Tab walks the sidebar links in page order; stop on Training.
  for (const title of ['Library', 'Viewer', 'Labels', 'Predictions', 'Training']) {
    await page.keyboard.press('Tab');
    await expect(navLink(page, title)).toBeFocused();
  }
  // The focused link shows a visible focus ring.
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
  expect(outline).not.toBe('none');
  await screenshot(page, 'keyboard-focus');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/#\/training$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Training' })).toBeFocused();

  // The skip link moves focus to the content without touching the route.
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Training' })).toBeVisible();
  await page.keyboard.press('Tab');
  await expect(skip).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('main#main')).toBeFocused();
  await expect(page).toHaveURL(/#\/training$/);

  // The jobs panel opens from the keyboard and Escape returns focus to its button.
  await page.keyboard.press('g');
  await page.keyboard.press('j');
  const panel = page.getByRole('region', { name: 'Jobs' });
  await expect(panel).toBeVisible();
  await expect(panel).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(panel).toBeHidden();
  await expect(page.getByRole('button', { name: /^Jobs/ })).toBeFocused();
});

test('the page keeps its token across a reload and shows live status', async ({ page, served }) => {
  await openApp(page, served, '#/models');
  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Models');
  await expect(page.getByTestId('connection-status')).toContainText('Live');
  expect(page.url()).not.toContain('token=');
});
