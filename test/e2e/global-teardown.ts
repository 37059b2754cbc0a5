// Stops the web host global-setup started (by its pid) and removes its data folder.
import fs from 'node:fs';
import { stopProcess } from './serve';
import { ENV_DATA_DIR, ENV_PID } from './server';

export default async function globalTeardown(): Promise<void> {
  await stopProcess(Number(process.env[ENV_PID]));
  const dataDir = process.env[ENV_DATA_DIR];
  if (dataDir && dataDir.includes('cleft-e2e-')) fs.rmSync(dataDir, { recursive: true, force: true });
}
