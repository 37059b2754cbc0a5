// Execution provider choice: try CUDA, fall back to CPU with the reason recorded, or honour an
// explicit choice with a clear error.
//
// How onnxruntime-node 1.30 reports CUDA (measured on linux/x64 without the CUDA EP installed):
// - `listSupportedBackends()` lists `{ name: 'cuda', bundled: false }`: the binding was compiled with
//   CUDA support, but the EP libraries (libonnxruntime_providers_cuda.so / _shared.so) are not in the
//   npm package; its postinstall fetches them from NuGet (skipped here).
// - Nothing fails until a session is created with the EP. Then `InferenceSession.create` rejects with
//   "OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library" (the path and
//   dlopen error go only to ORT's stderr log).
// - Listing `['cuda', 'cpu']` does NOT fall back: the whole create fails. Fallback is ours to do.
// - The EP is loaded by absolute path from the binding's directory (bin/napi-v6/<platform>/<arch>),
//   so checking those files predicts a "not installed" failure without the noisy load attempt.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ort, ortBinaryDir, type OrtExecutionProviderConfig } from './ort';
import { probeModelBytes } from './probe-model';

export type ProviderChoice = 'auto' | 'cpu' | `cuda:${number}`;

export type ResolvedProvider =
  { name: 'cpu'; choice: ProviderChoice; fallbackReason?: string } | { name: 'cuda'; deviceId: number; choice: ProviderChoice };

export class ExecutionProviderUnavailableError extends Error {
  override readonly name = 'ExecutionProviderUnavailableError';
  constructor(
    readonly provider: string,
    readonly reason: string,
  ) {
    super(`Execution provider ${provider} is not available: ${reason}`);
  }
}

/** Validates user input such as `--device cuda:1`. Plain `cuda` means `cuda:0`. */
export function parseProviderChoice(text: string): ProviderChoice {
  const t = text.trim().toLowerCase();
  if (t === 'auto' || t === 'cpu') return t;
  if (t === 'cuda' || t === 'gpu') return 'cuda:0';
  const m = /^cuda:(\d+)$/.exec(t);
  if (m) return `cuda:${Number(m[1])}`;
  throw new Error(`Unknown execution provider "${text}": use auto, cpu or cuda:N (e.g. cuda:0)`);
}

/** The `executionProviders` list ORT expects for a resolved provider. */
export function executionProvidersFor(p: ResolvedProvider): OrtExecutionProviderConfig[] {
  return p.name === 'cuda' ? [{ name: 'cuda', deviceId: p.deviceId }] : ['cpu'];
}

export interface CudaBinaryStatus {
  /** The binding was built with the CUDA EP (listed by `listSupportedBackends`). */
  compiledIn: boolean;
  /** The EP libraries ship in the npm package (never true on linux/x64 for 1.30). */
  bundled: boolean;
  /** Files the CUDA EP needs beside the binding, and whether each is present. */
  files: { file: string; present: boolean }[];
}

const CUDA_FILES: Record<string, string[]> = {
  linux: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  win32: ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll'],
};

/** What is installed, without loading anything (cheap; used for better error messages). */
export function cudaBinaryStatus(): CudaBinaryStatus {
  const entry = ort.listSupportedBackends().find((b) => b.name === 'cuda');
  const dir = ortBinaryDir();
  const files = (CUDA_FILES[process.platform] ?? []).map((file) => ({
    file,
    present: existsSync(path.join(dir, file)),
  }));
  return { compiledIn: entry !== undefined, bundled: entry?.bundled ?? false, files };
}

function missingCudaFiles(status: CudaBinaryStatus): string[] {
  return status.bundled ? [] : status.files.filter((f) => !f.present).map((f) => f.file);
}

function notInstalledReason(missing: string[]): string {
  return (
    `CUDA EP binaries not installed (missing ${missing.join(', ')} in ${ortBinaryDir()}); ` +
    'run `npm run gpu:install` (needs internet, an NVIDIA driver, CUDA 12 and cuDNN 9)'
  );
}

function loadFailureReason(ortMessage: string): string {
  const missing = missingCudaFiles(cudaBinaryStatus());
  if (missing.length > 0) return `${notInstalledReason(missing)}. ORT: ${ortMessage}`;
  return (
    'CUDA EP failed to load: check the NVIDIA driver, that CUDA 12 and cuDNN 9 libraries are on the ' +
    `library path, and the device id. ORT: ${ortMessage}`
  );
}

export interface ProbeOptions {
  /**
   * Attempt the load even when the EP files are known to be missing. Off by default because a failed
   * load makes ORT print several error lines to stderr (its process-wide logger; the session's
   * logSeverityLevel does not silence them), and the file check predicts the outcome exactly: ORT
   * loads the EP from the binding's own directory by absolute path.
   */
  forceLoad?: boolean;
}

// Loading the CUDA EP costs seconds and its outcome does not change within a process: probe once per
// device. Stores the promise so concurrent callers share one probe.
const probes = new Map<string, Promise<string | undefined>>();

/** Resolves to undefined when CUDA device `deviceId` works, or to the reason it does not. */
export function probeCuda(deviceId: number, options: ProbeOptions = {}): Promise<string | undefined> {
  const key = `${deviceId}:${options.forceLoad === true}`;
  let p = probes.get(key);
  if (!p) {
    p = (async () => {
      const status = cudaBinaryStatus();
      if (!status.compiledIn) {
        return `this onnxruntime-node build has no CUDA EP on ${process.platform}/${process.arch}`;
      }
      const missing = missingCudaFiles(status);
      if (missing.length > 0 && options.forceLoad !== true) return notInstalledReason(missing);
      try {
        const session = await ort.InferenceSession.create(probeModelBytes(), {
          executionProviders: [{ name: 'cuda', deviceId }],
        });
        await session.release();
        return undefined;
      } catch (err) {
        return loadFailureReason(err instanceof Error ? err.message : String(err));
      }
    })();
    probes.set(key, p);
  }
  return p;
}

/** Forgets probe results (tests; after `npm run gpu:install` in a long-lived process). */
export function resetProviderProbes(): void {
  probes.clear();
}

/**
 * auto: CUDA device 0 if it loads, else CPU with `fallbackReason`. cpu: CPU. cuda:N: that device or
 * an ExecutionProviderUnavailableError that says why.
 */
export async function resolveExecutionProvider(choice: ProviderChoice): Promise<ResolvedProvider> {
  if (choice === 'cpu') return { name: 'cpu', choice };
  if (choice === 'auto') {
    const reason = await probeCuda(0);
    return reason === undefined
      ? { name: 'cuda', deviceId: 0, choice }
      : { name: 'cpu', choice, fallbackReason: `CUDA unavailable: ${reason}` };
  }
  const deviceId = Number(choice.slice('cuda:'.length));
  if (!Number.isInteger(deviceId) || deviceId < 0) {
    throw new Error(`Invalid CUDA device in "${choice}"`);
  }
  const reason = await probeCuda(deviceId);
  if (reason !== undefined) throw new ExecutionProviderUnavailableError(choice, reason);
  return { name: 'cuda', deviceId, choice };
}
