/**
 * LoRA in the graphs (the PEFT file format lives in peft.ts).
 *
 * - Inference: the adapter is merged into the frozen weights once (W + scale * B A, transposed for
 *   GPT-2 Conv1D) by `mergeLoraIntoWeight`, written to a converted-weights file, and the graph is the
 *   plain model. No LoRA nodes at all.
 * - Training: unmerged. y = x W + b + scale * (dropout(x) Aᵀ) Bᵀ with W frozen (external data) and A
 *   [r, in], B [out, r] trainable graph inputs, named `<prefix><module>.lora_A` / `.lora_B`.
 *
 * LoRA applies exactly where the adapter has weights: a module matched by `target_modules` without
 * weights stays plain (the reference GPT-2 adapter targets `c_proj` but adapts only `attn.c_proj`).
 */
import { ops, type Graph, type Tensor } from '../graph/index';
import { isConv1dFamily, isTargetModule, loraScaling, type LoraConfig, type PeftAdapter } from '../formats/peft';
import type { HfModel } from './hf-model';
import type { ModelFamily } from '../formats/hf-folder';

/** Module name suffixes LoRA may target, per family (as PEFT names them). */
export const LORA_TARGETS: Readonly<Record<'gpt2' | 'vision', readonly string[]>> = {
  gpt2: ['c_attn', 'c_proj', 'c_fc'],
  vision: ['query', 'key', 'value', 'dense', 'fc1', 'fc2'],
};

export interface LoraLayer {
  r: number;
  scale: number;
  /** [r, in] */
  A: Tensor;
  /** [out, r] */
  B: Tensor;
}

/** What a model's linear layers consult: the LoRA layer of a module, if any, and dropout. */
export interface LoraHooks {
  layers: ReadonlyMap<string, LoraLayer>;
  /** Dropout rate on the LoRA input (training only; 0 = none). */
  dropout: number;
  /** The fed dropout seed (int32 [4], `dropoutSeedFeed`; required when dropout > 0). */
  seed?: Tensor;
}

/** y + scale * (dropout(x) Aᵀ) Bᵀ when `module` has a LoRA layer, else y. */
export function loraBranch(y: Tensor, x: Tensor, module: string, hooks: LoraHooks): Tensor {
  const l = hooks.layers.get(module);
  if (!l) return y;
  let xin = x;
  if (hooks.dropout > 0) {
    if (!hooks.seed) throw new Error('LoRA dropout needs a seed tensor');
    xin = ops.dropout(x, hooks.dropout, hooks.seed, saltOf(module));
  }
  return y.add(xin.matmul(l.A.transpose()).matmul(l.B.transpose()).mul(l.scale));
}

/** A stable per-module salt so modules sharing a seed get different masks. */
function saltOf(module: string): number {
  let h = 2166136261;
  for (let i = 0; i < module.length; i++) h = Math.imul(h ^ module.charCodeAt(i), 16777619) >>> 0;
  return h % 1_000_003;
}

/** One module LoRA adapts: the name, features, rank and scale. */
export interface LoraModuleSpec {
  module: string;
  inFeatures: number;
  outFeatures: number;
  r: number;
  scale: number;
}

/**
 * The modules of `model` LoRA would adapt under `config` (new adapters: every 2-D weight whose
 * module name matches `target_modules`, embeddings excluded), with PEFT's rank/alpha patterns.
 */
export function loraModulesFor(model: HfModel, config: LoraConfig): LoraModuleSpec[] {
  const conv1d = isConv1dFamily(model.config.family);
  const out: LoraModuleSpec[] = [];
  for (const [name, ref] of model.weights) {
    if (!name.endsWith('.weight') || ref.shape.length !== 2) continue;
    const module = name.slice(0, -'.weight'.length);
    if (/^(wte|wpe)$|embeddings\./.test(module)) continue;
    if (!isTargetModule(config, module)) continue;
    const [inF, outF] = conv1d ? [ref.shape[0]!, ref.shape[1]!] : [ref.shape[1]!, ref.shape[0]!];
    const { r, scale } = loraScaling(config, module);
    out.push({ module, inFeatures: inF, outFeatures: outF, r, scale });
  }
  return out;
}

/** The modules an existing adapter has weights for (the only ones LoRA applies to). */
export function loraModulesOf(adapter: PeftAdapter): LoraModuleSpec[] {
  return [...adapter.modules.values()].map((m) => ({
    module: m.module,
    inFeatures: m.A.shape[1]!,
    outFeatures: m.B.shape[0]!,
    r: m.r,
    scale: m.scale,
  }));
}

/**
 * Trainable LoRA parameters for training graphs: `<prefix><module>.lora_A` [r, in] and `.lora_B`
 * [out, r], fed per step (initial values: PEFT's, Kaiming-uniform A and zero B, are the caller's).
 */
export function trainableLora(
  g: Graph,
  modules: readonly LoraModuleSpec[],
  opts: { prefix?: string; dropout?: number; seed?: Tensor } = {},
): LoraHooks & { params: Map<string, Tensor> } {
  const layers = new Map<string, LoraLayer>();
  const params = new Map<string, Tensor>();
  const prefix = opts.prefix ?? '';
  for (const m of modules) {
    const A = g.param(`${prefix}${m.module}.lora_A`, [m.r, m.inFeatures], { trainable: true });
    const B = g.param(`${prefix}${m.module}.lora_B`, [m.outFeatures, m.r], { trainable: true });
    layers.set(m.module, { r: m.r, scale: m.scale, A, B });
    params.set(`${m.module}.lora_A`, A);
    params.set(`${m.module}.lora_B`, B);
  }
  const hooks: LoraHooks & { params: Map<string, Tensor> } = { layers, params, dropout: opts.dropout ?? 0 };
  if (opts.seed) hooks.seed = opts.seed;
  return hooks;
}

/** Whether LoRA may target this module name in this family (for UI validation of target lists). */
export function isLoraTargetName(family: ModelFamily, target: string): boolean {
  return (family === 'gpt2' ? LORA_TARGETS.gpt2 : LORA_TARGETS.vision).includes(target);
}
