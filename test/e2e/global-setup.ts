// Starts the real web host (`node bin/cleft.mjs serve`) on a fresh data folder and hands its URL to
// the tests through the environment (workers inherit the runner's process.env). Builds nothing:
// `npm run test:e2e` runs `electron-vite build` first.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, startServe } from './serve';
import { ENV_DATA_DIR, ENV_PID, ENV_URL } from './server';

export default async function globalSetup(): Promise<void> {
  if (!fs.existsSync(path.join(ROOT, 'out/renderer/index.html'))) {
    throw new Error('out/renderer is not built: run `npm run test:e2e` (it builds first) or `npx electron-vite build`');
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-'));
  const served = await startServe(dataDir);
  // The runner must be able to exit while the host runs; teardown stops it by pid.
  served.child.unref();
  (served.child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (served.child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  process.env[ENV_URL] = served.url;
  process.env[ENV_PID] = String(served.child.pid);
  process.env[ENV_DATA_DIR] = dataDir;
}
