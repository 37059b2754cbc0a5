// Stops the web host global-setup started (by its pid) and removes its data folder.
import fs from 'node:fs';
import { ENV_DATA_DIR, ENV_PID } from './server';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export default async function globalTeardown(): Promise<void> {
  const pid = Number(process.env[ENV_PID]);
  if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
    process.kill(pid, 'SIGTERM'); // cleft serve closes the host and the database on SIGTERM
    const deadline = Date.now() + 10_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  const dataDir = process.env[ENV_DATA_DIR];
  if (dataDir && dataDir.includes('cleft-e2e-')) fs.rmSync(dataDir, { recursive: true, force: true });
}
