/**
 * GPT-2 as Hugging Face's GPT2Model computes it, as a graph (read top to bottom like nanoGPT):
 *
 *   x = wte[ids] (+ prepended input embeddings) + wpe[0..T)
 *   per block: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))
 *   attn: c_attn (Conv1D, [in, out]) -> q, k, v; causal softmax(q kᵀ / sqrt(head_dim)) v; c_proj
 *   mlp: c_fc -> activation (gelu_new = tanh GELU) -> c_proj
 *   last_hidden = ln_f(x)
 *
 * Right padding needs no attention mask: under the causal mask a real position only sees positions
 * before it, so padded tokens after the text never reach it (their own rows are garbage and unused).
 *
 * The text embedding is the final state at the last real token (`lengths - 1`): with the EOS the
 * tokenizer appends, the first EOS after the text, as CLEFT does.
 *
 * Prompt learning is the same graph with `prefix`: learned context vectors [n_ctx, d] (trainable) put
 * in front of the class-name token embeddings; positions are added inside, so the context takes
 * positions 0..n_ctx-1 and the embedding index shifts by n_ctx.
 */
import { ops, type Tensor } from '../graph/index';
import type { Dim } from '../graph/shape';
import type { Gpt2Config } from '../formats/hf-folder';
import { activation, conv1d, gatherRows, multiHeadAttention, type ParamStore } from './encoders';
import type { LoraHooks } from './lora';

export interface Gpt2Inputs {
  /** int64 [batch, seq] token ids, right padded. */
  inputIds: Tensor;
  /**
   * Input embeddings put before the token embeddings: [n, d] (shared by every row, e.g. learned
   * prompt context) or [batch, n, d].
   */
  prefix?: Tensor;
}

export interface Gpt2Output {
  /** ln_f output [batch, n + seq, d]. */
  lastHidden: Tensor;
  /** Number of prefix positions (0 without prefix). */
  prefixLength: number;
}

/** Embeddings of token ids and prefix vectors, before position embeddings: [batch, n + seq, d]. */
export function gpt2InputEmbeddings(w: ParamStore, inputs: Gpt2Inputs): Tensor {
  const tok = w.get('wte.weight').gather(inputs.inputIds); // [B, T, d]
  if (!inputs.prefix) return tok;
  const [b, , d] = tok.shape as [Dim, Dim, number];
  const p = inputs.prefix;
  const n = p.shape.at(-2)!;
  const prefix = p.rank === 2 ? p.unsqueeze(0).expand([b, n, d]) : p;
  return ops.concat([prefix, tok], 1);
}

export function gpt2Forward(cfg: Gpt2Config, w: ParamStore, inputs: Gpt2Inputs, lora?: LoraHooks): Gpt2Output {
  const embeds = gpt2InputEmbeddings(w, inputs);
  const t = embeds.shape[1]!;
  if (typeof t === 'number' && t > cfg.nPositions) throw new Error(`GPT-2: ${t} positions, the model has ${cfg.nPositions} (n_positions)`);
  let x = embeds.add(w.get('wpe.weight').slice(0, 0, t));

  const headDim = cfg.nEmbd / cfg.nHead;
  const eps = cfg.layerNormEpsilon;
  for (let l = 0; l < cfg.nLayer; l++) {
    const p = `h.${l}.`;
    // attention
    const h = x.layerNorm(w.get(p + 'ln_1.weight'), w.get(p + 'ln_1.bias'), eps);
    const [q, k, v] = conv1d(h, w, p + 'attn.c_attn', lora).split(-1, 3) as [Tensor, Tensor, Tensor];
    let scale = cfg.scaleAttnWeights ? 1 / Math.sqrt(headDim) : 1;
    if (cfg.scaleAttnByInverseLayerIdx) scale /= l + 1;
    const a = multiHeadAttention(q, k, v, cfg.nHead, { scale, causal: true });
    x = x.add(conv1d(a, w, p + 'attn.c_proj', lora));
    // MLP
    const m = x.layerNorm(w.get(p + 'ln_2.weight'), w.get(p + 'ln_2.bias'), eps);
    x = x.add(conv1d(activation(conv1d(m, w, p + 'mlp.c_fc', lora), cfg.activation), w, p + 'mlp.c_proj', lora));
  }
  const lastHidden = x.layerNorm(w.get('ln_f.weight'), w.get('ln_f.bias'), eps);
  const prefixLength = inputs.prefix ? (inputs.prefix.shape.at(-2) as number) : 0;
  return { lastHidden, prefixLength };
}

/** The state at the last real token: lastHidden[b, prefixLength + lengths[b] - 1] -> [batch, d]. */
export function gpt2TextEmbedding(out: Gpt2Output, lengths: Tensor): Tensor {
  return gatherRows(out.lastHidden, lengths.add(out.prefixLength - 1));
}
