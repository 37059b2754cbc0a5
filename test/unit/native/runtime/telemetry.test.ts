import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ortVersion } from '../../../../src/native/runtime/ort';
import { isOrtTelemetryDisabled, TELEMETRY_ENV } from '../../../../src/native/runtime/telemetry';

const child = fileURLToPath(new URL('./helpers/telemetry-child.ts', import.meta.url));
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Runs the child with telemetry unset and an empty HOME; returns its output and what ORT wrote. */
function runChild(mode: string): { out: Record<string, unknown>; telemetryDir: boolean } {
  const home = mkdtempSync(path.join(tmpdir(), 'cleft-home-'));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  delete env[TELEMETRY_ENV];
  delete env.XDG_CACHE_HOME;
  // ORT writes no telemetry store when CI is set (measured), so the control would prove nothing there;
  // a researcher's desktop has no CI variable.
  delete env.CI;
  const stdout = execFileSync(process.execPath, ['--import', tsxLoader, child, mode], { env, encoding: 'utf8' });
  const last = stdout.trim().split('\n').pop() ?? '{}';
  const telemetryDir = existsSync(path.join(home, '.cache', 'Microsoft', 'DeveloperTools', '.onnxruntime'));
  return { out: JSON.parse(last) as Record<string, unknown>, telemetryDir };
}

describe('ORT telemetry', () => {
  it('is disabled in this process once ort.ts is loaded', () => {
    expect(ortVersion()).toBe('1.30.0');
    expect(process.env[TELEMETRY_ENV]).toBe('1');
    expect(isOrtTelemetryDisabled()).toBe(true);
  });

  it('control: onnxruntime-node loaded directly writes its telemetry store under HOME', () => {
    const r = runChild('raw');
    expect(r.out.env).toBeNull();
    expect(r.telemetryDir).toBe(true);
  });

  it('loaded through ort.ts, the variable is set and nothing is written', () => {
    const r = runChild('engine');
    expect(r.out.env).toBe('1');
    expect(r.telemetryDir).toBe(false);
  });

  it('a worker thread refuses to load ORT when the parent did not disable telemetry', () => {
    const r = runChild('worker');
    expect(r.out.worker).toMatch(/^error: ORT_DISABLE_TELEMETRY=1 must be set by the parent thread/);
    expect(r.telemetryDir).toBe(false);
  });
});
