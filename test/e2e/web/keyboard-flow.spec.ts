// The researcher's main loop with the keyboard only: open a study from the Library, choose the
// task, label a breast with a number key, classify with C, then go to Training and start a prompt
// learning from its form. Every stop of the Tab walk must show where the focus is, and Tab must
// always move on (no traps). The demo that fills the library is set up with the mouse.
import type { Page } from '@playwright/test';
import { expect, screenshot, test } from './fixtures';
import { useDemoHost } from './demo-host';

const demoHost = useDemoHost('keyboard');

/** What the focused element is and whether a focus indicator (outline or ring) is drawn for it. */
async function focused(page: Page): Promise<{ id: string; visible: boolean }> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return { id: 'body', visible: false };
    const s = getComputedStyle(el);
    const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
    const ring = s.boxShadow !== 'none';
    const label = el.getAttribute('aria-label') ?? el.id ?? '';
    return { id: `${el.tagName.toLowerCase()}#${label}:${(el.textContent ?? '').trim().slice(0, 30)}`, visible: outline || ring };
  });
}

/**
 * Presses Tab until the focused element matches `selector` (or sits inside an element matching
 * it), checking at every stop that the focus is visible and that Tab moved it.
 */
async function tabTo(page: Page, selector: string, max = 120): Promise<void> {
  let previous = '';
  let same = 0;
  const walk: string[] = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const at = await focused(page);
    walk.push(at.id);
    expect(at.visible, `focus indicator on ${at.id} (walk: ${walk.join(' | ')})`).toBe(true);
    same = at.id === previous ? same + 1 : 0;
    expect(same, `Tab stays on ${at.id}`).toBeLessThan(3);
    previous = at.id;
    if (await page.evaluate((sel) => document.activeElement?.closest(sel) !== null, selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

test('keyboard only: Library → Viewer (task, label, classify) → Training (start a job)', async ({ page, consoleErrors }) => {
  test.setTimeout(240_000);
  await page.goto(`${demoHost.host().url}#/library`);
  await expect(page.getByRole('heading', { level: 1, name: 'Library' })).toBeVisible();

  // Library: Tab to the first study's link and open it with Enter.
  await tabTo(page, 'table a');
  await screenshot(page, 'keyboard-library');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/#\/viewer\/study\/\d+$/);
  await expect(page.getByTestId('hanging').locator('[data-renders]:not([data-renders="0"])')).toHaveCount(4);

  // Viewer: Tab to the labeling panel's task and choose it by typing its name.
  const panel = page.getByRole('complementary', { name: 'Labeling' });
  const task = panel.getByLabel('Task');
  await tabTo(page, '[aria-label="Labeling"] select');
  await expect(task).toBeFocused();
  await page.keyboard.type('Breast density');
  await expect(task.locator('option:checked')).toHaveText('Breast density');
  // Leave the field (keys typed into a field are never taken), then label and classify by key.
  await page.keyboard.press('Tab');
  await expect(panel.getByTestId('label-target')).toContainText('Right breast');
  await page.keyboard.press('2');
  await expect(page.getByTestId('label-tag').first()).toHaveText('B');
  await expect(panel.getByTestId('label-target')).toContainText('Left breast');
  await page.keyboard.press('c');
  await expect(page.getByTestId('classify-panel')).toHaveAttribute('data-state', 'new', { timeout: 90_000 });
  await expect(page.getByTestId('view-prediction')).toHaveCount(4);
  await screenshot(page, 'keyboard-viewer');

  // The shortcuts dialog opens with ?, closes with Escape and gives the focus back.
  await page.getByRole('heading', { level: 1 }).focus();
  await page.keyboard.press('?');
  const dialog = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await expect(dialog).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(page.getByRole('heading', { level: 1 })).toBeFocused();

  // Training: G then T, Tab through the prompt-learning form to its start button, Enter.
  await page.keyboard.press('g');
  await page.keyboard.press('t');
  await expect(page).toHaveURL(/#\/training$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Training' })).toBeFocused();
  await expect(page.getByLabel('Model')).toContainText('CLEFT demo');
  await tabTo(page, 'form button[type="submit"]');
  await screenshot(page, 'keyboard-training');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('main').getByRole('progressbar').first()).toBeVisible({ timeout: 30_000 });
  expect(consoleErrors).toEqual([]);
});
