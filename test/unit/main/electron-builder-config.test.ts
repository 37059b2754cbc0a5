// Electron's binaries cannot be downloaded here, so installers cannot be built in CI; this checks
// the installer configuration against electron-builder's own schema and the layout it relies on.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { load as loadYaml } from 'js-yaml';

const root = path.resolve(__dirname, '../../..');
const require = createRequire(import.meta.url);

describe('electron-builder configuration', () => {
  const config = loadYaml(fs.readFileSync(path.join(root, 'electron-builder.yml'), 'utf8')) as Record<string, unknown>;

  it('passes electron-builder schema validation', async () => {
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
      validateConfiguration(c: unknown, logger: unknown): Promise<void>;
    };
    const logger = { isEnabled: false, add: () => undefined };
    await expect(validateConfiguration(config, logger)).resolves.toBeUndefined();
    await expect(validateConfiguration({ ...config, linux: { target: 'floppy-disk', nonsense: true } }, logger)).rejects.toThrow();
  });

  it('targets AppImage, deb, NSIS and dmg, never publishes, and unpacks the native modules', () => {
    expect((config.linux as { target: string[] }).target).toEqual(['AppImage', 'deb']);
    expect((config.win as { target: string[] }).target).toEqual(['nsis']);
    expect((config.mac as { target: string[] }).target).toEqual(['dmg']);
    expect(config.publish).toBeNull();
    expect(config.asarUnpack).toEqual(expect.arrayContaining(['node_modules/onnxruntime-node/**', 'node_modules/better-sqlite3/**']));
    expect(fs.existsSync(path.join(root, 'resources/icon.png'))).toBe(true);
  });

  it("flips the fuses of Electron's security checklist (no file:// privileges: the window loads app://)", () => {
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      grantFileProtocolExtraPrivileges: false,
    });
  });

  it('points at the entry points electron-vite builds', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { main: string };
    expect(pkg.main).toBe('out/main/index.js');
    const viteConfig = fs.readFileSync(path.join(root, 'electron.vite.config.ts'), 'utf8');
    expect(viteConfig).toContain("'job-worker'");
    expect(viteConfig).toContain("entryFileNames: '[name].cjs'");
  });
});
