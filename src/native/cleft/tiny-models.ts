// Small CLIP-style models from scratch (the demo's embedded default): a GPT-2 (with the real GPT-2
// vocabulary) and a ViT, randomly initialised as transformers does (normal(0, 0.02) weights, zero
// biases, unit layer-norm scales), written as Hugging Face folders, and fresh CLIP heads.
import * as path from 'node:path';
import { expectedTensors, parseModelConfig } from '../models/hf-model';
import { writeHfFolder } from '../formats/hf-folder';
import { createHeads, writeHeads } from '../models/heads';
import { normalFrom } from './common';
import { seededRandom } from './random';

export interface TinySizes {
  textDim: number;
  textLayers: number;
  textHeads: number;
  positions: number;
  imageSize: number;
  patch: number;
  imageDim: number;
  imageLayers: number;
  imageHeads: number;
  projDim: number;
}

export const DEMO_SIZES: TinySizes = {
  textDim: 128,
  textLayers: 2,
  textHeads: 4,
  positions: 128,
  imageSize: 64,
  patch: 8,
  imageDim: 128,
  imageLayers: 3,
  imageHeads: 4,
  projDim: 64,
};
export const QUICK_SIZES: TinySizes = {
  textDim: 32,
  textLayers: 1,
  textHeads: 2,
  positions: 96,
  imageSize: 32,
  patch: 8,
  imageDim: 32,
  imageLayers: 1,
  imageHeads: 2,
  projDim: 32,
};

function folder(dir: string, raw: Record<string, unknown>, seed: number): void {
  const cfg = parseModelConfig(raw, path.join(dir, 'config.json'));
  const normal = normalFrom(seededRandom(seed));
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const t of expectedTensors(cfg)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (/(^|\.)(ln_\d|ln_f|layernorm\w*|norm\d?)\.weight$/.test(t.name)) data.fill(1);
    else if (/lambda1$/.test(t.name)) data.fill(1);
    else if (!/\.bias$/.test(t.name)) for (let i = 0; i < n; i++) data[i] = 0.02 * normal();
    tensors[t.name] = { dtype: 'F32', shape: [...t.shape], data };
  }
  writeHfFolder(dir, raw, tensors);
}

/** Writes `text/`, `image/` and `heads.safetensors` under `dir`; returns their paths. */
export function writeTinyModels(dir: string, s: TinySizes, seed: number): { text: string; image: string; heads: string } {
  const text = path.join(dir, 'text');
  const image = path.join(dir, 'image');
  folder(
    text,
    {
      model_type: 'gpt2',
      architectures: ['GPT2Model'],
      vocab_size: 50257,
      n_positions: s.positions,
      n_embd: s.textDim,
      n_layer: s.textLayers,
      n_head: s.textHeads,
      activation_function: 'gelu_new',
      layer_norm_epsilon: 1e-5,
      bos_token_id: 50256,
      eos_token_id: 50256,
    },
    seed * 7 + 1,
  );
  folder(
    image,
    {
      model_type: 'vit',
      architectures: ['ViTModel'],
      hidden_size: s.imageDim,
      num_hidden_layers: s.imageLayers,
      num_attention_heads: s.imageHeads,
      intermediate_size: 2 * s.imageDim,
      hidden_act: 'gelu',
      layer_norm_eps: 1e-12,
      image_size: s.imageSize,
      patch_size: s.patch,
      num_channels: 3,
      qkv_bias: true,
    },
    seed * 7 + 2,
  );
  const heads = path.join(dir, 'heads.safetensors');
  writeHeads(heads, createHeads(s.textDim, s.imageDim, s.projDim, seed * 7 + 3));
  return { text, image, heads };
}
