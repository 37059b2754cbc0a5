/**
 * The CLEFT model bundle: one folder that holds everything a CLIP-style model needs, so it imports
 * and exports whole and has one identity.
 *
 * ```
 * cleft-bundle.json        manifest (formatVersion 1): parts, pooling, max text length,
 *                          preprocessing spec + sha256, learned prompt sets, size + sha256 of every file
 * text/                    Hugging Face GPT-2-family folder (config.json + model.safetensors | shards)
 * image/                   Hugging Face ViT / DINOv2 / DINOv2-with-registers folder
 * text-adapter/            optional PEFT LoRA adapter of the text encoder
 * image-adapter/           optional PEFT LoRA adapter of the image encoder
 * heads.safetensors        text_projection.weight, visual_projection.weight, logit_scale
 * tokenizer/               optional: tokenizer.json or vocab.json + merges.txt (else inside text/, or none)
 * prompts/<name>.safetensors   learned prompt contexts: tensor `ctx` (n_ctx, d)
 * ```
 *
 * `openBundle` validates the manifest, that every listed file is present with its size (and, with
 * `verify: 'full'`, its sha256), that every file a loader reads is listed, that the encoders load,
 * that adapters fit their base models and heads fit the encoders' hidden sizes. Every problem names
 * the file (and tensor) at fault. `bundleSha256` is the model identity recorded with every run: the
 * sha256 of the canonical manifest (file hashes included, names and dates excluded).
 *
 * The preprocessing spec is stored as an opaque JSON object: its schema lives in the app
 * (src/main/dicom/pipeline/spec.ts), which the engine does not import. Its sha256 is taken over the
 * canonical JSON (keys sorted at every level, no whitespace), which is exactly the pipeline's
 * `specHash` when the object is a complete (defaults filled) PreprocessSpec.
 */
import { ModelFormatError } from '../formats/hf-folder';
import { SafetensorsError } from '../formats/safetensors';
import { TokenizerError } from '../formats/tokenizer';

// ---------------------------------------------------------------------------------------------
// layout

export const BUNDLE_MANIFEST = 'cleft-bundle.json';
export const BUNDLE_FORMAT_VERSION = 1;
export const BUNDLE_LAYOUT = {
  text: 'text',
  image: 'image',
  textAdapter: 'text-adapter',
  imageAdapter: 'image-adapter',
  heads: 'heads.safetensors',
  tokenizer: 'tokenizer',
  prompts: 'prompts',
  adaptors: 'adaptors',
} as const;

/** Files a GPT-2 tokenizer folder may hold (what `Gpt2Tokenizer.fromFolder` and transformers read). */
export const TOKENIZER_FILES = ['tokenizer.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'] as const;
/** The tensor of a learned prompt set file. */
export const PROMPT_CTX_TENSOR = 'ctx';

export type ImageFamily = 'vit' | 'dinov2' | 'dinov2_with_registers';
export type VerifyMode = 'full' | 'sizes';

// ---------------------------------------------------------------------------------------------
// errors

export interface BundleProblem {
  file: string;
  problem: string;
  tensor?: string;
}

/** A bundle that cannot be used. `problems` lists every problem found (the message shows them). */
export class BundleError extends ModelFormatError {
  readonly problems: BundleProblem[];
  constructor(problems: BundleProblem[]) {
    const first = problems[0] ?? { file: '(bundle)', problem: 'invalid bundle' };
    super(first.file, first.problem, first.tensor);
    this.problems = problems;
    this.name = 'BundleError';
    if (problems.length > 1) {
      const shown = problems.slice(0, 20).map((p) => `  ${p.file}${p.tensor !== undefined ? `: tensor "${p.tensor}"` : ''}: ${p.problem}`);
      this.message = `${problems.length} problems:\n${shown.join('\n')}${problems.length > 20 ? `\n  ... and ${problems.length - 20} more` : ''}`;
    }
  }
}

export function fail(file: string, problem: string, tensor?: string): never {
  throw new BundleError([tensor === undefined ? { file, problem } : { file, problem, tensor }]);
}

/** Re-throws tokenizer and safetensors errors as ModelFormatErrors (file + problem). */
export function asFormatError(e: unknown): unknown {
  if (e instanceof SafetensorsError) return new ModelFormatError(e.file, e.problem, e.tensor);
  if (e instanceof TokenizerError)
    return new ModelFormatError(e.file, e.message.startsWith(e.file + ': ') ? e.message.slice(e.file.length + 2) : e.message);
  return e;
}
