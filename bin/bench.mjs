#!/usr/bin/env node
// `npm run bench [-- NAME...]`: runs every benchmark in bench/ (or the named ones) one after the
// other, each in its own process so one bench's memory and threads never skew the next, and lets
// each update its section of bench/RESULTS.md. Extra flags after `--` go to every bench.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = path.join(root, 'bench');
const args = process.argv.slice(2);
const names = args.filter((a) => !a.startsWith('--'));
const flags = args.filter((a) => a.startsWith('--'));
const all = fs
  .readdirSync(benchDir)
  .filter((f) => f.endsWith('.ts') && f !== 'harness.ts' && !f.endsWith('.d.ts'))
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();
const chosen = names.length ? names : all;
const unknown = chosen.filter((n) => !all.includes(n));
if (unknown.length) {
  console.error(`unknown bench: ${unknown.join(', ')} (have: ${all.join(', ')})`);
  process.exit(2);
}
let failed = 0;
for (const name of chosen) {
  console.log(`\n=== bench/${name}.ts`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(benchDir, `${name}.ts`), '--write', ...flags], {
    stdio: 'inherit',
    cwd: root,
    env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
  });
  if (r.status !== 0) {
    failed++;
    console.error(`bench/${name}.ts failed (exit ${r.status})`);
  }
}
process.exit(failed ? 1 : 0);
