// What a run record says about where it ran: the device asked for, the provider that ran, why the
// others were not used, and per graph the provider that ran it, whether every node was on it and
// whether that provider gives the same bits run after run.
import { providerLabel, type ProviderChoice, type ResolvedProvider } from './providers';
import type { SessionPlacement } from './session-cache';

/** One graph's line of the record. */
export interface GraphRecord extends SessionPlacement {
  deterministic: boolean;
  /** The conditions, in a sentence. */
  determinism: string;
}

export interface DeviceRecord {
  /** As given: auto, cpu, webgpu or cuda:N. */
  requested: ProviderChoice;
  /** The provider sessions were created with: cpu, webgpu or cuda:N. */
  provider: string;
  /** Why this provider and not the others. */
  reason: string;
  /** Per graph (forward, train_step, optimizer, image_encoder, ...): what ran it. */
  graphs: Record<string, GraphRecord>;
  /**
   * Training runs: where parameters, gradients and optimizer state live between train_step and the
   * optimizer: "device" (kept in GPU memory), else "host: <why>" (docs/engine.md#device-resident-training-state).
   */
  trainingState?: string;
}

/**
 * Whether a provider repeats its bits. What is true here:
 * - CPU: yes for the same thread count on the same machine and build. Measured (onnxruntime-node
 *   1.30, this 2-core EPYC): MatMul + ReduceSum + Softmax of 97×1531×203 gives the same bits at 1
 *   and 2 intra-op threads, run after run, but other bits at 3 and at 4 threads (MLAS splits work
 *   by thread count); a kill -9 resume reproduces an uninterrupted run bit for bit
 *   (test/unit/library/training-kill.test.ts). Another CPU (other SIMD kernels) may give other bits.
 * - WebGPU: not guaranteed; the WebGPU spec and Dawn promise no order of parallel reductions, so
 *   a driver may change the bits between runs. (Mesa's lavapipe: see docs/engine.md.)
 * - CUDA: not by default (cuDNN/cuBLAS pick algorithms, some with atomics; ORT's
 *   cudnn_conv_use_max_workspace and algo search are not pinned here).
 */
export function providerDeterminism(provider: string, threads?: number): { deterministic: boolean; determinism: string } {
  if (provider === 'cpu')
    return {
      deterministic: true,
      determinism:
        `yes: the same bits run after run on this machine with the same thread count (${threads && threads > 0 ? `${threads} thread${threads === 1 ? '' : 's'}` : "ORT's default: one per physical core"}); ` +
        'another thread count or CPU may change the last bits',
    };
  if (provider === 'webgpu')
    return {
      deterministic: false,
      determinism:
        'not guaranteed: WebGPU does not fix the order of parallel reductions; a resumed run matches an uninterrupted one within rounding',
    };
  return {
    deterministic: false,
    determinism: 'not by default: cuDNN and cuBLAS may choose algorithms with atomics; runs can differ in the last bits',
  };
}

/** Why `p` was used: auto's skipped providers, or that the choice was explicit. */
export function providerReason(p: ResolvedProvider): string {
  if (p.choice !== 'auto') return `requested explicitly (--device ${p.choice})`;
  if (p.name === 'cuda') return 'auto: CUDA loads (first choice)';
  return `auto: ${p.fallbackReason ?? 'faster providers unavailable'}`;
}

/** A graph's record line from its session placement. */
export function graphRecord(placement: SessionPlacement, threads?: number): GraphRecord {
  return { ...placement, ...providerDeterminism(placement.provider, threads) };
}

export function deviceRecord(p: ResolvedProvider, graphs: Record<string, SessionPlacement>, threads?: number): DeviceRecord {
  const lines: Record<string, GraphRecord> = {};
  for (const [name, placement] of Object.entries(graphs)) lines[name] = graphRecord(placement, threads);
  return { requested: p.choice, provider: providerLabel(p), reason: providerReason(p), graphs: lines };
}
