// ONNX Runtime telemetry must be off before the native library initialises: CLEFT runs on machines
// holding patient data, so nothing may be collected or sent, ever.
//
// Measured on onnxruntime-node 1.30 (linux/x64): without ORT_DISABLE_TELEMETRY the library starts a
// 1DS telemetry system that writes ~/.cache/Microsoft/DeveloperTools/.onnxruntime/{deviceid,
// onnxruntime.db} and may upload over HTTPS. With ORT_DISABLE_TELEMETRY=1 nothing is written.
//
// The variable is read by native code (getenv), so it must be in the *process* environment. In a
// worker_threads worker `process.env` is a private copy: assigning it there does not reach native
// code (verified: the telemetry files still appear). Hence: set it on the main thread (or in an
// Electron utility process, which is a real process) before any worker is spawned, and let workers
// only check it.
import { isMainThread } from 'node:worker_threads';

export const TELEMETRY_ENV = 'ORT_DISABLE_TELEMETRY';

/**
 * Sets ORT_DISABLE_TELEMETRY=1 where it reaches native code. On a worker thread this cannot be done,
 * so it verifies that the parent did it and throws otherwise (the worker inherits a copy of the
 * parent's environment at spawn time, so a correct parent is visible here).
 */
export function disableOrtTelemetry(): void {
  if (isMainThread) {
    process.env[TELEMETRY_ENV] = '1';
    return;
  }
  if (process.env[TELEMETRY_ENV] !== '1') {
    throw new Error(
      `${TELEMETRY_ENV}=1 must be set by the parent thread before spawning an engine worker; ` +
        'a worker cannot change the environment native code sees. Use EngineWorker, which does this.',
    );
  }
}

/** True when the environment native code will see has telemetry disabled. */
export function isOrtTelemetryDisabled(): boolean {
  return process.env[TELEMETRY_ENV] === '1';
}
