// Builds the three Electron targets: main (plus the job worker that runs as a utility process),
// the sandboxed preload (CommonJS, as sandboxed preloads must be) and the Svelte renderer.
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          index: resolve(__dirname, 'src/main/electron/main.ts'),
          'job-worker': resolve(__dirname, 'src/main/jobs/worker-entry.ts'),
          'frame-worker': resolve(__dirname, 'src/main/imaging/frame-worker.ts'),
          'engine-status-worker': resolve(__dirname, 'src/main/runtime/status-worker.ts'),
          'int8-quantize-worker': resolve(__dirname, 'src/native/models/int8-quantize-worker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: 'src/renderer',
    plugins: [svelte()],
    build: {
      outDir: 'out/renderer',
      rollupOptions: { input: resolve(__dirname, 'src/renderer/index.html') },
    },
  },
});
