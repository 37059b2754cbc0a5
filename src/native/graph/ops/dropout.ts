/**
 * Dropout whose mask is a pure function of (seed, salt, element index), computed in the graph from an
 * int64 seed tensor. ORT's Dropout/RandomUniform advance a per-session generator, so the same seed gives
 * different masks on the 2nd run and a resumed run cannot reproduce them; here the caller feeds the
 * seed (e.g. derived from run seed and step), and the same seed always gives the same mask.
 *
 * Hash: integer mixing modulo the Mersenne prime 2^31-1 (products stay below 2^62, no int64 overflow)
 * with xor-shift rounds; the element index and the seed are mixed separately and combined with xor,
 * so masks of different seeds are not shifted copies of each other.
 */
import type { Tensor } from '../tensor';
import { ShapeError, numel } from '../shape';
import { arange } from './creation';
import { bitwiseXor, mod } from './elementwise';
import { cast } from './cast';
import { greaterOrEqual } from './compare';
import { reshape } from './layout';

const P = 2147483647; // 2^31 - 1

function mix(h: Tensor): Tensor {
  // two multiply-mod rounds separated by xor-shifts (division by a power of two = right shift here,
  // values are non-negative)
  let x = mod(h.mul(48271), P);
  x = bitwiseXor(x, x.div(1 << 15));
  x = mod(x.mul(69621), P);
  x = bitwiseXor(x, x.div(1 << 13));
  return mod(x.mul(16807), P);
}

/** The uniform [0,1) field dropout thresholds: exported for tests of its statistics. */
export function hashUniform(like: Tensor, seed: Tensor, salt: number): Tensor {
  if (seed.dtype !== 'int64' || seed.shape.length !== 0) throw new ShapeError('dropout: seed must be an int64 scalar tensor');
  const g = like.graph;
  const idx = reshape(arange(g, numel(like.shape)), like.shape);
  const s = mix(mod(seed, P).add(g.scalar((BigInt(salt % P) * 7919n) % BigInt(P), 'int64')));
  const h = mix(bitwiseXor(mix(mod(idx, P)), s));
  return cast(h, 'float32').mul(1 / P);
}

/** Inverted dropout: kept elements scaled by 1/(1-rate). `salt` distinguishes call sites sharing a seed. */
export function dropout(x: Tensor, rate: number, seed: Tensor, salt = 0): Tensor {
  if (!(rate >= 0 && rate < 1)) throw new ShapeError(`dropout: rate must be in [0, 1), got ${rate}`);
  if (rate === 0) return x;
  const keep = greaterOrEqual(hashUniform(x, seed, salt), rate);
  return x.mul(cast(keep, x.dtype)).mul(1 / (1 - rate));
}
