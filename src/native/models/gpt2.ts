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
import { dimAdd, type Dim } from '../graph/shape';
import { z } from 'zod';
import { hfPosInt, ModelFormatError, parseHfConfig, type ExpectedTensor, type WeightSpec } from '../formats/hf-folder';
import { activation, conv1d, gatherRows, multiHeadAttention, SUPPORTED_ACTIVATIONS, type Activation, type ParamStore } from './encoders';
import type { LoraHooks } from './lora';
import type { MatmulWeight } from './weights';

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
  const tok = w.gatherRows('wte.weight', inputs.inputIds); // [B, T, d]
  if (!inputs.prefix) return tok;
  const [b, , d] = tok.shape as [Dim, Dim, number];
  const p = inputs.prefix;
  const n = p.shape.at(-2)!;
  const prefix = p.rank === 2 ? p.unsqueeze(0).expand([b, n, d]) : p;
  return ops.concat([prefix, tok], 1);
}

export interface Gpt2GraphOptions {
  /**
   * Activation checkpointing per block (Graph.checkpoint): a train step keeps each block's input
   * and recomputes the block in the backward. Same gradients; saves the activations of all blocks
   * but one for a second forward pass (docs/engine.md#training-memory).
   */
  recompute?: boolean;
}

export function gpt2Forward(cfg: Gpt2Config, w: ParamStore, inputs: Gpt2Inputs, lora?: LoraHooks, opts: Gpt2GraphOptions = {}): Gpt2Output {
  const embeds = gpt2InputEmbeddings(w, inputs);
  const t = embeds.shape[1]!;
  if (typeof t === 'number' && t > cfg.nPositions) throw new Error(`GPT-2: ${t} positions, the model has ${cfg.nPositions} (n_positions)`);
  let x = embeds.add(w.get('wpe.weight').slice(0, 0, t));

  const headDim = cfg.nEmbd / cfg.nHead;
  const eps = cfg.layerNormEpsilon;
  const block = (l: number, x: Tensor): Tensor => {
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
    return x.add(conv1d(activation(conv1d(m, w, p + 'mlp.c_fc', lora), cfg.activation), w, p + 'mlp.c_proj', lora));
  };
  for (let l = 0; l < cfg.nLayer; l++) x = opts.recompute ? x.graph.checkpoint([x], ([xi]) => [block(l, xi!)])[0]! : block(l, x);
  const lastHidden = x.layerNorm(w.get('ln_f.weight'), w.get('ln_f.bias'), eps);
  const prefixLength = inputs.prefix ? (inputs.prefix.shape.at(-2) as number) : 0;
  return { lastHidden, prefixLength };
}

/** The matmul weights of GPT-2 (Conv1D, stored [in, out]): what the int8 path quantizes. */
export function gpt2MatmulWeights(cfg: Gpt2Config): MatmulWeight[] {
  const out: MatmulWeight[] = [];
  for (let l = 0; l < cfg.nLayer; l++)
    for (const m of ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj']) out.push({ name: `h.${l}.${m}.weight`, layout: 'in-out' });
  return out;
}

/**
 * Bytes of activations a GPT-2 train step keeps for the backward over `rows` token rows: per row
 * and block about 7 d-wide float32 tensors (residual, norm inputs and outputs, q/k/v) and the
 * MLP-wide GELU input. Counted on the emitted LoRA train step of the 2.7B shape at 8 x 64 tokens:
 * 1.80 GiB of forward tensors with backward consumers; this gives 1.72 GiB.
 */
export function gpt2ActivationBytes(cfg: Gpt2Config, rows: number): number {
  return rows * cfg.nLayer * (7 * cfg.nEmbd + cfg.nInner) * 4;
}

/**
 * Blocks are recomputed (activation checkpointing) when gpt2ActivationBytes exceeds this: it costs
 * one more forward pass, so only where the kept activations would rival the frozen weights (a 2.7B
 * model: from ~16 x 64 tokens of LoRA; 8 x 64 keeps 1.8 GiB next to 10.4 GB of weights).
 */
export const CHECKPOINT_ABOVE_BYTES = 2 * 2 ** 30;

/** The state at the last real token: lastHidden[b, prefixLength + lengths[b] - 1] -> [batch, d]. */
export function gpt2TextEmbedding(out: Gpt2Output, lengths: Tensor): Tensor {
  // int32 index arithmetic: lengths is an int64 input, which the WebGPU EP only reads as Gather indices
  const positions = dimAdd(out.lastHidden.shape[1]!, 1);
  return gatherRows(out.lastHidden, ops.indexToInt32(lengths, positions).add(out.prefixLength - 1));
}

// ---------------------------------------------------------------------------------------------
// config.json (Hugging Face's GPT2Config, with its defaults) and the weights the forward reads

const Gpt2Raw = z.looseObject({
  model_type: z.literal('gpt2').optional(),
  architectures: z.array(z.string()).nullish(),
  vocab_size: hfPosInt.default(50257),
  n_positions: hfPosInt.optional(),
  n_ctx: hfPosInt.optional(),
  n_embd: hfPosInt.default(768),
  n_layer: hfPosInt.default(12),
  n_head: hfPosInt.default(12),
  n_inner: hfPosInt.nullish(),
  activation_function: z.enum(SUPPORTED_ACTIVATIONS).default('gelu_new'),
  layer_norm_epsilon: z.number().positive().default(1e-5),
  scale_attn_weights: z.boolean().default(true),
  scale_attn_by_inverse_layer_idx: z.boolean().default(false),
  reorder_and_upcast_attn: z.boolean().default(false),
  bos_token_id: z.number().int().nullish(),
  eos_token_id: z.number().int().nullish(),
  tie_word_embeddings: z.boolean().default(true),
});

export interface Gpt2Config {
  family: 'gpt2';
  architectures: string[];
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** MLP width; Hugging Face's `n_inner: null` means 4 * n_embd. */
  nInner: number;
  activation: Activation;
  layerNormEpsilon: number;
  scaleAttnWeights: boolean;
  scaleAttnByInverseLayerIdx: boolean;
  reorderAndUpcastAttn: boolean;
  bosTokenId: number;
  eosTokenId: number;
}

/** Normalises a GPT-2 config.json (camelCase, Hugging Face's defaults filled in). */
export function parseGpt2Config(raw: unknown, file: string, architectures: string[]): Gpt2Config {
  const c = parseHfConfig(Gpt2Raw, raw, file, 'gpt2');
  if (c.n_embd % c.n_head !== 0) throw new ModelFormatError(file, `n_embd ${c.n_embd} is not divisible by n_head ${c.n_head}`);
  return {
    family: 'gpt2',
    architectures,
    vocabSize: c.vocab_size,
    nPositions: c.n_positions ?? c.n_ctx ?? 1024,
    nEmbd: c.n_embd,
    nLayer: c.n_layer,
    nHead: c.n_head,
    nInner: c.n_inner ?? 4 * c.n_embd,
    activation: c.activation_function,
    layerNormEpsilon: c.layer_norm_epsilon,
    scaleAttnWeights: c.scale_attn_weights,
    scaleAttnByInverseLayerIdx: c.scale_attn_by_inverse_layer_idx,
    reorderAndUpcastAttn: c.reorder_and_upcast_attn,
    bosTokenId: c.bos_token_id ?? 50256,
    eosTokenId: c.eos_token_id ?? 50256,
  };
}

/**
 * The weights gpt2Forward reads (canonical names, shapes from the config), and the config sizes
 * each shows: the list a model folder is checked against before a graph is built from it.
 */
export function gpt2Weights(cfg: Gpt2Config): WeightSpec {
  return {
    anchor: 'wte.weight',
    layerPattern: /^h\.(\d+)\./,
    layers: { key: 'n_layer', count: cfg.nLayer },
    dims: [
      { key: ['vocab_size'], configured: cfg.vocabSize, tensor: 'wte.weight', axis: 0 },
      { key: ['n_embd'], configured: cfg.nEmbd, tensor: 'wte.weight', axis: 1 },
      { key: ['n_positions', 'n_ctx'], configured: cfg.nPositions, tensor: 'wpe.weight', axis: 0 },
      { key: ['n_inner'], configured: cfg.nInner, tensor: 'h.0.mlp.c_fc.weight', axis: 1 },
    ],
    tensors: () => {
      const { nEmbd: E, nInner: I, vocabSize: V, nPositions: P } = cfg;
      const out: ExpectedTensor[] = [];
      const t = (name: string, shape: number[]) => out.push({ name, shape });
      t('wte.weight', [V, E]);
      t('wpe.weight', [P, E]);
      for (let l = 0; l < cfg.nLayer; l++) {
        const p = `h.${l}.`;
        t(p + 'ln_1.weight', [E]);
        t(p + 'ln_1.bias', [E]);
        t(p + 'attn.c_attn.weight', [E, 3 * E]);
        t(p + 'attn.c_attn.bias', [3 * E]);
        t(p + 'attn.c_proj.weight', [E, E]);
        t(p + 'attn.c_proj.bias', [E]);
        t(p + 'ln_2.weight', [E]);
        t(p + 'ln_2.bias', [E]);
        t(p + 'mlp.c_fc.weight', [E, I]);
        t(p + 'mlp.c_fc.bias', [I]);
        t(p + 'mlp.c_proj.weight', [I, E]);
        t(p + 'mlp.c_proj.bias', [E]);
      }
      t('ln_f.weight', [E]);
      t('ln_f.bias', [E]);
      return out;
    },
  };
}
