/**
 * End-to-end: a 2-layer pre-LN GPT-style transformer written with the builder API (top to bottom like
 * nanoGPT), its gradient graph emitted and run in ORT, every parameter's gradient checked against
 * central differences of the forward graph in float64.
 */
import { describe, expect, it } from 'vitest';
import { checkGradients, int64Tensor } from './harness';
import { ops, type Graph, type Tensor } from '../../../../src/native/graph/index';

interface Config {
  vocab: number;
  ctx: number;
  dim: number;
  heads: number;
  layers: number;
}
const DT = 'float64' as const;

function gpt(g: Graph, c: Config, ids: Tensor) {
  const p = (name: string, shape: number[]) => g.param(name, shape, { dtype: DT, trainable: true });
  const hd = c.dim / c.heads;
  const wte = p('wte', [c.vocab, c.dim]);
  const wpe = p('wpe', [c.ctx, c.dim]);
  let x = wte.gather(ids).add(wpe.slice(0, 0, 'seq'));
  const causal = ops.causalMask(g, 'seq');

  for (let l = 0; l < c.layers; l++) {
    // attention
    const h = x.layerNorm(p(`h${l}.ln1.w`, [c.dim]), p(`h${l}.ln1.b`, [c.dim]));
    const qkv = h.matmul(p(`h${l}.attn.w`, [c.dim, 3 * c.dim])).add(p(`h${l}.attn.b`, [3 * c.dim]));
    const [q, k, v] = qkv.split(-1, 3).map((t) => t.reshape(['batch', 'seq', c.heads, hd]).transpose([0, 2, 1, 3]));
    const att = ops.where(causal, q!.matmul(k!.transpose()).mul(1 / Math.sqrt(hd)), -1e9).softmax(-1);
    const y = att.matmul(v!).transpose([0, 2, 1, 3]).reshape(['batch', 'seq', c.dim]);
    x = x.add(y.matmul(p(`h${l}.proj.w`, [c.dim, c.dim])).add(p(`h${l}.proj.b`, [c.dim])));
    // MLP
    const m = x.layerNorm(p(`h${l}.ln2.w`, [c.dim]), p(`h${l}.ln2.b`, [c.dim]));
    const fc = m
      .matmul(p(`h${l}.fc.w`, [c.dim, 4 * c.dim]))
      .add(p(`h${l}.fc.b`, [4 * c.dim]))
      .gelu('tanh');
    x = x.add(fc.matmul(p(`h${l}.mlp_proj.w`, [4 * c.dim, c.dim])).add(p(`h${l}.mlp_proj.b`, [c.dim])));
  }

  x = x.layerNorm(p('ln_f.w', [c.dim]), p('ln_f.b', [c.dim]));
  return x.matmul(wte.transpose()); // tied LM head: wte fans out to the embedding and the head
}

describe('2-layer pre-LN transformer, gradients of all parameters vs finite differences', () => {
  it('float64, FD step 1e-6, atol 1e-6 + rtol 1e-5, 8 sampled elements per parameter', async () => {
    const cfg: Config = { vocab: 11, ctx: 8, dim: 8, heads: 2, layers: 2 };
    const rep = await checkGradients({
      dtype: DT,
      symbols: { batch: 2, seq: 5 },
      maxChecks: 8,
      init: (r, name) => (/ln\d?\.w|ln_f\.w/.test(name) ? 1 + 0.1 * r.normal() : 0.3 * r.normal()),
      build: (g) => {
        const ids = g.input('ids', 'int64', ['batch', 'seq']);
        const labels = g.input('labels', 'int64', ['batch', 'seq']);
        const logits = gpt(g, cfg, ids);
        const loss = ops.crossEntropy(logits, labels);
        const params = g.params({ trainable: true });
        expect(params.length).toBe(4 + 12 * cfg.layers);
        return {
          wrt: params,
          out: loss.reshape([1]),
          feeds: {
            ids: int64Tensor([1, 4, 4, 9, 0, 3, 10, 2, 2, 7], [2, 5]),
            labels: int64Tensor([4, 4, 9, 0, 3, 10, 2, 2, 7, 1], [2, 5]),
          },
        };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
    expect(rep.checked).toBe(8 * 28);
  });
});
