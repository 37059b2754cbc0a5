// Starts the real web host (`node bin/cleft.mjs serve`) on a fresh data folder and hands its URL to
// the tests through the environment (workers inherit the runner's process.env). Builds nothing:
// `npm run test:e2e` runs `electron-vite build` first.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENV_DATA_DIR, ENV_PID, ENV_URL } from './server';

const STARTUP_TIMEOUT_MS = 90_000;

export default async function globalSetup(): Promise<void> {
  const root = path.resolve(import.meta.dirname, '../..');
  if (!fs.existsSync(path.join(root, 'out/renderer/index.html'))) {
    throw new Error('out/renderer is not built: run `npm run test:e2e` (it builds first) or `npx electron-vite build`');
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-e2e-'));
  const child = spawn(process.execPath, [path.join(root, 'bin/cleft.mjs'), 'serve', '--data-dir', dataDir], {
    cwd: root,
    env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cleft serve printed no URL within ${STARTUP_TIMEOUT_MS / 1000} s. Output:\n${output}`));
    }, STARTUP_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /Open (http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`cleft serve exited early (code ${code}, signal ${signal}). Output:\n${output}`));
    });
  });
  // Keep draining output so the child never blocks on a full pipe; show it when debugging.
  child.stdout.on('data', (c: Buffer) => process.env.CLEFT_E2E_VERBOSE && process.stdout.write(`[serve] ${c}`));
  child.stderr.on('data', (c: Buffer) => process.stderr.write(`[serve] ${c}`));
  child.removeAllListeners('exit');
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();

  process.env[ENV_URL] = url;
  process.env[ENV_PID] = String(child.pid);
  process.env[ENV_DATA_DIR] = dataDir;
}
