import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import * as ort from 'onnxruntime-node';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { Graph, emitOnnx, grad, IR_VERSION, OPSET } from '../../../../src/native/graph/index';
import { writeSafetensors, f32ToBf16 } from '../../../../src/native/formats/safetensors';
import { safetensorsWeightRefs } from '../../../../src/native/formats/hf-folder';
import { bindWeights } from '../../../../src/native/models/weights';

function mlp() {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 4]);
  const w = g.param('w', [4, 3], { trainable: true });
  const b = g.param('b', [3], { value: { kind: 'inline', bytes: new Uint8Array(Float32Array.from([1, 2, 3]).buffer) } });
  const unused = g.input('unused', 'float32', [2]);
  const y = x.matmul(w).add(b).gelu('tanh');
  const loss = y.mul(y).mean();
  const [gw] = grad(loss, [w]);
  return { g, x, y, loss, gw: gw!, unused };
}

describe('ONNX emission', () => {
  it('is deterministic: the same graph built twice gives identical bytes', () => {
    const hash = () => {
      const { g, loss, gw } = mlp();
      return createHash('sha256')
        .update(emitOnnx(g, { outputs: { loss, grad_w: gw } }).bytes)
        .digest('hex');
    };
    expect(hash()).toBe(hash());
  });
  it('emits only what the outputs need, feeds trainable params, inlines frozen ones', async () => {
    const { g, y, loss, gw } = mlp();
    const inference = emitOnnx(g, { outputs: { y } });
    expect(inference.inputs.map((i) => i.name)).toEqual(['x', 'w']);
    expect(inference.outputs).toEqual([{ name: 'y', dataType: 1, shape: ['batch', 3] }]);
    const step = emitOnnx(g, { outputs: { loss, grad_w: gw } });
    const s = await ort.InferenceSession.create(step.bytes);
    expect([...s.inputNames]).toEqual(['x', 'w']);
    const r = await s.run({
      x: new ort.Tensor('float32', new Float32Array(8).fill(0.5), [2, 4]),
      w: new ort.Tensor('float32', new Float32Array(12).fill(0.1), [4, 3]),
    });
    expect(r.grad_w!.dims).toEqual([4, 3]);
    expect(Number.isFinite(r.loss!.data[0] as number)).toBe(true);
    expect(() => emitOnnx(g, { outputs: { y: g.input('q', 'float32', ['nobody']).add(1) } })).not.toThrow();
  });
  it('writes ir_version 10 and a single default-domain opset 21', () => {
    expect([IR_VERSION, OPSET]).toEqual([10, 21]);
    const { g, y } = mlp();
    const bytes = emitOnnx(g, { outputs: { y } }).bytes;
    expect(bytes[0]).toBe(0x08); // field 1 (ir_version), varint
    expect(bytes[1]).toBe(10);
    expect(Buffer.from(bytes).includes(Buffer.from('com.microsoft'))).toBe(false);
  });
  it('aliases leaves and repeated tensors as outputs through Identity', async () => {
    const g = new Graph();
    const x = g.input('x', 'float64', [2]);
    const y = x.exp();
    const s = await ort.InferenceSession.create(emitOnnx(g, { outputs: { a: y, b: y, c: x } }).bytes);
    const r = await s.run({ x: new ort.Tensor('float64', Float64Array.from([0, 1]), [2]) });
    expect(Array.from(r.b!.data as Float64Array)).toEqual(Array.from(r.a!.data as Float64Array));
    expect(Array.from(r.c!.data as Float64Array)).toEqual([0, 1]);
  });
});

describe('frozen weights as external data inside the model .safetensors', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-ext-'));
    fs.mkdirSync(path.join(dir, 'outside'));
    fs.mkdirSync(path.join(dir, 'model'));
    const w = Float32Array.from({ length: 12 }, (_, i) => i / 10);
    const bias = Float32Array.from([0.5, -1, 2]);
    writeSafetensors(path.join(dir, 'model', 'model.safetensors'), {
      'h.0.w': { dtype: 'F32', shape: [4, 3], data: w },
      'h.0.b': { dtype: 'BF16', shape: [3], data: f32ToBf16(bias) },
    });
    fs.copyFileSync(path.join(dir, 'model', 'model.safetensors'), path.join(dir, 'outside', 'model.safetensors'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  // The engine's one way to bind weights (models/weights.ts): the .onnx goes into the cache folder,
  // weight files are hard-linked under it.
  const bind = (file: string, cacheDir: string, names?: string[]) =>
    bindWeights(
      safetensorsWeightRefs(file).filter((r) => !names || names.includes(r.name)),
      { cacheDir, halfWeights: 'convert' },
    );
  it('F32 points into the file in place; BF16 is converted once into a side file; ORT loads both', async () => {
    const cacheDir = path.join(dir, 'cache');
    const bound = bind(path.join(dir, 'model', 'model.safetensors'), cacheDir);
    const vw = bound.source.value('h.0.w');
    expect(vw).toMatchObject({ kind: 'external', location: expect.stringMatching(/^weights\/[0-9a-f]{32}\.safetensors$/), length: 48 });
    const vb = bound.source.value('h.0.b');
    expect(vb).toMatchObject({ kind: 'external', location: `weights/${path.basename(bound.converted!)}`, offset: 0, length: 12 });
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 4]);
    const w = g.param('h.0.w', [4, 3], { value: vw });
    const b = g.param('h.0.b', [3], { value: vb });
    const file = path.join(cacheDir, 'forward.onnx');
    fs.writeFileSync(file, emitOnnx(g, { outputs: { y: x.matmul(w).add(b) } }).bytes);
    const s = await ort.InferenceSession.create(file);
    expect([...s.inputNames]).toEqual(['x']);
    const y = (await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 0, 0, 1]), [1, 4]) })).y!.data as Float32Array;
    // row 0 + row 3 of w, plus bias (bf16 of 0.5,-1,2 is exact)
    expect(Array.from(y).map((v) => +v.toFixed(5))).toEqual([0 + 0.9 + 0.5, 0.1 + 1.0 - 1, 0.2 + 1.1 + 2].map((v) => +v.toFixed(5)));
  });
  it('a weight file outside the cache folder is hard-linked into it (a location ORT accepts)', () => {
    const cacheDir = path.join(dir, 'cache');
    const outside = path.join(dir, 'outside', 'model.safetensors');
    const v = bind(outside, cacheDir, ['h.0.w']).source.value('h.0.w');
    if (v.kind !== 'external') throw new Error('expected external data');
    expect(v.location.startsWith('weights/')).toBe(true);
    expect(fs.statSync(path.join(cacheDir, v.location)).ino).toBe(fs.statSync(outside).ino);
  });
  it('ORT facts: rejects ../ locations and cannot load external data from bytes', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    const w = g.param('w', [3], { value: { kind: 'external', location: '../outside/model.safetensors', offset: 0, length: 12 } });
    const bytes = emitOnnx(g, { outputs: { y: x.add(w) } }).bytes;
    const file = path.join(dir, 'model', 'escape.onnx');
    fs.writeFileSync(file, bytes);
    await expect(ort.InferenceSession.create(file)).rejects.toThrow(/escapes model directory/);
    await expect(ort.InferenceSession.create(bytes)).rejects.toThrow();
  });
  it('gradient graphs work with external frozen weights (LoRA-style: frozen W, trainable A)', async () => {
    const cacheDir = path.join(dir, 'cache');
    const bound = bind(path.join(dir, 'model', 'model.safetensors'), cacheDir, ['h.0.w']);
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 4]);
    const w = g.param('h.0.w', [4, 3], { value: bound.source.value('h.0.w') });
    const a = g.param('lora_a', [4, 1], { trainable: true });
    const loss = x.matmul(w).add(x.matmul(a)).sum();
    const [ga] = grad(loss, [a]);
    expect(() => grad(loss, [w])).toThrow(/frozen/);
    const file = path.join(cacheDir, 'train_step.onnx');
    fs.writeFileSync(file, emitOnnx(g, { outputs: { loss, grad_lora_a: ga! } }).bytes);
    const s = await ort.InferenceSession.create(file);
    const r = await s.run({
      x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4, 1, 1, 1, 1]), [2, 4]),
      lora_a: new ort.Tensor('float32', new Float32Array(4), [4, 1]),
    });
    // x A [batch,1] broadcasts over the 3 output columns: d/dA = 3 * column sums of x
    expect(Array.from(r.grad_lora_a!.data as Float32Array)).toEqual([6, 9, 12, 15]);
  });
});
