// Child-process script for telemetry.test.ts, run with the ORT_DISABLE_TELEMETRY variable unset and
// HOME pointing at an empty directory:
//   raw     load onnxruntime-node directly and create a session (control: telemetry files appear)
//   engine  load it through src/native/runtime/ort.ts and create a session
//   worker  spawn a worker thread that loads ort.ts while the parent never set the variable
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import type * as OrtModule from 'onnxruntime-node';
import { addConstModel } from './onnx-min';

const mode = process.argv[2];
const model = addConstModel(new Float32Array([1]));

if (mode === 'raw') {
  const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof OrtModule;
  await ort.InferenceSession.create(model);
  console.log(JSON.stringify({ env: process.env.ORT_DISABLE_TELEMETRY ?? null }));
} else if (mode === 'engine') {
  const { ort } = await import('../../../../../src/native/runtime/ort');
  await ort.InferenceSession.create(model);
  console.log(JSON.stringify({ env: process.env.ORT_DISABLE_TELEMETRY ?? null }));
} else if (mode === 'worker') {
  const require = createRequire(import.meta.url);
  const tsxPkg = require.resolve('tsx/package.json');
  const api = pathToFileURL(path.join(path.dirname(tsxPkg), 'dist/esm/api/index.mjs')).href;
  const ortUrl = new URL('../../../../../src/native/runtime/ort.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(ortUrl)}); })
    .then(() => require('node:worker_threads').parentPort.postMessage('loaded'),
          (e) => require('node:worker_threads').parentPort.postMessage('error: ' + e.message));`;
  const w = new Worker(code, { eval: true });
  const msg = await new Promise((resolve) => w.once('message', resolve));
  await w.terminate();
  console.log(JSON.stringify({ worker: msg }));
}
