// A web host of its own with the tiny demo run from the first-run card (phantom studies with
// density labels and reports, a bundle holding the prompt set "density-demo"), for spec files
// that need a library to work on. Registers the serial mode and the before/after hooks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServe, type ServeProcess } from '../serve';
import { expect, test } from './fixtures';

/** Call at the top of a spec file; `host()` is valid inside its tests. */
export function useDemoHost(prefix: string): { host: () => ServeProcess; dataDir: () => string } {
  let host: ServeProcess | undefined;
  let dataDir: string | undefined;
  test.describe.configure({ mode: 'serial' });
  test.beforeAll(async ({ browser }) => {
    test.setTimeout(300_000);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `cleft-e2e-${prefix}-`));
    host = await startServe(dataDir);
    const page = await browser.newPage();
    await page.goto(host.url);
    const card = page.getByTestId('demo-card');
    await card.getByRole('button', { name: 'Tiny (seconds, barely trained)' }).click();
    await expect(card).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
    await page.close();
  });
  test.afterAll(async () => {
    await host?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    host: () => {
      if (!host) throw new Error('the demo host is not started (use it inside a test)');
      return host;
    },
    dataDir: () => {
      if (!dataDir) throw new Error('the demo host is not started (use it inside a test)');
      return dataDir;
    },
  };
}
