// Runs the `cleft` command as a user would (node bin/cleft.mjs ...), from the repository root.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const CLI = path.join(ROOT, 'bin/cleft.mjs');

/** stdout of `cleft ...args`; throws (with stderr in the message) when it exits non-zero. */
export function runCli(args: readonly string[], options: { dataDir?: string } = {}): string {
  return execFileSync(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.dataDir ? { env: { ...process.env, CLEFT_DATA_DIR: options.dataDir } } : {}),
  });
}
