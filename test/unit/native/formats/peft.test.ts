import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  readPeftAdapter,
  writePeftAdapter,
  validateAdapter,
  createPeftAdapter,
  mergeLoraIntoWeight,
  mergedWeight,
  loraScaling,
  isTargetModule,
  parseLoraConfig,
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
} from '../../../../src/native/formats/peft';
import { loadHfFolder } from '../../../../src/native/models/hf-model';
import { readWeightF32, ModelFormatError, writeHfFolder } from '../../../../src/native/formats/hf-folder';
import { readTensors, readSafetensorsHeader, writeSafetensors, type TensorInput } from '../../../../src/native/formats/safetensors';
import { pyDumps, pyLoads, pyFloatRepr, PyFloat } from '../../../../src/native/formats/pyjson';

const REF = path.resolve(__dirname, '../../../fixtures/reference-a');
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
const randArr = (n: number, r: () => number) => Float32Array.from({ length: n }, r);

describe('PEFT adapters', () => {
  it('reads the GPT-2 adapter (Conv1D, fan_in_fan_out, r=4, alpha=8)', () => {
    const a = readPeftAdapter(path.join(REF, 'gpt2/adapter'));
    expect(a.config).toMatchObject({
      r: 4,
      loraAlpha: 8,
      loraDropout: 0,
      targetModules: ['c_attn', 'c_proj'],
      fanInFanOut: true,
      useRslora: false,
    });
    expect([...a.modules.keys()]).toEqual(['h.0.attn.c_attn', 'h.0.attn.c_proj', 'h.1.attn.c_attn', 'h.1.attn.c_proj']);
    const m = a.modules.get('h.0.attn.c_attn')!;
    expect(m.baseWeight).toBe('h.0.attn.c_attn.weight');
    expect(m.scale).toBe(2);
    expect(m.A.shape).toEqual([4, 64]);
    expect(m.B.shape).toEqual([192, 4]);
    const base = loadHfFolder(path.join(REF, 'gpt2'));
    const check = validateAdapter(a, base);
    // target_modules "c_proj" also matches mlp.c_proj, which the fixture does not adapt
    expect(check.warnings).toEqual([
      'target_modules ["c_attn","c_proj"] also match h.0.mlp.c_proj, h.1.mlp.c_proj, which have no LoRA weights: left unchanged',
    ]);
    expect([...check.fanInFanOut.values()]).toEqual([true, true, true, true]);
  });

  it('reads the ViT adapter (query, value) and validates against the base', () => {
    const a = readPeftAdapter(path.join(REF, 'vit/adapter'));
    expect(a.config.fanInFanOut).toBe(false);
    expect(a.modules.size).toBe(4);
    const check = validateAdapter(a, loadHfFolder(path.join(REF, 'vit')));
    expect([...check.fanInFanOut.values()].every((x) => !x)).toBe(true);
  });

  for (const which of ['gpt2', 'vit']) {
    it(`round-trips the ${which} adapter byte for byte`, () => {
      const src = path.join(REF, which, 'adapter');
      const dst = path.join(tmp, `${which}-rt`);
      writePeftAdapter(dst, readPeftAdapter(src));
      for (const f of [ADAPTER_CONFIG, ADAPTER_WEIGHTS])
        expect(Buffer.compare(fs.readFileSync(path.join(src, f)), fs.readFileSync(path.join(dst, f)))).toBe(0);
    });
  }

  it('writes new adapters the way PEFT does (indent=2, sort_keys, floats, official safetensors layout)', () => {
    const r = rng(1);
    const a = createPeftAdapter(
      {
        r: 8,
        loraAlpha: 32,
        loraDropout: 0.1,
        targetModules: ['c_attn'],
        fanInFanOut: true,
        baseModelNameOrPath: 'gpt2',
        taskType: 'FEATURE_EXTRACTION',
      },
      [
        {
          module: 'h.0.attn.c_attn',
          A: { dtype: 'F32', shape: [8, 64], data: randArr(512, r) },
          B: { dtype: 'F32', shape: [192, 8], data: randArr(1536, r) },
        },
        {
          module: 'h.1.attn.c_attn',
          A: { dtype: 'F32', shape: [8, 64], data: randArr(512, r) },
          B: { dtype: 'F32', shape: [192, 8], data: randArr(1536, r) },
        },
      ],
    );
    expect(a.modules.get('h.0.attn.c_attn')!.scale).toBe(4);
    const dir = path.join(tmp, 'new');
    writePeftAdapter(dir, a);
    const text = fs.readFileSync(path.join(dir, ADAPTER_CONFIG), 'utf8');
    expect(text.startsWith('{\n  "alpha_pattern": {},\n  "auto_mapping": null,\n  "base_model_name_or_path": "gpt2",')).toBe(true);
    expect(text).toContain('\n  "lora_dropout": 0.1,\n');
    expect(text).toContain('\n  "target_modules": [\n    "c_attn"\n  ],\n');
    expect(text.endsWith('\n  "use_rslora": false\n}')).toBe(true);
    const h = readSafetensorsHeader(path.join(dir, ADAPTER_WEIGHTS));
    expect(h.metadata).toEqual({ format: 'pt' });
    expect([...h.tensors.keys()]).toEqual([
      'base_model.model.h.0.attn.c_attn.lora_A.weight',
      'base_model.model.h.0.attn.c_attn.lora_B.weight',
      'base_model.model.h.1.attn.c_attn.lora_A.weight',
      'base_model.model.h.1.attn.c_attn.lora_B.weight',
    ]);
    const back = readPeftAdapter(dir);
    expect(back.config).toMatchObject({ r: 8, loraAlpha: 32, loraDropout: 0.1, fanInFanOut: true });
    expect(back.modules.get('h.1.attn.c_attn')!.B.data).toEqual(a.modules.get('h.1.attn.c_attn')!.B.data);
    // rewriting the re-read adapter is byte-identical too
    const dir2 = path.join(tmp, 'new2');
    writePeftAdapter(dir2, back);
    for (const f of [ADAPTER_CONFIG, ADAPTER_WEIGHTS])
      expect(Buffer.compare(fs.readFileSync(path.join(dir, f)), fs.readFileSync(path.join(dir2, f)))).toBe(0);
  });

  it('scaling: alpha/r, rslora alpha/sqrt(r), rank and alpha patterns', () => {
    const c = parseLoraConfig({ r: 16, lora_alpha: 32, target_modules: ['q'], use_rslora: true });
    expect(loraScaling(c, 'encoder.layer.0.attention.attention.query').scale).toBe(8);
    const p = parseLoraConfig({
      r: 8,
      lora_alpha: 16,
      target_modules: ['c_attn', 'c_proj'],
      rank_pattern: { 'h.1.attn.c_attn': 4 },
      alpha_pattern: { c_proj: 4 },
    });
    expect(loraScaling(p, 'h.1.attn.c_attn')).toEqual({ r: 4, alpha: 16, scale: 4 });
    expect(loraScaling(p, 'h.0.attn.c_attn')).toEqual({ r: 8, alpha: 16, scale: 2 });
    expect(loraScaling(p, 'h.0.mlp.c_proj')).toEqual({ r: 8, alpha: 4, scale: 0.5 });
    expect(isTargetModule(p, 'h.0.attn.c_proj')).toBe(true);
    expect(isTargetModule(p, 'h.0.mlp.c_fc')).toBe(false);
    const rx = parseLoraConfig({ r: 8, lora_alpha: 16, target_modules: '.*attn\\.c_attn' });
    expect(isTargetModule(rx, 'h.3.attn.c_attn')).toBe(true);
    expect(isTargetModule(rx, 'h.3.mlp.c_fc')).toBe(false);
    const lt = parseLoraConfig({ r: 8, lora_alpha: 16, target_modules: ['c_attn'], layers_to_transform: [1] });
    expect(isTargetModule(lt, 'h.0.attn.c_attn')).toBe(false);
    expect(isTargetModule(lt, 'h.1.attn.c_attn')).toBe(true);
  });

  it('handles the transformer. prefix (adapter trained on GPT2LMHeadModel)', () => {
    const src = readTensors(path.join(REF, 'gpt2/adapter', ADAPTER_WEIGHTS));
    const t: Record<string, TensorInput> = {};
    for (const [k, v] of src) t[k.replace('base_model.model.', 'base_model.model.transformer.')] = v;
    const dir = path.join(tmp, 'lm-adapter');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(REF, 'gpt2/adapter', ADAPTER_CONFIG), path.join(dir, ADAPTER_CONFIG));
    writeSafetensors(path.join(dir, ADAPTER_WEIGHTS), t);
    const a = readPeftAdapter(dir, { family: 'gpt2' });
    expect(a.modulePrefix).toBe('transformer.');
    expect([...a.modules.keys()][0]).toBe('h.0.attn.c_attn');
    validateAdapter(a, loadHfFolder(path.join(REF, 'gpt2')));
    const out = path.join(tmp, 'lm-adapter-rt');
    writePeftAdapter(out, a);
    expect(Buffer.compare(fs.readFileSync(path.join(dir, ADAPTER_WEIGHTS)), fs.readFileSync(path.join(out, ADAPTER_WEIGHTS)))).toBe(0);
  });

  describe('refusing bad adapters', () => {
    const mk = (name: string, cfg: Record<string, unknown> | null, mutate: (t: Record<string, TensorInput>) => void, from = 'gpt2') => {
      const dir = path.join(tmp, name);
      fs.mkdirSync(dir, { recursive: true });
      const base = JSON.parse(fs.readFileSync(path.join(REF, from, 'adapter', ADAPTER_CONFIG), 'utf8')) as Record<string, unknown>;
      fs.writeFileSync(path.join(dir, ADAPTER_CONFIG), JSON.stringify({ ...base, ...(cfg ?? {}) }));
      const t = Object.fromEntries(readTensors(path.join(REF, from, 'adapter', ADAPTER_WEIGHTS))) as Record<string, TensorInput>;
      mutate(t);
      writeSafetensors(path.join(dir, ADAPTER_WEIGHTS), t);
      return dir;
    };
    const expectErr = (fn: () => unknown, re: RegExp, tensor?: string) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(ModelFormatError);
        expect((e as Error).message).toMatch(re);
        if (tensor) expect((e as ModelFormatError).tensor).toBe(tensor);
        return;
      }
      throw new Error('expected an error');
    };
    const gpt2 = () => loadHfFolder(path.join(REF, 'gpt2'));

    it('lora_A without lora_B', () => {
      const dir = mk('noB', null, (t) => delete t['base_model.model.h.1.attn.c_proj.lora_B.weight']);
      expectErr(() => readPeftAdapter(dir), /lora_A without lora_B/, 'base_model.model.h.1.attn.c_proj.lora_A.weight');
    });
    it('rank disagrees with config', () => {
      const dir = mk('rank', { r: 8 }, () => {});
      expectErr(() => readPeftAdapter(dir), /rank 4, the config says r=8/);
    });
    it('shape does not fit the base weight', () => {
      const dir = mk('shape', null, (t) => {
        t['base_model.model.h.0.attn.c_attn.lora_B.weight'] = { dtype: 'F32', shape: [64, 4], data: new Float32Array(256) };
      });
      expectErr(
        () => validateAdapter(readPeftAdapter(dir), gpt2()),
        /does not fit base weight h.0.attn.c_attn.weight \[64, 192\]: expected \[192, 4\]/,
        'base_model.model.h.0.attn.c_attn.lora_B.weight',
      );
    });
    it('module that is not in the base model', () => {
      const dir = mk('nomod', null, (t) => {
        t['base_model.model.h.7.attn.c_attn.lora_A.weight'] = { dtype: 'F32', shape: [4, 64], data: new Float32Array(256) };
        t['base_model.model.h.7.attn.c_attn.lora_B.weight'] = { dtype: 'F32', shape: [192, 4], data: new Float32Array(768) };
      });
      expectErr(() => validateAdapter(readPeftAdapter(dir), gpt2()), /targets "h.7.attn.c_attn", which is not a weight/);
    });
    it('targeted module without weights is a warning', () => {
      const dir = mk('targeted', { target_modules: ['c_attn', 'c_proj', 'c_fc'] }, () => {});
      expect(validateAdapter(readPeftAdapter(dir), gpt2()).warnings[0]).toMatch(/h.0.mlp.c_fc.*no LoRA weights/);
    });
    it('DoRA and non-LoRA keys', () => {
      expectErr(() => readPeftAdapter(mk('dora', { use_dora: true }, () => {})), /DoRA/);
      const dir = mk('junk', null, (t) => {
        t['base_model.model.h.0.attn.c_attn.weight'] = { dtype: 'F32', shape: [1, 1], data: new Float32Array(1) };
      });
      expectErr(() => readPeftAdapter(dir), /not a LoRA weight/, 'base_model.model.h.0.attn.c_attn.weight');
    });
    it('unsupported peft_type, missing files', () => {
      expectErr(() => readPeftAdapter(mk('ia3', { peft_type: 'IA3' }, () => {})), /unsupported peft_type "IA3"/);
      expectErr(() => readPeftAdapter(path.join(tmp, 'nothing')), /missing adapter_config.json/);
    });
  });
});

describe('LoRA merge math', () => {
  it("Linear: x W'^T == x W^T + s (x A^T) B^T", () => {
    const r = rng(7);
    const [inF, outF, rank, s] = [5, 3, 2, 1.75];
    const W = randArr(outF * inF, r);
    const A = randArr(rank * inF, r);
    const B = randArr(outF * rank, r);
    const Wm = mergeLoraIntoWeight(W, A, B, s, false, { r: rank, inFeatures: inF, outFeatures: outF });
    const x = randArr(inF, r);
    for (let o = 0; o < outF; o++) {
      let base = 0;
      let merged = 0;
      for (let i = 0; i < inF; i++) {
        base += x[i]! * W[o * inF + i]!;
        merged += x[i]! * Wm[o * inF + i]!;
      }
      let lora = 0;
      for (let k = 0; k < rank; k++) {
        let ax = 0;
        for (let i = 0; i < inF; i++) ax += A[k * inF + i]! * x[i]!;
        lora += B[o * rank + k]! * ax;
      }
      expect(merged).toBeCloseTo(base + s * lora, 5);
    }
  });
  it("Conv1D (fan_in_fan_out): x W' == x W + s (x A^T) B^T with W [in, out]", () => {
    const r = rng(9);
    const [inF, outF, rank, s] = [4, 6, 3, 0.5];
    const W = randArr(inF * outF, r);
    const A = randArr(rank * inF, r);
    const B = randArr(outF * rank, r);
    const Wm = mergeLoraIntoWeight(W, A, B, s, true, { r: rank, inFeatures: inF, outFeatures: outF });
    const x = randArr(inF, r);
    for (let o = 0; o < outF; o++) {
      let base = 0;
      let merged = 0;
      for (let i = 0; i < inF; i++) {
        base += x[i]! * W[i * outF + o]!;
        merged += x[i]! * Wm[i * outF + o]!;
      }
      let lora = 0;
      for (let k = 0; k < rank; k++) {
        let ax = 0;
        for (let i = 0; i < inF; i++) ax += A[k * inF + i]! * x[i]!;
        lora += B[o * rank + k]! * ax;
      }
      expect(merged).toBeCloseTo(base + s * lora, 5);
    }
  });
  it('merges the fixture adapter into the fixture weights (zero B leaves W unchanged)', () => {
    const a = readPeftAdapter(path.join(REF, 'gpt2/adapter'));
    const base = loadHfFolder(path.join(REF, 'gpt2'));
    const m = a.modules.get('h.0.attn.c_attn')!;
    const ref = base.weights.get(m.baseWeight)!;
    const W = readWeightF32(ref);
    const merged = mergedWeight(m, W, ref.shape, true);
    expect(merged.length).toBe(W.length);
    let diff = 0;
    for (let i = 0; i < W.length; i++) diff = Math.max(diff, Math.abs(merged[i]! - W[i]!));
    expect(diff).toBeGreaterThan(0); // the fixture adapter has non-zero B
    const zeroB = { ...m, B: { dtype: 'F32' as const, shape: m.B.shape, data: new Float32Array(m.B.data.length) } };
    expect(mergedWeight(zeroB, W, ref.shape, true)).toEqual(W);
    expect(() =>
      mergeLoraIntoWeight(W, new Float32Array(3), new Float32Array(3), 1, true, { r: 4, inFeatures: 64, outFeatures: 192 }),
    ).toThrow(/A has 3 values/);
  });
});

describe('pyjson', () => {
  it('float repr and dumps match Python', () => {
    expect([0.1, 1e-5, 1e-4, 1e16, 100, 2.5e-7, 1e15].map(pyFloatRepr)).toEqual([
      '0.1',
      '1e-05',
      '0.0001',
      '1e+16',
      '100.0',
      '2.5e-07',
      '1000000000000000.0',
    ]);
    expect(pyDumps({ b: [1, new PyFloat(0)], a: 'é', c: {} }, { indent: 2, sortKeys: true })).toBe(
      '{\n  "a": "\\u00e9",\n  "b": [\n    1,\n    0.0\n  ],\n  "c": {}\n}',
    );
    expect(pyDumps({ b: [], a: null })).toBe('{"b": [], "a": null}');
    const v = pyLoads('{"x": 1.0, "y": 2, "z": 1e-05}') as Record<string, unknown>;
    expect(v.x).toBeInstanceOf(PyFloat);
    expect(v.y).toBe(2);
    expect(pyDumps(v as never)).toBe('{"x": 1.0, "y": 2, "z": 1e-05}');
  });
  it('writeHfFolder is available for adapters tests (sanity)', () => {
    expect(typeof writeHfFolder).toBe('function');
  });
});
