// Each model file states the weights its forward reads (gpt2Weights, visionWeights); a folder is
// checked against that list before a graph is built. The forward can only read listed weights (the
// store holds nothing else and throws on a missing name); these tests check the other direction:
// every listed, non-optional weight is read, for each family and variant.
import { describe, expect, it } from 'vitest';
import { Graph } from '../../../../src/native/graph/index';
import { ParamStore, inlineWeights, type WeightSource } from '../../../../src/native/models/encoders';
import { gpt2Forward, parseGpt2Config } from '../../../../src/native/models/gpt2';
import { parseVisionConfig, poolImage, visionForward, type VisionConfig } from '../../../../src/native/models/vit';
import { weightSpec, type ModelConfig } from '../../../../src/native/models/hf-model';

/** A weight source over zeros of the listed shapes that records the names read. */
function recordingSource(config: ModelConfig): { source: WeightSource; read: Set<string>; listed: string[] } {
  const tensors = weightSpec(config).tensors();
  const inner = inlineWeights(
    new Map(tensors.map((t) => [t.name, { shape: t.shape, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) }])),
  );
  const read = new Set<string>();
  return {
    source: { ...inner, value: (n) => (read.add(n), inner.value(n)) },
    read,
    listed: tensors.filter((t) => !t.optional).map((t) => t.name),
  };
}

describe('the weight list a model file exports is what its forward reads', () => {
  it('GPT-2', () => {
    const cfg = parseGpt2Config(
      { model_type: 'gpt2', n_embd: 8, n_head: 2, n_layer: 2, vocab_size: 11, n_positions: 16 },
      'config.json',
      [],
    );
    const { source, read, listed } = recordingSource(cfg);
    const g = new Graph();
    gpt2Forward(cfg, new ParamStore(g, source), { inputIds: g.input('ids', 'int64', [1, 5]) });
    expect([...read].sort()).toEqual([...listed].sort());
  });

  const vision: [string, Record<string, unknown>][] = [
    [
      'ViT',
      {
        model_type: 'vit',
        hidden_size: 8,
        num_attention_heads: 2,
        num_hidden_layers: 2,
        intermediate_size: 16,
        image_size: 28,
        patch_size: 14,
      },
    ],
    [
      'ViT without qkv bias',
      {
        model_type: 'vit',
        hidden_size: 8,
        num_attention_heads: 2,
        num_hidden_layers: 1,
        intermediate_size: 16,
        image_size: 28,
        patch_size: 14,
        qkv_bias: false,
      },
    ],
    ['DINOv2', { model_type: 'dinov2', hidden_size: 8, num_attention_heads: 2, num_hidden_layers: 2, image_size: 28, patch_size: 14 }],
    [
      'DINOv2 with SwiGLU',
      {
        model_type: 'dinov2',
        hidden_size: 8,
        num_attention_heads: 2,
        num_hidden_layers: 1,
        image_size: 28,
        patch_size: 14,
        use_swiglu_ffn: true,
      },
    ],
    [
      'DINOv2 with registers',
      {
        model_type: 'dinov2_with_registers',
        hidden_size: 8,
        num_attention_heads: 2,
        num_hidden_layers: 2,
        image_size: 28,
        patch_size: 14,
        num_register_tokens: 4,
      },
    ],
  ];
  for (const [name, raw] of vision)
    it(name, () => {
      const cfg: VisionConfig = parseVisionConfig(raw, 'config.json', raw.model_type as VisionConfig['family'], []);
      const { source, read, listed } = recordingSource(cfg);
      const g = new Graph();
      const out = visionForward(cfg, new ParamStore(g, source), g.input('px', 'float32', [1, 3, 28, 28]));
      poolImage(out, 'cls');
      expect([...read].sort()).toEqual([...listed].sort());
    });
});
