// The worker entry must also work as bundled JavaScript (the packaged app and the bundled CLI), not
// only from TypeScript sources through tsx. Bundle it with esbuild (already in the toolchain via
// vite/tsx) the way electron-vite would, onnxruntime-node external, and run a model in it.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { EngineWorker } from '../../../../src/native/runtime/engine-worker';
import { f32 } from '../../../../src/native/runtime/tensors';
import { addConstModel } from './helpers/onnx-min';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

describe('EngineWorker from a bundled .js entry', () => {
  it('runs a model', async () => {
    // Inside the repo so the bundle resolves onnxruntime-node from node_modules like a real build.
    const cache = path.join(root, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    const outdir = mkdtempSync(path.join(cache, 'cleft-engine-bundle-'));
    const outfile = path.join(outdir, 'engine-worker-entry.js');
    writeFileSync(path.join(outdir, 'package.json'), '{ "type": "module" }'); // as out/ in an ESM app
    await build({
      entryPoints: [path.join(root, 'src/native/runtime/engine-worker-entry.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['onnxruntime-node'],
      outfile,
      logLevel: 'silent',
    });
    const engine = EngineWorker.start({ entry: outfile });
    try {
      const info = await engine.createSession({ bytes: addConstModel(new Float32Array([2, 4])) });
      const out = await engine.run(info.key, { x: f32([1, 1], [1, 2]) });
      expect(Array.from(out.y!.data as Float32Array)).toEqual([3, 5]);
    } finally {
      await engine.close();
    }
  });
});
