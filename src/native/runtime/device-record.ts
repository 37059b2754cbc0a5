// What a run record says about where it ran: the device asked for, the provider that ran, why the
// others were not used, and per graph the provider that ran it and whether every node was on it.
import { providerLabel, type ProviderChoice, type ResolvedProvider } from './providers';
import type { SessionPlacement } from './session-cache';

export interface DeviceRecord {
  /** As given: auto, cpu, webgpu or cuda:N. */
  requested: ProviderChoice;
  /** The provider sessions were created with: cpu, webgpu or cuda:N. */
  provider: string;
  /** Why this provider and not the others. */
  reason: string;
  /** Per graph (forward, train_step, optimizer, image_encoder, ...): what ran it. */
  graphs: Record<string, SessionPlacement>;
}

/** Why `p` was used: auto's skipped providers, or that the choice was explicit. */
export function providerReason(p: ResolvedProvider): string {
  if (p.choice !== 'auto') return `requested explicitly (--device ${p.choice})`;
  if (p.name === 'cuda') return 'auto: CUDA loads (first choice)';
  return `auto: ${p.fallbackReason ?? 'faster providers unavailable'}`;
}

export function deviceRecord(p: ResolvedProvider, graphs: Record<string, SessionPlacement>): DeviceRecord {
  return { requested: p.choice, provider: providerLabel(p), reason: providerReason(p), graphs };
}
