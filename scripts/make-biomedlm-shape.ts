// Writes a Hugging Face GPT-2 folder of BioMedLM's shape (2560 wide, 32 layers, 20 heads, 1024
// positions, vocabulary 28896) with random bf16 weights, deterministic from a seed: the 2.7B text
// encoder the benches and issue #15 measure, without downloading BioMedLM.
//
//   npx tsx scripts/make-biomedlm-shape.ts --out /work/bigmodel [--seed 1] [--layers N] [--width W]
//                                          [--heads H] [--vocab V] [--positions P] [--shard-gb 2]
//
// Weights are streamed tensor by tensor into ~2 GB safetensors shards (model-0000i-of-0000n +
// index.json, as save_pretrained writes), so at most one tensor is in memory (the largest is wte,
// 28896 x 2560 bf16 = 148 MB). Values: N(0, 0.02)-like uniform for matrices, 1 for LayerNorm
// weights, 0 for biases; c_proj weights scaled by 1/sqrt(2 n_layer) as GPT-2 initialises them.
//
// Tokenizer: BioMedLM's own BPE (28896 tokens) is not in the repo; the GPT-2 tokenizer fixture
// (test/fixtures/gpt2-tokenizer, 50257 tokens) is cut to BioMedLM's vocabulary size: GPT-2's ids
// 0..V-2 (256 bytes, then tokens in merge order) with the merges that only make those tokens, and
// `<|endoftext|>` as id V-1. That is a valid byte-level BPE whose ids all fit the embedding.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSafetensorsStreaming, writeFileAtomic, type StreamTensorSpec } from '../src/native/formats/safetensors';
import { INDEX_FILE } from '../src/native/formats/hf-folder';

export interface BiomedlmShape {
  layers: number;
  width: number;
  heads: number;
  vocab: number;
  positions: number;
}

export const BIOMEDLM_SHAPE: Readonly<BiomedlmShape> = { layers: 32, width: 2560, heads: 20, vocab: 28896, positions: 1024 };

const EOS = '<|endoftext|>';
const TOKENIZER_FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'gpt2-tokenizer');

/** The GPT-2 weight names and shapes in HF order (Conv1D weights are [in, out]). */
export function gpt2Specs(s: BiomedlmShape): StreamTensorSpec[] {
  const d = s.width;
  const specs: StreamTensorSpec[] = [
    { name: 'wte.weight', dtype: 'BF16', shape: [s.vocab, d] },
    { name: 'wpe.weight', dtype: 'BF16', shape: [s.positions, d] },
  ];
  for (let l = 0; l < s.layers; l++) {
    const p = `h.${l}.`;
    specs.push(
      { name: `${p}ln_1.weight`, dtype: 'BF16', shape: [d] },
      { name: `${p}ln_1.bias`, dtype: 'BF16', shape: [d] },
      { name: `${p}attn.c_attn.weight`, dtype: 'BF16', shape: [d, 3 * d] },
      { name: `${p}attn.c_attn.bias`, dtype: 'BF16', shape: [3 * d] },
      { name: `${p}attn.c_proj.weight`, dtype: 'BF16', shape: [d, d] },
      { name: `${p}attn.c_proj.bias`, dtype: 'BF16', shape: [d] },
      { name: `${p}ln_2.weight`, dtype: 'BF16', shape: [d] },
      { name: `${p}ln_2.bias`, dtype: 'BF16', shape: [d] },
      { name: `${p}mlp.c_fc.weight`, dtype: 'BF16', shape: [d, 4 * d] },
      { name: `${p}mlp.c_fc.bias`, dtype: 'BF16', shape: [4 * d] },
      { name: `${p}mlp.c_proj.weight`, dtype: 'BF16', shape: [4 * d, d] },
      { name: `${p}mlp.c_proj.bias`, dtype: 'BF16', shape: [d] },
    );
  }
  specs.push({ name: 'ln_f.weight', dtype: 'BF16', shape: [d] }, { name: 'ln_f.bias', dtype: 'BF16', shape: [d] });
  return specs;
}

/** 32-bit string hash (FNV-1a): each tensor gets its own stream, so values do not depend on order. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bf16 bits of one tensor: uniform in ±std·√3 (variance std²) from xorshift32, round to nearest even. */
export function randomBf16(name: string, count: number, seed: number, std: number): Uint16Array {
  const out = new Uint16Array(count);
  let x = (hash32(name) ^ Math.imul(seed + 1, 0x9e3779b1)) >>> 0 || 1;
  const a = (std * Math.sqrt(3) * 2) / 4294967296;
  const b = std * Math.sqrt(3);
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    f32[0] = x * a - b;
    const bits = u32[0]!;
    out[i] = ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

function constantBf16(count: number, value: number): Uint16Array {
  f32[0] = value;
  return new Uint16Array(count).fill(u32[0]! >>> 16);
}

function tensorData(spec: StreamTensorSpec, s: BiomedlmShape, seed: number): Uint16Array {
  const n = spec.shape.reduce((p, q) => p * q, 1);
  if (/ln_\d\.weight$|ln_f\.weight$/.test(spec.name)) return constantBf16(n, 1);
  if (spec.name.endsWith('.bias')) return constantBf16(n, 0);
  const std = spec.name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * s.layers) : 0.02;
  return randomBf16(spec.name, n, seed, std);
}

/** GPT-2's tokenizer cut to `vocab` tokens (see the header comment). */
export function truncatedGpt2Tokenizer(vocab: number): { vocab: Record<string, number>; merges: string[] } {
  const full = JSON.parse(fs.readFileSync(path.join(TOKENIZER_FIXTURE, 'vocab.json'), 'utf8')) as Record<string, number>;
  const lines = fs.readFileSync(path.join(TOKENIZER_FIXTURE, 'merges.txt'), 'utf8').split('\n');
  const keep: Record<string, number> = {};
  for (const [tok, id] of Object.entries(full)) if (id < vocab - 1 && tok !== EOS) keep[tok] = id;
  keep[EOS] = vocab - 1;
  const merges = lines
    .filter((l) => l && !l.startsWith('#version'))
    .filter((l) => {
      const [a, b] = l.split(' ');
      return a! in keep && b! in keep && a! + b! in keep;
    });
  return { vocab: keep, merges };
}

/** Writes the folder; returns the number of parameters and bytes of weights. */
export function makeBiomedlmShape(
  out: string,
  opts: Partial<BiomedlmShape> & { seed?: number; shardBytes?: number; log?: (m: string) => void } = {},
): { parameters: number; bytes: number; shards: number } {
  const s: BiomedlmShape = { ...BIOMEDLM_SHAPE, ...opts };
  if (s.width % s.heads !== 0) throw new Error(`--width ${s.width} is not a multiple of --heads ${s.heads}`);
  if (s.vocab < 257) throw new Error(`--vocab ${s.vocab} must be at least 257 (256 bytes + EOS)`);
  const seed = opts.seed ?? 1;
  const shardBytes = opts.shardBytes ?? 2e9;
  const log = opts.log ?? (() => {});
  fs.mkdirSync(out, { recursive: true });
  const config = {
    model_type: 'gpt2',
    architectures: ['GPT2LMHeadModel'],
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    n_inner: null,
    vocab_size: s.vocab,
    n_positions: s.positions,
    n_ctx: s.positions,
    n_embd: s.width,
    n_layer: s.layers,
    n_head: s.heads,
    bos_token_id: s.vocab - 1,
    eos_token_id: s.vocab - 1,
    torch_dtype: 'bfloat16',
  };
  writeFileAtomic(path.join(out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const tok = truncatedGpt2Tokenizer(s.vocab);
  writeFileAtomic(path.join(out, 'vocab.json'), JSON.stringify(tok.vocab));
  writeFileAtomic(path.join(out, 'merges.txt'), ['#version: 0.2', ...tok.merges].join('\n') + '\n');
  writeFileAtomic(
    path.join(out, 'tokenizer_config.json'),
    JSON.stringify(
      { model_max_length: s.positions, bos_token: EOS, eos_token: EOS, unk_token: EOS, tokenizer_class: 'GPT2Tokenizer' },
      null,
      2,
    ) + '\n',
  );

  const specs = gpt2Specs(s);
  const bytesOf = (t: StreamTensorSpec) => t.shape.reduce((p, q) => p * q, 1) * 2;
  const groups: StreamTensorSpec[][] = [[]];
  let cur = 0;
  for (const t of specs) {
    if (cur > 0 && cur + bytesOf(t) > shardBytes) {
      groups.push([]);
      cur = 0;
    }
    groups[groups.length - 1]!.push(t);
    cur += bytesOf(t);
  }
  const pad = (i: number) => String(i).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  for (const f of fs.readdirSync(out)) if (/^model.*\.safetensors$/.test(f)) fs.rmSync(path.join(out, f));
  groups.forEach((g, i) => {
    const fname = `model-${pad(i + 1)}-of-${pad(groups.length)}.safetensors`;
    const byName = new Map(g.map((t) => [t.name, t]));
    writeSafetensorsStreaming(
      path.join(out, fname),
      g,
      (name) => tensorData(byName.get(name)!, s, seed),
      { format: 'pt' },
      { fsync: false },
    );
    for (const t of g) weightMap[t.name] = fname;
    log(`${fname}: ${g.length} tensors`);
  });
  const total = specs.reduce((a, t) => a + bytesOf(t), 0);
  const sorted = Object.fromEntries(
    Object.keys(weightMap)
      .sort()
      .map((k) => [k, weightMap[k]!]),
  );
  writeFileAtomic(path.join(out, INDEX_FILE), JSON.stringify({ metadata: { total_size: total }, weight_map: sorted }, null, 2) + '\n');
  return { parameters: total / 2, bytes: total, shards: groups.length };
}

function main(argv: string[]): void {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--') || i + 1 >= argv.length) throw new Error(`unexpected argument "${a}" (flags take a value: --out DIR ...)`);
    args.set(a.slice(2), argv[++i]!);
  }
  const known = ['out', 'seed', 'layers', 'width', 'heads', 'vocab', 'positions', 'shard-gb'];
  for (const k of args.keys())
    if (!known.includes(k)) throw new Error(`unknown flag --${k} (known: ${known.map((x) => `--${x}`).join(' ')})`);
  const out = args.get('out');
  if (!out) throw new Error('--out DIR is required');
  const int = (k: string): number | undefined => {
    const v = args.get(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${k} must be a positive integer, got "${v}"`);
    return n;
  };
  const o: Partial<BiomedlmShape> & { seed?: number; shardBytes?: number } = {};
  for (const k of ['layers', 'width', 'heads', 'vocab', 'positions'] as const) {
    const v = int(k);
    if (v !== undefined) o[k] = v;
  }
  const seed = int('seed');
  if (seed !== undefined) o.seed = seed;
  const gb = args.get('shard-gb');
  if (gb !== undefined) o.shardBytes = Number(gb) * 1e9;
  const t0 = performance.now();
  const r = makeBiomedlmShape(path.resolve(out), { ...o, log: (m) => console.log(m) });
  console.log(
    `${out}: ${(r.parameters / 1e9).toFixed(3)}B parameters, ${(r.bytes / 1e9).toFixed(2)} GB bf16 in ${r.shards} shard(s), ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
