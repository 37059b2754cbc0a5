// Where the engine runs: the device a user picks (Settings, a form, `--device`) and what a run
// record says about the provider that actually ran each graph.
import { z } from 'zod';

/** auto | cpu | webgpu | cuda:N, as Settings, job params and `--device` take it. */
export const DEVICE_PATTERN = /^(auto|cpu|webgpu|cuda:\d+)$/;
export const DeviceChoice = z.string().regex(DEVICE_PATTERN, 'use auto, cpu, webgpu or cuda:N');
export type DeviceChoice = z.infer<typeof DeviceChoice>;

/**
 * The device a job runs on: the form's choice (its `device` param), else the Settings default,
 * else auto. One rule for every job kind.
 */
export function chosenDevice(formDevice: string | null | undefined, settingsDevice: string | null | undefined): string {
  if (formDevice) return formDevice;
  if (settingsDevice) return settingsDevice;
  return 'auto';
}

/** One graph of a run (forward, train_step, optimizer, image_encoder, ...): what ran it. */
export const GraphPlacementRecord = z.object({
  /** cpu, webgpu or cuda:N. */
  provider: z.string(),
  /** true: every node ran on `provider`; false: ORT put some on the CPU; null: not checked (CUDA). */
  allNodesOnProvider: z.boolean().nullable(),
  /** Whether the same inputs give the same bits run after run on this provider (see `determinism`). */
  deterministic: z.boolean().optional(),
  /** The conditions, in a sentence (e.g. "yes on this machine with the same thread count"). */
  determinism: z.string().optional(),
});
export type GraphPlacementRecord = z.infer<typeof GraphPlacementRecord>;

/** The device part of a run record (src/native/runtime/device-record.ts writes it). */
export const DeviceRunRecord = z.object({
  /** As asked for: auto, cpu, webgpu or cuda:N. */
  requested: z.string(),
  /** The provider sessions were created with. */
  provider: z.string(),
  /** Why this provider and not the others (auto's fallbacks with their reasons). */
  reason: z.string(),
  graphs: z.record(z.string(), GraphPlacementRecord),
  /** Training runs: "device" (state kept in GPU memory between train_step and optimizer) or "host: <why>". */
  trainingState: z.string().optional(),
});
export type DeviceRunRecord = z.infer<typeof DeviceRunRecord>;
