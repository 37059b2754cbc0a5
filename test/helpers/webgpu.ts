// Whether this test run's WebGPU adapter computes the same bits run after run.
//
// Mesa's lavapipe spreads a dispatch over LP_NUM_THREADS threads, and then identical WebGPU runs can
// differ in the last bits (measured 2026-12-04: two identical 4-update AdamW runs 2.2e-5 apart);
// with one thread they are bit-identical. vitest.config.ts sets LP_NUM_THREADS=1 so the tests can hold
// WebGPU resumes to exact equality on the software adapter. A hardware GPU promises no such thing
// (the run record says WebGPU is not deterministic), so there tests fall back to a tolerance.
import { softwareOnlyWebgpu } from '../../src/native/runtime/providers';

/** True on a software-only adapter (lavapipe) running single-threaded: exact equality can be asked. */
export function webgpuRepeatable(): boolean {
  return softwareOnlyWebgpu() !== undefined && process.env.LP_NUM_THREADS === '1';
}
