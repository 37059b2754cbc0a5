// The bundle manifest (cleft-bundle.json): its zod schema, parsing with clear messages, and the
// identities computed over it (manifestSha256, manifestBaseSha256).
import { z } from 'zod';
import { canonicalJson, sha256Hex } from '../io/hash';
import { IMAGE_POOLINGS } from '../models/vit';
import { BUNDLE_FORMAT_VERSION, BUNDLE_MANIFEST, fail } from './layout';

// ---------------------------------------------------------------------------------------------
// manifest schema

function isSafeRelPath(p: string): boolean {
  if (p.length === 0 || p.includes('\\') || p.includes('\0') || p.startsWith('/') || /^[A-Za-z]:/.test(p)) return false;
  return p.split('/').every((s) => s.length > 0 && s !== '.' && s !== '..');
}

const RelPath = z
  .string()
  .max(1024)
  .refine(isSafeRelPath, 'must be a relative path inside the bundle (forward slashes, no "." or ".." parts)');
const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 in lowercase hex');
const PosInt = z.number().int().positive();
const MetricValues = z.record(z.string(), z.number());

export const PROMPT_SET_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const PromptSetName = z
  .string()
  .regex(PROMPT_SET_NAME_RE, 'letters, digits, ".", "_" and "-", at most 64, starting with a letter or digit');

/** What a learned prompt set says about itself (stored in the manifest and in the file's metadata). */
export const PromptSetMeta = z.strictObject({
  /** The task it was learned for (e.g. "Breast density"). */
  task: z.string().min(1).max(200),
  /** Class names in the order of the logits. */
  classNames: z.array(z.string().min(1).max(200)).min(1),
  /**
   * The text after the learned context for each class, in classNames order, exactly as tokenized
   * in training (e.g. "breast tissue density 1: almost entirely fat."). Absent: the class names are
   * that text (sets written before this field, and the demo's).
   */
  classTexts: z.array(z.string().min(1).max(400)).min(1).optional(),
  /** Number of learned context vectors (rows of `ctx`). */
  nCtx: PosInt,
  /**
   * One context per class: `ctx` is [classes, nCtx, d] in the order of classNames. Absent (not
   * false) for shared contexts, so bundles written before it existed keep their identity.
   */
  classSpecific: z.literal(true).optional(),
  /** The phrase whose token embeddings initialised ctx (null: random init). */
  initPhrase: z.string().nullable().default(null),
  /** Validation metrics before (hand-written prompts) and after learning, e.g. {accuracy, auc}. */
  metrics: z.strictObject({ before: MetricValues.nullable().default(null), after: MetricValues.nullable().default(null) }).default({
    before: null,
    after: null,
  }),
  /** Free-form training details (epochs, lr, seed, data summary). */
  training: z.record(z.string(), z.unknown()).nullable().default(null),
});
export type PromptSetMeta = z.output<typeof PromptSetMeta>;
export type PromptSetMetaInput = z.input<typeof PromptSetMeta>;

export const PromptSetEntry = PromptSetMeta.extend({
  name: PromptSetName,
  path: RelPath,
  /** Width of the ctx vectors (the text encoder's n_embd). */
  dim: PosInt,
  createdAt: z.string(),
});
export type PromptSetEntry = z.output<typeof PromptSetEntry>;

/** What a trained classification head (linear probe, optionally after the frozen-backbone Adaptor) says about itself. */
export const AdaptorMeta = z.strictObject({
  task: z.string().min(1).max(200),
  /** Class names in the order of the head's outputs. */
  classNames: z.array(z.string().min(1).max(200)).min(2),
  /** 'linear-probe': head on the CLIP image embedding; 'adaptor': head on the Adaptor's image branch output. */
  mode: z.enum(['linear-probe', 'adaptor']),
  /** Adaptor width and layers (mode 'adaptor' only). */
  adaptor: z.strictObject({ dim: PosInt, layers: z.number().int().nonnegative() }).nullable().default(null),
  /** Held-out metrics (null values: not measurable on this split; the reason is in `notes`). */
  metrics: z.record(z.string(), z.number().nullable()).default({}),
  notes: z.array(z.string()).default([]),
  training: z.record(z.string(), z.unknown()).nullable().default(null),
});
export type AdaptorMeta = z.output<typeof AdaptorMeta>;
export type AdaptorMetaInput = z.input<typeof AdaptorMeta>;

export const AdaptorEntry = AdaptorMeta.extend({
  name: PromptSetName,
  path: RelPath,
  /** Input width of the head's module: the bundle's projection dimension. */
  inputDim: PosInt,
  createdAt: z.string(),
});
export type AdaptorEntry = z.output<typeof AdaptorEntry>;

export const BundleManifest = z.strictObject({
  formatVersion: z.literal(BUNDLE_FORMAT_VERSION),
  format: z.literal('cleft-bundle'),
  name: z.string().min(1).max(200),
  description: z.string().max(10_000).default(''),
  createdAt: z.string(),
  createdBy: z.string().max(200).default(''),
  text: z.strictObject({
    /** Hugging Face GPT-2-family folder. */
    path: RelPath,
    family: z.literal('gpt2'),
    adapter: RelPath.nullable().default(null),
    /** The text embedding is the final hidden state at the first EOS after the caption. */
    pooling: z.literal('eos'),
    /** Longest token sequence (caption + EOS, or ctx + class tokens + EOS); at most n_positions. */
    maxLength: PosInt,
    /** Folder with tokenizer.json or vocab.json + merges.txt (null: token ids only). */
    tokenizer: RelPath.nullable().default(null),
  }),
  image: z.strictObject({
    path: RelPath,
    family: z.enum(['vit', 'dinov2', 'dinov2_with_registers']),
    adapter: RelPath.nullable().default(null),
    pooling: z.enum(IMAGE_POOLINGS),
  }),
  heads: z.strictObject({ path: RelPath, projDim: PosInt }),
  /** The image preprocessing (opaque here) and the sha256 of its canonical JSON. */
  preprocessing: z
    .strictObject({ spec: z.record(z.string(), z.unknown()), sha256: Sha256Hex })
    .nullable()
    .default(null),
  promptSets: z.array(PromptSetEntry).default([]),
  /**
   * How the model itself was trained, as prompt sets and adaptors say of themselves (e.g. `split`:
   * the studies trained and validated on), so a library that imports it can leave them out of its
   * evaluation. Absent in bundles that do not say (older ones, conversions); not part of the identity.
   */
  training: z.record(z.string(), z.unknown()).optional(),
  /** Trained classification heads (absent in older bundles). */
  adaptors: z.array(AdaptorEntry).default([]),
  /** Every file of the bundle except this manifest. */
  files: z.record(RelPath, z.strictObject({ size: z.number().int().nonnegative(), sha256: Sha256Hex })),
});
export type BundleManifest = z.output<typeof BundleManifest>;

export function zodProblem(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Parses a manifest object (version check first, then the schema). */
export function parseBundleManifest(raw: unknown, file = BUNDLE_MANIFEST): BundleManifest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(file, 'the manifest is not a JSON object');
  const r = raw as Record<string, unknown>;
  if (r.format !== undefined && r.format !== 'cleft-bundle') fail(file, `not a CLEFT bundle manifest (format ${JSON.stringify(r.format)})`);
  if (typeof r.formatVersion === 'number' && r.formatVersion > BUNDLE_FORMAT_VERSION)
    fail(
      file,
      `written by a newer CLEFT Studio (formatVersion ${r.formatVersion}; this version reads ${BUNDLE_FORMAT_VERSION}): update the app`,
    );
  const res = BundleManifest.safeParse(raw);
  if (!res.success) fail(file, `invalid manifest: ${zodProblem(res.error)}`);
  const m = res.data;
  const names = new Set<string>();
  for (const p of m.promptSets) {
    if (names.has(p.name)) fail(file, `invalid manifest: prompt set "${p.name}" is listed twice`);
    names.add(p.name);
  }
  const adaptorNames = new Set<string>();
  for (const a of m.adaptors) {
    if (adaptorNames.has(a.name)) fail(file, `invalid manifest: adaptor "${a.name}" is listed twice`);
    adaptorNames.add(a.name);
  }
  if (m.preprocessing && sha256Hex(canonicalJson(m.preprocessing.spec)) !== m.preprocessing.sha256)
    fail(file, 'invalid manifest: preprocessing.sha256 is not the sha256 of the canonical preprocessing spec');
  return m;
}

/** The model identity: sha256 of the canonical manifest without name, description and dates. */
export function manifestSha256(m: BundleManifest): string {
  return sha256Hex(canonicalJson(identityView(m)));
}

/**
 * The identity of what the bundle was built from (encoders, adapters, heads, preprocessing), without
 * the prompt sets and adaptors learned into it since: those are additions, each checked against
 * its own hash in the manifest, so saving one is not a change of the model a library imported.
 */
export function manifestBaseSha256(m: BundleManifest): string {
  const added = new Set([...m.promptSets.map((p) => p.path), ...m.adaptors.map((a) => a.path)]);
  const base = {
    ...m,
    promptSets: [],
    adaptors: [],
    files: Object.fromEntries(Object.entries(m.files).filter(([rel]) => !added.has(rel))),
  };
  return sha256Hex(canonicalJson(identityView(base)));
}

function identityView(m: BundleManifest): Record<string, unknown> {
  return {
    formatVersion: m.formatVersion,
    format: m.format,
    text: m.text,
    image: m.image,
    heads: m.heads,
    preprocessing: m.preprocessing,
    promptSets: m.promptSets.map(({ createdAt: _c, ...rest }) => rest),
    // only when present, so bundles without adaptors keep the identity they had before adaptors existed
    ...(m.adaptors.length ? { adaptors: m.adaptors.map(({ createdAt: _c, ...rest }) => rest) } : {}),
    files: m.files,
  };
}
