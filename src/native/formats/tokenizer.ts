/**
 * GPT-2 byte-level BPE tokenizer through `@huggingface/tokenizers` (pure JS, offline).
 *
 * Sources, in order of preference: `tokenizer.json`; or `vocab.json` + `merges.txt`, which are
 * turned into the tokenizer.json structure Hugging Face's GPT2TokenizerFast would produce.
 *
 * Batches are encoded as CLEFT does: text tokens, then EOS (`<|endoftext|>`, id 50256 for GPT-2)
 * appended, right-padded (with EOS by default). `lengths` counts the real tokens including the
 * EOS, so the text embedding is the hidden state at `lengths - 1`, the first EOS after the text.
 * Texts longer than the model's positions are truncated (keeping the EOS) with a warning.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

export const GPT2_EOS = '<|endoftext|>';
export const GPT2_EOS_ID = 50256;

export class TokenizerError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'TokenizerError';
  }
}

/** Reads merges.txt (skipping the `#version` line and blanks) into "a b" strings. */
export function parseMergesTxt(text: string): string[] {
  const lines = text.split(/\r?\n/);
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (i === 0 && l.startsWith('#version')) continue;
    if (l.length === 0) continue;
    if (l.split(' ').length !== 2) throw new Error(`merges.txt line ${i + 1} is not "a b": ${JSON.stringify(l)}`);
    out.push(l);
  }
  return out;
}

/** The tokenizer.json structure of GPT2TokenizerFast for a vocab and merges. */
export function gpt2TokenizerJson(vocab: Record<string, number>, merges: string[], eosToken = GPT2_EOS): Record<string, unknown> {
  const eosId = vocab[eosToken];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens:
      eosId === undefined
        ? []
        : [{ id: eosId, content: eosToken, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

export interface EncodeBatchOptions {
  /** Maximum sequence length (the model's n_positions); longer texts are truncated, keeping EOS. */
  maxLength?: number;
  /** Append EOS after each text (default true, as CLEFT does). */
  appendEos?: boolean;
  /** Pad every row to this length (default: the longest row). */
  padTo?: number;
  /** Padding id (default: EOS). */
  padId?: number;
  /** Called once per truncated text (default: console.warn). */
  onWarning?: (message: string) => void;
}

export interface EncodedBatch {
  /** [batch, seqLen] row-major, right-padded. */
  inputIds: BigInt64Array;
  /** Real tokens per row (including the appended EOS); embedding index = lengths - 1. */
  lengths: BigInt64Array;
  batch: number;
  seqLen: number;
  /** Per row: token ids without padding. */
  ids: number[][];
  /** Indices of texts that were truncated. */
  truncated: number[];
}

export class Gpt2Tokenizer {
  readonly eosTokenId: number;
  readonly eosToken: string;
  /** From tokenizer_config.json `model_max_length` when present and sane. */
  readonly modelMaxLength: number | null;

  private constructor(
    private readonly tok: Tokenizer,
    eosToken: string,
    eosTokenId: number,
    modelMaxLength: number | null,
    readonly source: string,
  ) {
    this.eosToken = eosToken;
    this.eosTokenId = eosTokenId;
    this.modelMaxLength = modelMaxLength;
  }

  /** From a parsed tokenizer.json (+ optional tokenizer_config.json). */
  static fromTokenizerJson(json: Record<string, unknown>, config: Record<string, unknown> = {}, source = 'tokenizer.json'): Gpt2Tokenizer {
    const model = json.model as { type?: string } | undefined;
    if (!model || model.type !== 'BPE') throw new TokenizerError(source, `expected a BPE model, got ${JSON.stringify(model?.type)}`);
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(json, config);
    } catch (e) {
      throw new TokenizerError(source, `cannot build tokenizer: ${(e as Error).message}`);
    }
    const eosToken = specialToken(config.eos_token) ?? GPT2_EOS;
    const eosId = tok.token_to_id(eosToken);
    if (eosId === undefined) throw new TokenizerError(source, `the vocabulary has no EOS token ${JSON.stringify(eosToken)}`);
    const mml = typeof config.model_max_length === 'number' && config.model_max_length < 1e9 ? config.model_max_length : null;
    return new Gpt2Tokenizer(tok, eosToken, eosId, mml, source);
  }

  /** From vocab.json + merges.txt contents. */
  static fromVocabMerges(
    vocab: Record<string, number>,
    merges: string | string[],
    config: Record<string, unknown> = {},
    source = 'vocab.json',
  ): Gpt2Tokenizer {
    const m = typeof merges === 'string' ? parseMergesTxt(merges) : merges;
    const eos = specialToken(config.eos_token) ?? GPT2_EOS;
    return Gpt2Tokenizer.fromTokenizerJson(gpt2TokenizerJson(vocab, m, eos), config, source);
  }

  /** From a folder with tokenizer.json, or vocab.json + merges.txt (tokenizer_config.json optional). */
  static fromFolder(dir: string): Gpt2Tokenizer {
    const abs = path.resolve(dir);
    const cfgFile = path.join(abs, 'tokenizer_config.json');
    const config = fs.existsSync(cfgFile) ? (readJson(cfgFile) as Record<string, unknown>) : {};
    const tj = path.join(abs, 'tokenizer.json');
    if (fs.existsSync(tj)) return Gpt2Tokenizer.fromTokenizerJson(readJson(tj) as Record<string, unknown>, config, tj);
    const v = path.join(abs, 'vocab.json');
    const mg = path.join(abs, 'merges.txt');
    if (fs.existsSync(v) && fs.existsSync(mg)) {
      let merges: string[];
      try {
        merges = parseMergesTxt(fs.readFileSync(mg, 'utf8'));
      } catch (e) {
        throw new TokenizerError(mg, (e as Error).message);
      }
      return Gpt2Tokenizer.fromVocabMerges(readJson(v) as Record<string, number>, merges, config, v);
    }
    throw new TokenizerError(abs, 'no tokenizer.json, and no vocab.json + merges.txt');
  }

  /** Token ids of a text (no special tokens added). */
  encode(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  tokens(text: string): string[] {
    return this.tok.tokenize(text, { add_special_tokens: false });
  }

  decode(ids: readonly number[], skipSpecialTokens = false): string {
    if (ids.length === 0) return ''; // the library refuses empty arrays
    return this.tok.decode([...ids], { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: false });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /** Encodes texts into a right-padded int64 batch with EOS appended (see module docs). */
  encodeBatch(texts: readonly string[], options: EncodeBatchOptions = {}): EncodedBatch {
    const appendEos = options.appendEos ?? true;
    const padId = options.padId ?? this.eosTokenId;
    const maxLength = options.maxLength ?? Infinity;
    const warn = options.onWarning ?? ((m: string) => console.warn(m));
    if (maxLength < (appendEos ? 1 : 0) + 1 && texts.length) throw new Error(`encodeBatch: maxLength ${maxLength} is too small`);
    const truncated: number[] = [];
    const ids = texts.map((t, i) => {
      let row = this.encode(t);
      const room = appendEos ? maxLength - 1 : maxLength;
      if (row.length > room) {
        warn(
          `text ${i} has ${row.length + (appendEos ? 1 : 0)} tokens, more than the model's ${maxLength} positions: truncated to ${maxLength}` +
            (appendEos ? ' (EOS kept)' : ''),
        );
        row = row.slice(0, room);
        truncated.push(i);
      }
      return appendEos ? [...row, this.eosTokenId] : row;
    });
    const longest = ids.reduce((a, r) => Math.max(a, r.length), 0);
    const seqLen = options.padTo ?? longest;
    if (seqLen < longest) throw new Error(`encodeBatch: padTo ${seqLen} is shorter than the longest row (${longest})`);
    const inputIds = new BigInt64Array(texts.length * seqLen).fill(BigInt(padId));
    const lengths = new BigInt64Array(texts.length);
    ids.forEach((row, b) => {
      for (let t = 0; t < row.length; t++) inputIds[b * seqLen + t] = BigInt(row[t]!);
      lengths[b] = BigInt(row.length);
    });
    return { inputIds, lengths, batch: texts.length, seqLen, ids, truncated };
  }
}

function specialToken(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TokenizerError(file, `cannot read JSON: ${(e as Error).message}`);
  }
}
