// Execution provider choice: try CUDA, then WebGPU, fall back to CPU with the reasons recorded, or
// honour an explicit choice with a clear error.
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
//
// WebGPU (bundled in the npm package: Dawn over Metal, D3D12 or Vulkan) needs no download, only a GPU
// adapter. Without one, `InferenceSession.create` rejects with "Failed to get a WebGPU adapter: No
// supported adapters" and the process carries on (measured with VK_ICD_FILENAMES pointing nowhere).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ort, ortBinaryDir, type OrtExecutionProviderConfig } from './ort';
import { probeModelBytes } from './probe-model';
import { listWebgpuAdapters } from './webgpu-adapters';
import { cudaLibrariesReason, defaultCudaSearch, type CudaSearch } from './cuda-libraries';

export type ProviderChoice = 'auto' | 'cpu' | 'webgpu' | `cuda:${number}`;

/**
 * The provider sessions will use. `fallbackReason` (only for `auto`) says why the faster providers
 * were not used, e.g. "CUDA unavailable: ...; WebGPU unavailable: ...".
 */
export type ResolvedProvider =
  | { name: 'cpu'; choice: ProviderChoice; fallbackReason?: string }
  | { name: 'webgpu'; choice: ProviderChoice; fallbackReason?: string }
  | { name: 'cuda'; deviceId: number; choice: ProviderChoice };

/** "cpu", "webgpu" or "cuda:N": how records and messages name a resolved provider. */
export function providerLabel(p: ResolvedProvider): string {
  return p.name === 'cuda' ? `cuda:${p.deviceId}` : p.name;
}

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
  if (t === 'auto' || t === 'cpu' || t === 'webgpu') return t;
  if (t === 'cuda' || t === 'gpu') return 'cuda:0';
  const m = /^cuda:(\d+)$/.exec(t);
  if (m) return `cuda:${Number(m[1])}`;
  throw new Error(`Unknown execution provider "${text}": use auto, cpu, webgpu or cuda:N (e.g. cuda:0)`);
}

/** The `executionProviders` list ORT expects for a resolved provider. */
export function executionProvidersFor(p: ResolvedProvider): OrtExecutionProviderConfig[] {
  if (p.name === 'cuda') return [{ name: 'cuda', deviceId: p.deviceId }];
  return p.name === 'webgpu' ? ['webgpu'] : ['cpu'];
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
  /**
   * Where the EP files and the CUDA 12 / cuDNN 9 libraries are looked for (default: the binding's
   * folder, LD_LIBRARY_PATH, the usual CUDA folders and the ldconfig cache). Tests give fake folders.
   */
  search?: CudaSearch;
}

// Loading the CUDA EP costs seconds and its outcome does not change within a process: probe once per
// device. Stores the promise so concurrent callers share one probe.
const probes = new Map<string, Promise<string | undefined>>();

/** Resolves to undefined when CUDA device `deviceId` works, or to the reason it does not. */
export function probeCuda(deviceId: number, options: ProbeOptions = {}): Promise<string | undefined> {
  const key = `${deviceId}:${options.forceLoad === true}:${JSON.stringify(options.search ? [options.search.epDir, options.search.dirs, [...options.search.ldCache]] : null)}`;
  let p = probes.get(key);
  if (!p) {
    p = (async () => {
      const status = cudaBinaryStatus();
      if (!status.compiledIn) {
        return `this onnxruntime-node build has no CUDA EP on ${process.platform}/${process.arch}`;
      }
      const missing = options.search ? [] : missingCudaFiles(status);
      if (missing.length > 0 && options.forceLoad !== true) return notInstalledReason(missing);
      // Every file the EP needs, by name, before ORT's load (which would only say "Failed to load").
      if ((process.platform === 'linux' || options.search) && options.forceLoad !== true) {
        const why = cudaLibrariesReason(options.search ?? defaultCudaSearch(ortBinaryDir()));
        if (why !== undefined) return why;
      }
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

/** ORT's config entry that makes a session fail instead of placing any node on the CPU EP. */
export const CONFIG_DISABLE_CPU_FALLBACK = 'session.disable_cpu_ep_fallback';

let webgpuProbe: Promise<string | undefined> | undefined;

/**
 * Resolves to undefined when a WebGPU adapter runs the probe model (Identity) entirely on the WebGPU
 * EP with the right result, or to the reason it does not. Probed once per process: Dawn keeps its
 * first device for the process anyway.
 */
export function probeWebgpu(): Promise<string | undefined> {
  webgpuProbe ??= (async () => {
    if (!ort.listSupportedBackends().some((b) => b.name === 'webgpu'))
      return `this onnxruntime-node build has no WebGPU EP on ${process.platform}/${process.arch}`;
    try {
      const session = await ort.InferenceSession.create(probeModelBytes(), {
        executionProviders: ['webgpu'],
        extra: { [CONFIG_DISABLE_CPU_FALLBACK]: '1' },
      });
      try {
        const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(3.25), [1]) });
        const y = out.y?.data[0];
        return y === 3.25 ? undefined : `the WebGPU probe session returned ${String(y)} instead of 3.25`;
      } finally {
        await session.release();
      }
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      // ORT prefixes its source location; the sentence after it is what a user can act on.
      const why = /Failed to get a WebGPU adapter[^\n]*/.exec(msg)?.[0] ?? msg.trim();
      return `no usable WebGPU adapter (${why}); on Linux this needs a Vulkan driver (e.g. Mesa 25's lavapipe or the GPU vendor's)`;
    }
  })();
  return webgpuProbe;
}

let softwareOnly: string | undefined | null = null;

/**
 * Why `auto` should not use WebGPU although it may run: every adapter Vulkan offers is a software
 * renderer (Mesa's llvmpipe/lavapipe, type "CPU"): it runs on the same cores as ORT's CPU provider
 * and gains nothing. Measured here, one train-lora SGD step on the reference-a models: 0.9-1.4 s on
 * the CPU provider, 1.4-1.7 s on lavapipe with Mesa's shader cache warm, 84 s the first time (every
 * shader compiled, machine loaded).
 * Undefined when a hardware adapter is listed or nothing could be listed (macOS, Windows, no Mesa).
 */
export function softwareOnlyWebgpu(): string | undefined {
  if (softwareOnly === null) {
    const { adapters } = listWebgpuAdapters();
    softwareOnly =
      adapters.length > 0 && adapters.every((a) => a.type === 'CPU')
        ? `only a software WebGPU adapter (${adapters.map((a) => a.name).join(', ')}), which runs on the CPU and is no faster than the CPU provider; --device webgpu uses it anyway`
        : undefined;
  }
  return softwareOnly;
}

/** Forgets probe results (tests; after `npm run gpu:install` in a long-lived process). */
export function resetProviderProbes(): void {
  probes.clear();
  webgpuProbe = undefined;
  softwareOnly = null;
}

/**
 * auto: CUDA device 0 if it loads, else WebGPU if a hardware adapter runs the probe, else CPU; what
 * was skipped is in `fallbackReason`. cpu: CPU. webgpu / cuda:N: that provider or an
 * ExecutionProviderUnavailableError that says why.
 */
export async function resolveExecutionProvider(choice: ProviderChoice, cuda: ProbeOptions = {}): Promise<ResolvedProvider> {
  if (choice === 'cpu') return { name: 'cpu', choice };
  if (choice === 'webgpu') {
    const reason = await probeWebgpu();
    if (reason !== undefined) throw new ExecutionProviderUnavailableError('webgpu', reason);
    return { name: 'webgpu', choice };
  }
  if (choice === 'auto') {
    const why = await probeCuda(0, cuda);
    if (why === undefined) return { name: 'cuda', deviceId: 0, choice };
    const webgpu = softwareOnlyWebgpu() ?? (await probeWebgpu());
    if (webgpu === undefined) return { name: 'webgpu', choice, fallbackReason: `CUDA unavailable: ${why}` };
    return { name: 'cpu', choice, fallbackReason: `CUDA unavailable: ${why}; WebGPU not used: ${webgpu}` };
  }
  const deviceId = Number(choice.slice('cuda:'.length));
  if (!Number.isInteger(deviceId) || deviceId < 0) {
    throw new Error(`Invalid CUDA device in "${choice}"`);
  }
  const reason = await probeCuda(deviceId, cuda);
  if (reason !== undefined) throw new ExecutionProviderUnavailableError(choice, reason);
  return { name: 'cuda', deviceId, choice };
}
