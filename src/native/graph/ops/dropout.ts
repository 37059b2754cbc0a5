/**
 * Dropout whose mask is a pure function of (seed, salt, element index), computed in the graph from a
 * fed seed. ORT's Dropout/RandomUniform advance a per-session generator, so the same seed gives
 * different masks on the 2nd run and a resumed run cannot reproduce them; here the caller feeds the
 * seed (derived from run seed and step), and the same seed always gives the same mask.
 *
 * Hash: a 4-round Feistel network on the element index written as two digits base P (the largest
 * prime below sqrt(2^31)); round i maps (l, r) to (r, l + F_i(r) mod P) with the keyed cubic
 * F_i(r) = ((r² + a_i) mod P)·r + b_i. Everything is int32 Add/Sub/Mul/Div of non-negative values
 * whose every intermediate stays below P² + 2P < 2^31: no overflow and no rounding, so the CPU and the
 * WebGPU EP (which has no int64 kernels, no Mod and no bitwise ops) compute the same mask bit for bit.
 * The keys a_i, b_i are the fed seed's four base-P digits plus per-call-site offsets hashed from the
 * salt. The output u = l·P + r in [0, P²) is compared with round(rate·P²). Fewer rounds leave visible
 * structure (measured: with 2 rounds u at index i and i+P correlate ~1.0; 3 rounds pass the statistics
 * the tests check); 4 for margin.
 */
import type { Tensor } from '../tensor';
import { ShapeError, numel } from '../shape';
import { arange } from './creation';
import { cast } from './cast';
import { greaterOrEqual } from './compare';
import { gather } from './indexing';
import { reshape } from './layout';

/** The modulus: P² + 2P < 2^31 - 1 bounds every int32 intermediate of the hash. */
export const DROPOUT_P = 46337;
const ROUNDS = 4;
/** Base-P digits of the fed seed (P^4 is just below 2^62). */
const SEED_WORDS = 4;
/**
 * Names the mask function; checkpoints of dropout runs record it, and a resume refuses a checkpoint
 * whose masks were another function's (docs/engine.md#webgpu-coverage, "Dropout masks").
 */
export const DROPOUT_MASK_HASH = 'feistel4-int32-p46337';

/** Shape of the fed seed (int32): the per-step seed as base-P digits (`dropoutSeedWords`). */
export const DROPOUT_SEED_SHAPE = [SEED_WORDS] as const;

/**
 * The fed seed tensor's values for a per-step seed: the digits of seed mod P^4, least significant
 * first. P^4 ≈ 2^61.998, so two 62-bit seeds give the same words only if they differ by P^4.
 */
export function dropoutSeedWords(seed: bigint): Int32Array {
  const p = BigInt(DROPOUT_P);
  const span = p ** BigInt(SEED_WORDS);
  let v = ((seed % span) + span) % span;
  const out = new Int32Array(SEED_WORDS);
  for (let r = 0; r < SEED_WORDS; r++, v /= p) out[r] = Number(v % p);
  return out;
}

/** murmur3's 32-bit finaliser: per-call-site round-key offsets from the salt. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Offsets added to the seed digits for the round keys a_0, b_0, a_1, ... at the call site with this salt, each in [0, P). */
export function saltOffsets(salt: number): number[] {
  return Array.from({ length: 2 * ROUNDS }, (_, i) => fmix32((fmix32(salt >>> 0) + Math.imul(i, 0x9e3779b9)) >>> 0) % DROPOUT_P);
}

const modP = (x: Tensor) => x.sub(x.div(DROPOUT_P).mul(DROPOUT_P));

/** The hash's output u in [0, P²) per element of `like`: exported for tests of its statistics. */
export function hashField(like: Tensor, seed: Tensor, salt: number): Tensor {
  if (seed.dtype !== 'int32' || seed.shape.length !== 1 || seed.shape[0] !== SEED_WORDS)
    throw new ShapeError(`dropout: seed must be an int32 [${SEED_WORDS}] tensor (dropoutSeedWords)`);
  const n = numel(like.shape);
  if (typeof n === 'number' && n > DROPOUT_P * DROPOUT_P) throw new ShapeError(`dropout: ${n} elements, at most ${DROPOUT_P ** 2}`);
  const g = like.graph;
  // key j = seed digit (j mod 4) + offset j, < 2P
  const digits = gather(
    seed,
    g.constant(
      Array.from({ length: 2 * ROUNDS }, (_, j) => j % SEED_WORDS),
      'int64',
      [2 * ROUNDS],
    ),
  );
  const keys = digits.add(g.constant(saltOffsets(salt), 'int32', [2 * ROUNDS]));
  const key = (j: number) => gather(keys, g.scalar(j, 'int64'));
  const idx = reshape(cast(arange(g, n), 'int32'), like.shape);
  let l = idx.div(DROPOUT_P);
  let r = idx.sub(l.mul(DROPOUT_P));
  for (let i = 0; i < ROUNDS; i++) {
    const t = modP(r.mul(r).add(key(2 * i))); // r² + a < P² + 2P
    [l, r] = [
      r,
      modP(
        t
          .mul(r)
          .add(l)
          .add(key(2 * i + 1)),
      ),
    ]; // t·r + l + b < P² + 2P
  }
  return l.mul(DROPOUT_P).add(r);
}

/** Inverted dropout: kept elements scaled by 1/(1-rate). `salt` distinguishes call sites sharing a seed. */
export function dropout(x: Tensor, rate: number, seed: Tensor, salt = 0): Tensor {
  if (!(rate >= 0 && rate < 1)) throw new ShapeError(`dropout: rate must be in [0, 1), got ${rate}`);
  if (rate === 0) return x;
  const threshold = Math.round(rate * DROPOUT_P * DROPOUT_P);
  const keep = greaterOrEqual(hashField(x, seed, salt), x.graph.scalar(threshold, 'int32'));
  return x.mul(cast(keep, x.dtype)).mul(1 / (1 - rate));
}
