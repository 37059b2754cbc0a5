// Before a training job creates its own sessions over large frozen encoders, the sessions this job
// worker's engine keeps warm over them (of earlier jobs, of either precision) go, so the job holds
// one float32 copy of the frozen weights at a time (docs/engine.md#training-memory); the next
// classification creates them again. Small encoders stay warm (training/one-session.ts holdFrozenOnce).
import { inProcessEngine } from '../../native/models/embed';
import { frozenWeightsId } from '../../native/models/weights';
import { holdFrozenOnce } from '../../native/training/one-session';

/** Releases the warm sessions over `encoders` (a bundle's text/image parts) when `frozenFloat32Bytes` is large. */
export async function releaseWarmEncodersIfLarge(
  frozenFloat32Bytes: number | undefined,
  encoders: readonly { dir: string; adapter?: { dir: string } | null }[],
): Promise<void> {
  if (!holdFrozenOnce(frozenFloat32Bytes)) return;
  const engine = await inProcessEngine();
  for (const e of encoders) await engine.releaseWeights(frozenWeightsId(e.dir, e.adapter?.dir));
}
