/**
 * A small causal transformer setup (all parameters trainable) and a learnable synthetic task for the
 * trainer tests: next-token prediction on sequences that follow t[i+1] = (5·t[i] + 3) mod V from a
 * random start token, so every position after the first is predictable from the current token.
 */
import { i64 } from '../../../../src/native/runtime/tensors';
import { baseParamShapes, initialValue, loraParamShapes, transformer, type TransformerConfig } from '../../../helpers/transformer';
import { linear, type TrainData, type TrainingSetup } from '../../../../src/native/training/index';
import { mulberry32 } from '../../../../src/native/io/random';
import { ops } from '../../../../src/native/graph/index';

export const TINY: TransformerConfig = { vocab: 16, ctx: 16, dim: 64, heads: 4, layers: 2 };
export const SEQ = 12;

export function tinySetup(cfg: TransformerConfig = TINY, name = 'tiny-gpt'): TrainingSetup {
  return {
    name,
    build(ctx) {
      const g = ctx.graph;
      const ids = g.input('ids', 'int64', ['batch', 'seq']);
      const labels = g.input('labels', 'int64', ['batch', 'seq']);
      const h = transformer(ctx, cfg, ids, (n, shape) => g.param(n, shape, { trainable: true }));
      const logits = linear(h, g.param('lm_head', [cfg.dim, cfg.vocab], { trainable: true }));
      return { loss: ops.crossEntropy(logits, labels), outputs: { logits } };
    },
  };
}

export function tinyInit(cfg: TransformerConfig = TINY, seed = 1): Map<string, Float32Array> {
  const rand = mulberry32(seed);
  const out = new Map<string, Float32Array>();
  for (const [n, s] of [...baseParamShapes(cfg), ...loraParamShapes(cfg), ['lm_head', [cfg.dim, cfg.vocab]] as const])
    out.set(n, initialValue(n, [...s], rand));
  return out;
}

export function affineData(size: number, vocab = TINY.vocab, seq = SEQ, seed = 3): TrainData {
  const rand = mulberry32(seed);
  const rows = Array.from({ length: size }, () => {
    const r = [Math.floor(rand() * vocab)];
    for (let i = 0; i < seq; i++) r.push((5 * r.at(-1)! + 3) % vocab);
    return r;
  });
  return {
    size,
    batch(indices) {
      const ids = new BigInt64Array(indices.length * seq);
      const labels = new BigInt64Array(indices.length * seq);
      indices.forEach((k, b) => {
        for (let i = 0; i < seq; i++) {
          ids[b * seq + i] = BigInt(rows[k]![i]!);
          labels[b * seq + i] = BigInt(rows[k]![i + 1]!);
        }
      });
      return { ids: i64(ids, [indices.length, seq]), labels: i64(labels, [indices.length, seq]) };
    },
  };
}
