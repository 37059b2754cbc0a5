// What `cleft doctor` can say about WebGPU adapters from Node.
//
// onnxruntime-node 1.30 exposes no adapter information to JavaScript: `env.webgpu.adapter` and
// `env.webgpu.device` are browser-only (the Node binding never fills them), the binding's exports are
// InferenceSession, listSupportedBackends and initOrtOnce, and ORT's verbose log names no adapter.
// Dawn asks the adapter for its limits inside ORT (maxBufferSize, maxStorageBufferBindingSize) but
// keeps them there. So the limits are not reachable from here.
//
// On Linux, Dawn's backend is Vulkan, and Mesa's device-select layer (shipped with Mesa's Vulkan
// drivers, and loaded for every Vulkan application) prints the physical devices Vulkan offers when
// MESA_VK_DEVICE_SELECT=list, then ends the process. A child process that starts a WebGPU session
// with that variable set therefore lists the devices Dawn chooses from: name, PCI vendor id, type.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PROBE_MODEL_BASE64 } from './probe-model';

export interface WebgpuAdapter {
  name: string;
  vendor: string;
  /** Dawn's backend: Vulkan on Linux, Metal on macOS, D3D12 on Windows. */
  backend: string;
  /** "discrete GPU", "integrated GPU", "CPU" (a software device such as lavapipe), ... */
  type: string | null;
  /** Not reachable from onnxruntime-node 1.30 (see `limitsReason`). */
  maxBufferSize: number | null;
  maxStorageBufferBindingSize: number | null;
}

export interface WebgpuAdapterList {
  adapters: WebgpuAdapter[];
  /** How the list was obtained, or why it could not be. */
  source: string;
  /** Why the limits are null. */
  limitsReason: string;
}

const VENDORS: Record<number, string> = {
  0x10de: 'NVIDIA',
  0x1002: 'AMD',
  0x1022: 'AMD',
  0x8086: 'Intel',
  0x106b: 'Apple',
  0x5143: 'Qualcomm',
  0x13b5: 'ARM',
  0x1010: 'Imagination',
  0x10005: 'Mesa (software)',
};

/** Dawn's default backend on this platform. */
export function dawnBackend(platform: NodeJS.Platform = process.platform): string {
  return platform === 'darwin' ? 'metal' : platform === 'win32' ? 'd3d12' : 'vulkan';
}

export const LIMITS_UNREACHABLE =
  'onnxruntime-node 1.30 does not expose adapter limits to JavaScript (Dawn reads them inside ORT; env.webgpu.adapter is browser-only)';

/**
 * Parses Mesa's device-select listing, e.g.
 *   selectable devices:
 *     GPU 0: 10005:0 "llvmpipe (LLVM 15.0.6, 256 bits)" CPU
 *     GPU 1: 10de:2684 "NVIDIA GeForce RTX 4090" discrete GPU
 */
export function parseDeviceSelectList(text: string): WebgpuAdapter[] {
  const out: WebgpuAdapter[] = [];
  for (const m of text.matchAll(/^\s*GPU \d+: ([0-9a-f]+):([0-9a-f]+) "([^"]*)"\s*(.*)$/gim)) {
    const vendorId = parseInt(m[1]!, 16);
    out.push({
      name: m[3]!,
      vendor: VENDORS[vendorId] ?? `0x${m[1]!}`,
      backend: 'vulkan',
      type: m[4]!.trim() || null,
      maxBufferSize: null,
      maxStorageBufferBindingSize: null,
    });
  }
  return out;
}

let listed: WebgpuAdapterList | undefined;

/**
 * Lists the adapters as far as this platform allows (Linux with Mesa's layer: a child process, < 1 s,
 * once per process).
 */
export function listWebgpuAdapters(): WebgpuAdapterList {
  listed ??= listNow();
  return listed;
}

function listNow(): WebgpuAdapterList {
  if (process.platform !== 'linux')
    return {
      adapters: [],
      source: `not listed on ${process.platform}: onnxruntime-node exposes no adapter list (backend ${dawnBackend()})`,
      limitsReason: LIMITS_UNREACHABLE,
    };
  const ortDir = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  const script =
    `require(${JSON.stringify(ortDir)}).InferenceSession.create(Buffer.from(${JSON.stringify(PROBE_MODEL_BASE64)}, 'base64'),` +
    ` { executionProviders: ['webgpu'] }).then(() => {}, () => {});`;
  const r = spawnSync(process.execPath, ['-e', script], {
    env: { ...process.env, MESA_VK_DEVICE_SELECT: 'list', ELECTRON_RUN_AS_NODE: '1', ORT_DISABLE_TELEMETRY: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const adapters = parseDeviceSelectList(`${r.stdout ?? ''}\n${r.stderr ?? ''}`);
  return {
    adapters,
    source:
      adapters.length > 0
        ? "Vulkan physical devices listed by Mesa's device-select layer (MESA_VK_DEVICE_SELECT=list); Dawn picks one of them"
        : "no list: Mesa's Vulkan device-select layer is not installed or Vulkan offers no device",
    limitsReason: LIMITS_UNREACHABLE,
  };
}
