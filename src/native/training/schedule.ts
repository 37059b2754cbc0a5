/**
 * Learning-rate schedules, deterministic data order and per-step seeds: everything that must be a pure
 * function of (seed, step, position) so that a resumed run repeats an uninterrupted one exactly.
 */
import { mulberry32 } from '../io/random';

export type LrSchedule =
  | { kind: 'constant'; lr: number }
  /** Linear warmup from lr/warmup to lr over `warmupSteps`, then cosine decay to `minLr` at `totalSteps`. */
  | { kind: 'cosine'; lr: number; warmupSteps: number; totalSteps: number; minLr?: number };

/** Learning rate of update number `step` (1-based). */
export function learningRate(s: LrSchedule, step: number): number {
  if (s.kind === 'constant') return s.lr;
  const warm = Math.max(0, s.warmupSteps);
  if (step <= warm) return (s.lr * step) / warm;
  const min = s.minLr ?? 0;
  const span = Math.max(1, s.totalSteps - warm);
  const progress = Math.min(1, (step - warm) / span);
  return min + (s.lr - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** splitmix64 finaliser over BigInt: a well-mixed 64-bit function of its input. */
function mix64(x: bigint): bigint {
  const M = (1n << 64n) - 1n;
  x = (x + 0x9e3779b97f4a7c15n) & M;
  x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
  x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & M;
  return x ^ (x >> 31n);
}

/** A non-negative 62-bit seed derived from a run seed and any integers (step, micro-batch, purpose). */
export function deriveSeed(seed: number, ...parts: number[]): bigint {
  let h = mix64(BigInt(Math.trunc(seed)) & ((1n << 64n) - 1n));
  for (const p of parts) h = mix64(h ^ (BigInt(Math.trunc(p)) & ((1n << 64n) - 1n)));
  return h >> 2n;
}

/** A permutation of 0..n-1 (Fisher–Yates) from the run seed and the epoch. */
export function epochPermutation(n: number, seed: number, epoch: number): Uint32Array {
  const rand = mulberry32(Number(deriveSeed(seed, epoch, 0x0da7a) & 0xffffffffn));
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/**
 * Example indices of micro-batch number `index` (0-based, counted over the whole run): epochs are
 * seeded permutations, each cut into floor(n / batch) micro-batches (the remainder is dropped).
 */
export class DataOrder {
  private epoch = -1;
  private perm: Uint32Array = new Uint32Array(0);
  readonly perEpoch: number;

  constructor(
    readonly size: number,
    readonly batch: number,
    readonly seed: number,
    readonly shuffle = true,
  ) {
    if (batch < 1 || size < batch) throw new Error(`data order: ${size} examples cannot make a batch of ${batch}`);
    this.perEpoch = Math.floor(size / batch);
  }

  indices(index: number): number[] {
    const epoch = Math.floor(index / this.perEpoch);
    const within = index % this.perEpoch;
    if (epoch !== this.epoch) {
      this.perm = this.shuffle ? epochPermutation(this.size, this.seed, epoch) : Uint32Array.from({ length: this.size }, (_, i) => i);
      this.epoch = epoch;
    }
    return Array.from(this.perm.subarray(within * this.batch, (within + 1) * this.batch));
  }
}
