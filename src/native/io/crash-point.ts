// Test-only kill switch for multi-step saves: with CLEFT_CRASH_AT=<point> in the environment the
// process is SIGKILLed when it reaches that point, exactly as a power cut or `kill -9` would cut
// it (no finally blocks, no exit handlers). Tests use it to prove every step of a save resumes.
import fs from 'node:fs';
import path from 'node:path';

export const CRASH_AT_ENV = 'CLEFT_CRASH_AT';

/** Kills the whole process (from a worker thread too) when `point` is the one named in CLEFT_CRASH_AT. */
export function crashPoint(point: string): void {
  if (process.env[CRASH_AT_ENV] === point) process.kill(process.pid, 'SIGKILL');
}

// Test-only barrier for races between processes: with CLEFT_HOLD_AT=<point> and CLEFT_HOLD_DIR=<dir>
// a process reaching that point writes <dir>/<pid>.held and waits until <dir>/release exists, so a
// test can bring two processes to the same state before letting them go on (no timing).
export const HOLD_AT_ENV = 'CLEFT_HOLD_AT';
export const HOLD_DIR_ENV = 'CLEFT_HOLD_DIR';

/** Waits at `point` for the test's release when it is the one named in CLEFT_HOLD_AT; else returns at once. */
export async function holdPoint(point: string): Promise<void> {
  const dir = process.env[HOLD_DIR_ENV];
  if (process.env[HOLD_AT_ENV] !== point || !dir) return;
  fs.writeFileSync(path.join(dir, `${process.pid}.held`), point);
  const release = path.join(dir, 'release');
  while (!fs.existsSync(release)) await new Promise((resolve) => setTimeout(resolve, 20));
}
