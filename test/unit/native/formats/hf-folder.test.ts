import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadHfFolder, parseModelConfig, expectedTensors } from '../../../../src/native/models/hf-model';
import { writeHfFolder, readWeightF32, ModelFormatError, INDEX_FILE } from '../../../../src/native/formats/hf-folder';
import { bindModelWeights } from '../../../../src/native/models/weights';
import { type Gpt2Config } from '../../../../src/native/models/gpt2';
import { type Dinov2Config, type VitConfig } from '../../../../src/native/models/vit';
import {
  readTensors,
  readSafetensorsHeader,
  writeSafetensors,
  f32ToBf16,
  f32ToF16,
  bf16ToF32,
  f16ToF32,
  type TensorInput,
} from '../../../../src/native/formats/safetensors';

const REF = path.resolve(__dirname, '../../../fixtures/reference-a');
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function fixtureTensors(model: string): Record<string, TensorInput> {
  return Object.fromEntries(readTensors(path.join(REF, model, 'model.safetensors')));
}
function fixtureConfig(model: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(REF, model, 'config.json'), 'utf8')) as Record<string, unknown>;
}
function makeFolder(name: string, config: Record<string, unknown>, tensors: Record<string, TensorInput>, maxShardBytes?: number): string {
  const dir = path.join(tmp, name);
  writeHfFolder(dir, config, tensors, maxShardBytes ? { maxShardBytes } : {});
  return dir;
}
function expectModelError(fn: () => unknown, re: RegExp, tensor?: string): ModelFormatError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ModelFormatError);
  const e = err as ModelFormatError;
  expect(e.message).toMatch(re);
  if (tensor) expect(e.tensor).toBe(tensor);
  return e;
}

describe('configs', () => {
  it('GPT-2 defaults: n_inner null -> 4*n_embd, eps, activation, EOS', () => {
    const c = parseModelConfig(fixtureConfig('gpt2')) as Gpt2Config;
    expect(c).toMatchObject({
      family: 'gpt2',
      nEmbd: 64,
      nInner: 256,
      nLayer: 2,
      nHead: 4,
      nPositions: 64,
      vocabSize: 1000,
      activation: 'gelu_new',
      layerNormEpsilon: 1e-5,
      eosTokenId: 50256,
    });
    const d = parseModelConfig({ model_type: 'gpt2' }) as Gpt2Config;
    expect(d).toMatchObject({ nEmbd: 768, nInner: 3072, nPositions: 1024, vocabSize: 50257, layerNormEpsilon: 1e-5 });
    expect((parseModelConfig({ model_type: 'gpt2', n_ctx: 2048 }) as Gpt2Config).nPositions).toBe(2048);
  });
  it('ViT and DINOv2 (with registers) defaults', () => {
    const v = parseModelConfig({ architectures: ['ViTModel'] }) as VitConfig;
    expect(v).toMatchObject({
      family: 'vit',
      layerNormEps: 1e-12,
      imageSize: [224, 224],
      patchSize: [16, 16],
      qkvBias: true,
      numPatches: 196,
      activation: 'gelu',
    });
    const d = parseModelConfig({ model_type: 'dinov2' }) as Dinov2Config;
    expect(d).toMatchObject({ patchSize: [14, 14], layerNormEps: 1e-6, numRegisterTokens: 0, mlpHiddenSize: 3072, layerscaleValue: 1 });
    const r = parseModelConfig({ model_type: 'dinov2_with_registers' }) as Dinov2Config;
    expect(r).toMatchObject({ family: 'dinov2_with_registers', numRegisterTokens: 4, patchSize: [16, 16] });
    const f = parseModelConfig(fixtureConfig('dinov2')) as Dinov2Config;
    expect(f).toMatchObject({ numRegisterTokens: 2, hiddenSize: 48, numAttentionHeads: 3, mlpHiddenSize: 192, numPatches: 4 });
    const sw = parseModelConfig({ model_type: 'dinov2', use_swiglu_ffn: true, hidden_size: 1536, num_attention_heads: 24 }) as Dinov2Config;
    expect(sw.mlpHiddenSize).toBe(4096); // giant: int(6144*2/3)=4096 -> round up to 8
  });
  it('refuses unsupported model types and bad values', () => {
    expectModelError(() => parseModelConfig({ model_type: 'llama' }, 'x/config.json'), /x\/config.json: unsupported model_type "llama"/);
    expectModelError(() => parseModelConfig({ architectures: ['BertModel'] }), /no model_type and no supported architecture/);
    expectModelError(() => parseModelConfig({ model_type: 'gpt2', n_embd: 'big' }), /invalid gpt2 config: n_embd/);
    expectModelError(() => parseModelConfig({ model_type: 'gpt2', activation_function: 'mish' }), /activation_function/);
    expectModelError(() => parseModelConfig({ model_type: 'gpt2', n_embd: 10, n_head: 3 }), /divisible/);
  });
});

describe('loading folders', () => {
  it('loads the GPT-2 fixture with a weight index into the file', () => {
    const m = loadHfFolder(path.join(REF, 'gpt2'));
    expect(m.config.family).toBe('gpt2');
    expect(m.prefix).toBe('');
    expect(m.weights.size).toBe(expectedTensors(m.config).length);
    expect(m.dtypes).toEqual(['F32']);
    const h = readSafetensorsHeader(path.join(REF, 'gpt2/model.safetensors'));
    const w = m.weights.get('h.0.attn.c_attn.weight')!;
    expect(w).toMatchObject({ dtype: 'F32', shape: [64, 192], byteOffset: h.tensors.get('h.0.attn.c_attn.weight')!.byteOffset });
    expect(w.file).toBe(path.join(REF, 'gpt2/model.safetensors'));
    expect(m.numParameters).toBe(168192);
    const data = readWeightF32(w);
    expect(data.length).toBe(64 * 192);
  });
  it('loads the ViT and DINOv2-with-registers fixtures', () => {
    const v = loadHfFolder(path.join(REF, 'vit'));
    expect(v.config.family).toBe('vit');
    expect(v.weights.has('encoder.layer.1.output.dense.weight')).toBe(true);
    const d = loadHfFolder(path.join(REF, 'dinov2'));
    expect(d.config.family).toBe('dinov2_with_registers');
    expect(d.weights.get('embeddings.register_tokens')!.shape).toEqual([1, 2, 48]);
    expect(d.weights.get('embeddings.mask_token')!.shape).toEqual([1, 48]);
  });
  it('handles the transformer. prefix (GPT2LMHeadModel) and ignores lm_head', () => {
    const t = fixtureTensors('gpt2');
    const pref: Record<string, TensorInput> = {};
    for (const [k, v] of Object.entries(t)) pref['transformer.' + k] = v;
    pref['lm_head.weight'] = t['wte.weight']!;
    pref['transformer.h.0.attn.bias'] = { dtype: 'F32', shape: [1, 1, 4, 4], data: new Float32Array(16) };
    const cfg = { ...fixtureConfig('gpt2'), architectures: ['GPT2LMHeadModel'] };
    const m = loadHfFolder(makeFolder('gpt2-lm', cfg, pref));
    expect(m.prefix).toBe('transformer.');
    expect(m.weights.get('wte.weight')!.sourceName).toBe('transformer.wte.weight');
    expect(m.ignored.sort()).toEqual(['lm_head.weight', 'transformer.h.0.attn.bias']);
    expect(Array.from(readWeightF32(m.weights.get('ln_f.bias')!))).toEqual(Array.from(t['ln_f.bias']!.data as Float32Array));
  });
  it('handles the vit. prefix with a pooler and classifier', () => {
    const t = fixtureTensors('vit');
    const pref: Record<string, TensorInput> = {};
    for (const [k, v] of Object.entries(t)) pref['vit.' + k] = v;
    pref['classifier.weight'] = { dtype: 'F32', shape: [2, 48], data: new Float32Array(96) };
    pref['vit.pooler.dense.weight'] = { dtype: 'F32', shape: [48, 48], data: new Float32Array(48 * 48) };
    pref['vit.pooler.dense.bias'] = { dtype: 'F32', shape: [48], data: new Float32Array(48) };
    const m = loadHfFolder(makeFolder('vit-cls', { ...fixtureConfig('vit'), architectures: ['ViTForImageClassification'] }, pref));
    expect(m.prefix).toBe('vit.');
    expect(m.weights.has('pooler.dense.weight')).toBe(true);
    expect(m.ignored).toEqual(['classifier.weight']);
  });
  it('loads sharded folders through model.safetensors.index.json', () => {
    const dir = makeFolder('gpt2-sharded', fixtureConfig('gpt2'), fixtureTensors('gpt2'), 300_000);
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(false);
    const idx = JSON.parse(fs.readFileSync(path.join(dir, INDEX_FILE), 'utf8')) as { weight_map: Record<string, string> };
    expect(new Set(Object.values(idx.weight_map)).size).toBeGreaterThan(1);
    const m = loadHfFolder(dir);
    expect(m.sharded).toBe(true);
    expect(m.files.length).toBeGreaterThan(1);
    expect(new Set([...m.weights.values()].map((w) => path.basename(w.file))).size).toBe(m.files.length);
    const ref = loadHfFolder(path.join(REF, 'gpt2'));
    for (const n of ['wte.weight', 'h.1.mlp.c_proj.weight', 'ln_f.weight'])
      expect(readWeightF32(m.weights.get(n)!)).toEqual(readWeightF32(ref.weights.get(n)!));
  });
});

describe('refusing bad folders', () => {
  it('missing tensor', () => {
    const t = fixtureTensors('gpt2');
    delete t['h.1.ln_2.bias'];
    const e = expectModelError(
      () => loadHfFolder(makeFolder('missing', fixtureConfig('gpt2'), t)),
      /missing tensor.*\[64\]/,
      'h.1.ln_2.bias',
    );
    expect(e.file).toMatch(/missing\/model\.safetensors$/);
  });
  it('wrong shape (config disagrees with weights)', () => {
    const e = expectModelError(
      () => loadHfFolder(makeFolder('shape', { ...fixtureConfig('gpt2'), n_inner: 128 }, fixtureTensors('gpt2'))),
      /config\.json: "n_inner" is 128 but the weights say 256: h\.0\.mlp\.c_fc\.weight in model\.safetensors has shape \[64, 256\]/,
    );
    expect(e.file).toMatch(/shape\/config\.json$/);
    // a shape no config key explains is still named by tensor
    const t = fixtureTensors('gpt2');
    t['h.1.attn.c_proj.weight'] = { dtype: 'F32', shape: [64, 32], data: new Float32Array(64 * 32) };
    expectModelError(
      () => loadHfFolder(makeFolder('shape2', fixtureConfig('gpt2'), t)),
      /wrong shape \[64, 32\], the config implies \[64, 64\]/,
      'h.1.attn.c_proj.weight',
    );
  });
  it('absurd layer counts are refused from the weights present, before anything is built', () => {
    // Before: expectedTensors listed 12 tensors per claimed layer and the heap filled (~70 s, 4.5 GB).
    const vit = expectModelError(
      () => loadHfFolder(makeFolder('layers-1e9', { ...fixtureConfig('vit'), num_hidden_layers: 1_000_000_000 }, fixtureTensors('vit'))),
      /config\.json: "num_hidden_layers" is 1000000000 but the weights \(model\.safetensors\) hold 2 layers/,
    );
    expect(vit.file).toMatch(/layers-1e9\/config\.json$/);
    expectModelError(
      () => loadHfFolder(makeFolder('n-layer-1e9', { ...fixtureConfig('gpt2'), n_layer: 1_000_000_000 }, fixtureTensors('gpt2'))),
      /config\.json: "n_layer" is 1000000000 but the weights \(model\.safetensors\) hold 2 layers/,
    );
    expectModelError(
      () =>
        loadHfFolder(makeFolder('dino-layers', { ...fixtureConfig('dinov2'), num_hidden_layers: 3 }, fixtureTensors('dinov2'), 300_000)),
      /"num_hidden_layers" is 3 but the weights \(model\.safetensors\.index\.json\) hold 2 layers/,
    );
  });
  it('sizes the weights contradict name the config key and the tensor', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['gpt2', { vocab_size: 1_000_000_000 }, /"vocab_size" is 1000000000 but the weights say 1000: wte\.weight .*\[1000, 64\]/],
      ['gpt2', { n_embd: 4096, n_head: 4 }, /"n_embd" is 4096 but the weights say 64: wte\.weight/],
      ['gpt2', { n_positions: 2 ** 40 }, /"n_positions" is 1099511627776 but the weights say 64: wpe\.weight/],
      ['gpt2', { n_positions: undefined, n_ctx: 99 }, /"n_ctx" is 99 but the weights say 64/],
      ['vit', { hidden_size: 4096 }, /"hidden_size" is 4096 but the weights say 48: embeddings\.cls_token .*\[1, 1, 48\]/],
      [
        'vit',
        { intermediate_size: 10 ** 9 },
        /"intermediate_size" is 1000000000 but the weights say 96: encoder\.layer\.0\.intermediate\.dense\.weight/,
      ],
      ['vit', { patch_size: 4 }, /"patch_size" is 4 but the weights say 8: .*projection\.weight/],
      [
        'vit',
        { image_size: 100_000 },
        /"image_size" is 100000 but the weights say 17 \(the config implies 156250001\): embeddings\.position_embeddings/,
      ],
      ['vit', { num_channels: 1 }, /"num_channels" is 1 but the weights say 3/],
      [
        'dinov2',
        { mlp_ratio: 1000 },
        /"mlp_ratio" is 1000 but the weights say \d+ \(the config implies \d+\): encoder\.layer\.0\.mlp\.fc1\.weight/,
      ],
    ];
    cases.forEach(([model, change, re], i) => {
      const e = expectModelError(
        () => loadHfFolder(makeFolder(`size-${i}`, { ...fixtureConfig(model), ...change }, fixtureTensors(model))),
        re,
      );
      expect(e.file).toMatch(/config\.json$/);
    });
  });
  it('a weights header claiming a huge header or data past the end of the file is refused before reading it', () => {
    const dir = makeFolder('hdr-huge', fixtureConfig('vit'), fixtureTensors('vit'));
    const f = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(f);
    const huge = Buffer.from(bytes);
    huge.writeBigUInt64LE(2n ** 60n, 0);
    fs.writeFileSync(f, huge);
    expect(
      expectModelError(() => loadHfFolder(dir), /header length 1152921504606846976 is larger than the 100000000-byte limit/).file,
    ).toBe(f);
    const past = Buffer.from(bytes);
    past.writeBigUInt64LE(BigInt(bytes.length), 0); // under the limit, beyond the file
    fs.writeFileSync(f, past);
    expectModelError(() => loadHfFolder(dir), /header length \d+ runs past the end of the file/);
    fs.writeFileSync(f, bytes.subarray(0, bytes.length - 1000)); // offsets claim data the file lacks
    expectModelError(() => loadHfFolder(dir), /run past the end of the data .*truncated/);
  });
  it('negative, zero, non-integer and non-numeric sizes name config.json and the key', () => {
    for (const [key, v] of [
      ['num_hidden_layers', -1],
      ['hidden_size', 0],
      ['num_attention_heads', 2.5],
      ['image_size', '224'],
      ['patch_size', 1e300],
    ] as const) {
      const e = expectModelError(
        () => loadHfFolder(makeFolder(`bad-${key}`, { ...fixtureConfig('vit'), [key]: v }, fixtureTensors('vit'))),
        new RegExp(`config\\.json: invalid vit config: ${key}`),
      );
      expect(e.file).toMatch(/config\.json$/);
    }
  });
  it('more layers than the config says', () => {
    expectModelError(
      () => loadHfFolder(makeFolder('layers', { ...fixtureConfig('gpt2'), n_layer: 1 }, fixtureTensors('gpt2'))),
      /layer 1 exists in the weights but the config has 1 layers/,
    );
  });
  it('unsupported model_type', () => {
    expectModelError(
      () => loadHfFolder(makeFolder('llama', { model_type: 'llama' }, fixtureTensors('gpt2'))),
      /unsupported model_type "llama"/,
    );
  });
  it('a config that claims the wrong family', () => {
    expectModelError(
      () => loadHfFolder(makeFolder('claims', fixtureConfig('vit'), fixtureTensors('gpt2'))),
      /missing tensor.*really a vit/,
      'embeddings.cls_token',
    );
  });
  it('truncated weights file', () => {
    const dir = makeFolder('trunc', fixtureConfig('gpt2'), fixtureTensors('gpt2'));
    const f = path.join(dir, 'model.safetensors');
    fs.truncateSync(f, fs.statSync(f).size - 100);
    // the official layout sorts F32 tensors by name, so the last one in the data is wte.weight
    const e = expectModelError(() => loadHfFolder(dir), /truncated/, 'wte.weight');
    expect(e.file).toBe(f);
  });
  it('non-float weight dtype', () => {
    const t = fixtureTensors('gpt2');
    t['ln_f.bias'] = { dtype: 'I32', shape: [64], data: new Int32Array(64) };
    expectModelError(() => loadHfFolder(makeFolder('int', fixtureConfig('gpt2'), t)), /unsupported weight dtype I32/, 'ln_f.bias');
  });
  it('missing shard, tensor missing from its shard, bad shard name', () => {
    const dir = makeFolder('shard-bad', fixtureConfig('gpt2'), fixtureTensors('gpt2'), 300_000);
    const idxFile = path.join(dir, INDEX_FILE);
    const idx = JSON.parse(fs.readFileSync(idxFile, 'utf8')) as { weight_map: Record<string, string> };
    fs.writeFileSync(idxFile, JSON.stringify({ ...idx, weight_map: { ...idx.weight_map, 'extra.weight': idx.weight_map['wte.weight']! } }));
    expectModelError(() => loadHfFolder(dir), /missing tensor \(listed in model.safetensors.index.json\)/, 'extra.weight');
    fs.writeFileSync(idxFile, JSON.stringify({ weight_map: { ...idx.weight_map, 'wte.weight': '../evil.safetensors' } }));
    expectModelError(() => loadHfFolder(dir), /must be a .safetensors file name/);
    fs.writeFileSync(idxFile, JSON.stringify({ weight_map: { ...idx.weight_map, 'wte.weight': 'model-00009-of-00009.safetensors' } }));
    expectModelError(() => loadHfFolder(dir), /shard listed in .* is missing/);
  });
  it('no weights / pickle only', () => {
    const dir = path.join(tmp, 'pickle');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(fixtureConfig('gpt2')));
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), 'x');
    expectModelError(() => loadHfFolder(dir), /no model.safetensors.*pytorch_model.bin: convert/);
  });
});

describe('F16 / BF16 weights', () => {
  it('loads F16 and BF16 folders; binding with halfWeights convert converts them to F32 once, F32 weights are used in place', () => {
    const t = fixtureTensors('gpt2');
    const bf: Record<string, TensorInput> = {};
    const hf: Record<string, TensorInput> = {};
    for (const [k, v] of Object.entries(t)) {
      bf[k] = { dtype: 'BF16', shape: v.shape, data: f32ToBf16(v.data as Float32Array) };
      hf[k] = { dtype: 'F16', shape: v.shape, data: f32ToF16(v.data as Float32Array) };
    }
    const mh = loadHfFolder(makeFolder('gpt2-f16', fixtureConfig('gpt2'), hf));
    expect(mh.dtypes).toEqual(['F16']);
    expect(readWeightF32(mh.weights.get('wpe.weight')!)).toEqual(f16ToF32(hf['wpe.weight']!.data as Uint16Array));
    const m32 = loadHfFolder(makeFolder('gpt2-f32', fixtureConfig('gpt2'), t));
    expect(bindModelWeights(m32, { cacheDir: path.join(tmp, 'cache32') }).converted).toBeNull(); // nothing to convert

    const m = loadHfFolder(makeFolder('gpt2-bf16', fixtureConfig('gpt2'), bf));
    expect(m.dtypes).toEqual(['BF16']);
    const cacheDir = path.join(tmp, 'cache');
    const bound = bindModelWeights(m, { cacheDir, halfWeights: 'convert' });
    const file = bound.converted!;
    expect(path.dirname(file)).toBe(path.join(cacheDir, 'weights'));
    const v = bound.source.value('h.0.attn.c_attn.weight');
    if (v.kind !== 'external') throw new Error('expected external data');
    expect(v.location).toBe(`weights/${path.basename(file)}`);
    const bytes = fs.readFileSync(file).subarray(v.offset, v.offset + v.length);
    const conv = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    expect(conv).toEqual(bf16ToF32(bf['h.0.attn.c_attn.weight']!.data as Uint16Array));
    // the BF16 values are within bf16 precision of the originals
    const orig = t['h.0.attn.c_attn.weight']!.data as Float32Array;
    for (let i = 0; i < orig.length; i++) expect(Math.abs(conv[i]! - orig[i]!)).toBeLessThanOrEqual(Math.abs(orig[i]!) * 2 ** -8);
    const mtime = fs.statSync(file).mtimeMs;
    expect(bindModelWeights(m, { cacheDir, halfWeights: 'convert' }).converted).toBe(file);
    expect(fs.statSync(file).mtimeMs).toBe(mtime);
    expect(fs.readdirSync(path.join(cacheDir, 'weights'))).toEqual([path.basename(file)]);
  });
  it('by default binds F16 and BF16 weights in place, as their own dtype, with no converted file', () => {
    const t = fixtureTensors('gpt2');
    const bf: Record<string, TensorInput> = {};
    for (const [k, v] of Object.entries(t)) bf[k] = { dtype: 'BF16', shape: v.shape, data: f32ToBf16(v.data as Float32Array) };
    const m = loadHfFolder(makeFolder('gpt2-bf16-inplace', fixtureConfig('gpt2'), bf));
    const cacheDir = path.join(tmp, 'cache-inplace');
    const bound = bindModelWeights(m, { cacheDir });
    expect(bound.converted).toBeNull();
    expect(bound.source.dtype?.('h.0.attn.c_attn.weight')).toBe('bfloat16');
    const v = bound.source.value('h.0.attn.c_attn.weight');
    const ref = m.weights.get('h.0.attn.c_attn.weight')!;
    expect(v).toMatchObject({ kind: 'external', offset: ref.byteOffset, length: ref.byteLength });
    if (v.kind !== 'external') throw new Error('expected external data');
    expect(fs.statSync(path.join(cacheDir, v.location)).ino).toBe(fs.statSync(ref.file).ino); // the model file itself
    expect(fs.readdirSync(path.join(cacheDir, 'weights')).filter((f) => f.endsWith('.bin'))).toEqual([]);
  });
  it('writeSafetensors output of the folder is readable by index', () => {
    const f = path.join(tmp, 'x.safetensors');
    writeSafetensors(f, { a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
    expect(readSafetensorsHeader(f).tensors.size).toBe(1);
  });
});

describe('error messages', () => {
  it('name the file and the tensor once', () => {
    const dir = path.join(tmp, 'msg');
    writeHfFolder(dir, fixtureConfig('gpt2'), fixtureTensors('gpt2'));
    const f = path.join(dir, 'model.safetensors');
    fs.truncateSync(f, fs.statSync(f).size - 4);
    try {
      loadHfFolder(dir);
      throw new Error('expected an error');
    } catch (e) {
      expect((e as Error).message).toBe(
        `${f}: tensor "wte.weight": data_offsets [416768, 672768] run past the end of the data (672764 bytes): file truncated?`,
      );
    }
  });
});
