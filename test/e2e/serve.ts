// Starts `node bin/cleft.mjs serve` on a data folder and resolves with the URL it prints. Used by
// global-setup (the shared host) and by tests that need a library of their own.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
const STARTUP_TIMEOUT_MS = 90_000;

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startServe(dataDir: string): Promise<ServeProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/cleft.mjs'), 'serve', '--data-dir', dataDir], {
    cwd: ROOT,
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
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`cleft serve exited early (code ${code}, signal ${signal}). Output:\n${output}`));
    });
  });
  child.removeAllListeners('exit');
  // Keep draining output so the child never blocks on a full pipe; errors are worth seeing.
  child.stdout!.removeAllListeners('data');
  child.stderr!.removeAllListeners('data');
  child.stdout!.on('data', (c: Buffer) => {
    if (process.env.CLEFT_E2E_VERBOSE) process.stdout.write(`[serve] ${c}`);
  });
  child.stderr!.on('data', (c: Buffer) => process.stderr.write(`[serve] ${c}`));
  return { url, child, stop: () => stopProcess(child.pid) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM (cleft serve closes the host and the database), then SIGKILL after 10 s. */
export async function stopProcess(pid: number | undefined): Promise<void> {
  if (!pid || !Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}
