// GPT-2 over [ctx ; class tokens] for every class with the shared context computed once.
//
// Under causal attention the context positions only see context positions, so their hidden states
// are the same in every class's sequence. `gpt2Forward` with a prefix recomputes them C times; here
// each layer runs the n context rows once ([1, n, d]) and the class rows ([C, T, d]) attend to the
// context's keys/values (broadcast) followed by their own causally. Same math as HF's GPT2Model on
// the concatenated sequence (masked scores get exp(-1e9 - max) = 0 exactly in float32, as HF's
// finfo.min fill); checked against PyTorch's prompt.grad.ctx in test/unit/native/cleft. With
// 4 classes, 16 context vectors and 25 class tokens it computes 116 token rows instead of 164.
import { ops, type Graph, type Tensor } from '../graph/index';
import { activation, conv1d, gatherRows, type ParamStore } from '../models/encoders';
import type { Gpt2Config, Gpt2GraphOptions } from '../models/gpt2';

const MASKED = -1e9;

/** [B, Tq, d] x [B, Tk, d] attention with an additive constant bias [Tq, Tk]. */
function attend(q: Tensor, k: Tensor, v: Tensor, nHead: number, scale: number, bias: Tensor): Tensor {
  const [b, tq, d] = q.shape as [number, number, number];
  const tk = k.shape[1] as number;
  const hd = d / nHead;
  const qh = q.reshape([b, tq, nHead, hd]).transpose([0, 2, 1, 3]).mul(scale);
  const kt = k.reshape([b, tk, nHead, hd]).transpose([0, 2, 3, 1]);
  const vh = v.reshape([b, tk, nHead, hd]).transpose([0, 2, 1, 3]);
  const p = qh.matmul(kt).add(bias).softmax(-1);
  return p.matmul(vh).transpose([0, 2, 1, 3]).reshape([b, tq, d]);
}

function biasConst(g: Graph, rows: number, cols: number, allowed: (i: number, j: number) => boolean): Tensor {
  const v = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) v[i * cols + j] = allowed(i, j) ? 0 : MASKED;
  return g.constant(v, 'float32', [rows, cols]);
}

/**
 * Text features [C, d] of [ctx ; classIds[c]] read at position n + lengths[c] - 1 (static class
 * tokens: `ids` int64 [C, T], `lengths` int64 [C], both constants or inputs with static shapes).
 */
export function sharedContextPromptFeatures(
  cfg: Gpt2Config,
  w: ParamStore,
  ctx: Tensor,
  ids: Tensor,
  lengths: Tensor,
  opts: Gpt2GraphOptions = {},
): Tensor {
  const g = ctx.graph;
  const [n, d] = ctx.shape as [number, number];
  const [C, T] = ids.shape as [number, number];
  if (typeof C !== 'number' || typeof T !== 'number') throw new Error('shared-context prompt encoder: class tokens need a static shape');
  if (n + T > cfg.nPositions) throw new Error(`prompt: ${n} context vectors + ${T} class tokens exceed n_positions ${cfg.nPositions}`);
  const wpe = w.get('wpe.weight');
  let xc = ctx.add(wpe.slice(0, 0, n)).unsqueeze(0); // [1, n, d]
  let xt = w.gatherRows('wte.weight', ids).add(wpe.slice(0, n, n + T)); // [C, T, d]
  const ctxBias = biasConst(g, n, n, (i, j) => j <= i);
  const clsBias = biasConst(g, T, n + T, (i, j) => j < n || j - n <= i);
  const eps = cfg.layerNormEpsilon;
  const hd = cfg.nEmbd / cfg.nHead;
  const layer = (l: number, xc: Tensor, xt: Tensor): [Tensor, Tensor] => {
    const p = `h.${l}.`;
    let scale = cfg.scaleAttnWeights ? 1 / Math.sqrt(hd) : 1;
    if (cfg.scaleAttnByInverseLayerIdx) scale /= l + 1;
    const ln1 = (x: Tensor) => x.layerNorm(w.get(p + 'ln_1.weight'), w.get(p + 'ln_1.bias'), eps);
    const [qc, kc, vc] = conv1d(ln1(xc), w, p + 'attn.c_attn').split(-1, 3) as [Tensor, Tensor, Tensor];
    const [qt, kt, vt] = conv1d(ln1(xt), w, p + 'attn.c_attn').split(-1, 3) as [Tensor, Tensor, Tensor];
    const ac = attend(qc, kc, vc, cfg.nHead, scale, ctxBias);
    const kAll = ops.concat([kc.expand([C, n, d]), kt], 1);
    const vAll = ops.concat([vc.expand([C, n, d]), vt], 1);
    const at = attend(qt, kAll, vAll, cfg.nHead, scale, clsBias);
    xc = xc.add(conv1d(ac, w, p + 'attn.c_proj'));
    xt = xt.add(conv1d(at, w, p + 'attn.c_proj'));
    const mlp = (x: Tensor) =>
      conv1d(
        activation(conv1d(x.layerNorm(w.get(p + 'ln_2.weight'), w.get(p + 'ln_2.bias'), eps), w, p + 'mlp.c_fc'), cfg.activation),
        w,
        p + 'mlp.c_proj',
      );
    return [xc.add(mlp(xc)), xt.add(mlp(xt))];
  };
  for (let l = 0; l < cfg.nLayer; l++)
    [xc, xt] = opts.recompute ? (g.checkpoint([xc, xt], ([c, t]) => layer(l, c!, t!)) as [Tensor, Tensor]) : layer(l, xc, xt);
  // only the class rows are read; the final norm is per row
  const last = gatherRows(xt, lengths.sub(1));
  return last.layerNorm(w.get('ln_f.weight'), w.get('ln_f.bias'), eps);
}
