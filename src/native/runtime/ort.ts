// The only module that loads onnxruntime-node. Everything else imports ORT from here, so the
// telemetry switch is guaranteed to be set before the native library initialises.
//
// A synchronous require (not a static import) makes the order explicit and survives bundlers that
// might hoist or reorder ESM imports: telemetry is disabled first, then the library is loaded.
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as OrtModule from 'onnxruntime-node';
import { disableOrtTelemetry } from './telemetry';

disableOrtTelemetry();

const require = createRequire(import.meta.url);

// Type-only: erased at compile time (verbatimModuleSyntax), so it cannot load the library early.
export type Ort = typeof OrtModule;
export type OrtSession = OrtModule.InferenceSession;
export type OrtSessionOptions = OrtModule.InferenceSession.SessionOptions;
export type OrtTensor = OrtModule.Tensor;
export type OrtExecutionProviderConfig = OrtModule.InferenceSession.ExecutionProviderConfig;

export const ort: Ort = require('onnxruntime-node') as Ort;

// The JS API (1.30) exposes no telemetry switch in `env` (only logLevel, versions and web flags);
// the environment variable above is the only control. Keep ORT's own logging to warnings and up.
ort.env.logLevel = 'warning';

/** Version of the loaded onnxruntime-node binding (e.g. "1.30.0"). */
export function ortVersion(): string {
  return ort.env.versions.node ?? ort.env.versions.common;
}

/** Directory holding the native binaries for this platform (where the CUDA EP libraries go). */
export function ortBinaryDir(): string {
  const pkgDir = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(pkgDir, 'bin', 'napi-v6', process.platform, process.arch);
}
