// Static-shape emission (EmitOptions.dims) and int32 index arithmetic (ops.indexToInt32): what makes
// every graph run on the WebGPU EP, which has no kernels for run-time shape arithmetic or for ops on
// int64 inputs (docs/engine.md#webgpu-coverage). Values must equal the symbolic CPU form.
import { describe, expect, it } from 'vitest';
import { bindDim, dimsFromShapes, emitOnnx, grad, Graph, ops } from '../../../../src/native/graph/index';
import { ort } from '../../../../src/native/runtime/ort';
import { probeWebgpu } from '../../../../src/native/runtime/providers';
import { SessionCache } from '../../../../src/native/runtime/session-cache';

const noWebgpu = await probeWebgpu();
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');
/** Whether a node of this op type is in the model (NodeProto.op_type: tag 0x22, then the length). */
const hasOp = (bytes: Uint8Array, op: string) => text(bytes).includes(`\x22${String.fromCharCode(op.length)}${op}`);

/** Causal attention-like scores, an arange, a mean and a two-dim reshape over symbolic batch and seq, with a gradient. */
function model() {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 'seq', 4]);
  const w = g.param('w', [4, 4], { trainable: true });
  const h = x.matmul(w);
  const scores = ops.where(ops.causalMask(g, 'seq'), h.matmul(h.transpose()), -1e9).softmax(-1); // [b, s, s]
  const pos = ops.cast(ops.arange(g, 'seq'), 'float32'); // [s]
  const y = scores.matmul(h).add(pos.unsqueeze(-1)).reshape([-1, 4]).reshape(['batch', 'seq', 4]);
  const loss = y.mul(y).mean();
  const [gw] = grad(loss, [w]);
  return { g, outputs: { y, loss, grad_w: gw! } };
}

const feeds = () => {
  const x = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.sin(i * 0.7));
  const w = Float32Array.from({ length: 16 }, (_, i) => Math.cos(i * 0.3) * 0.5);
  return { x: new ort.Tensor('float32', x, [2, 3, 4]), w: new ort.Tensor('float32', w, [4, 4]) };
};

describe('static-shape emission', () => {
  it('binds symbolic dims: static input shapes, no Shape node, the same values as the symbolic graph', async () => {
    const a = model();
    const symbolic = emitOnnx(a.g, { outputs: a.outputs });
    const b = model();
    const fixed = emitOnnx(b.g, { outputs: b.outputs, dims: { batch: 2, seq: 3 } });
    expect(hasOp(symbolic.bytes, 'Shape')).toBe(true);
    expect(hasOp(fixed.bytes, 'Shape')).toBe(false);
    expect(fixed.inputs.find((i) => i.name === 'x')!.shape).toEqual([2, 3, 4]);
    expect(fixed.outputs.find((o) => o.name === 'y')!.shape).toEqual([2, 3, 4]);
    const ra = await (await ort.InferenceSession.create(symbolic.bytes)).run(feeds());
    const rb = await (await ort.InferenceSession.create(fixed.bytes)).run(feeds());
    for (const k of ['y', 'loss', 'grad_w'])
      expect(Array.from(rb[k]!.data as Float32Array)).toEqual(Array.from(ra[k]!.data as Float32Array));
  });

  it('bindDim evaluates expressions whose symbols are all given, and leaves the others symbolic', () => {
    expect(bindDim('n_ctx+seq', { n_ctx: 4, seq: 5 })).toBe(9);
    expect(bindDim('batch*seq-1', { batch: 2, seq: 5 })).toBe(9);
    expect(bindDim('batch*seq', { batch: 2 })).toBe('batch*seq');
    expect(bindDim(7, undefined)).toBe(7);
  });

  it('dimsFromShapes reads the sizes from fed shapes and names the input whose size conflicts', () => {
    const g = new Graph();
    g.input('ids', 'int64', ['batch', 'seq']);
    g.input('lengths', 'int64', ['batch']);
    expect(dimsFromShapes(g, { ids: [8, 12], lengths: [8] })).toEqual({ batch: 8, seq: 12 });
    expect(() => dimsFromShapes(g, { ids: [8, 12], lengths: [7] })).toThrow(
      "input 'lengths': dim 'batch' is 7 here and 8 in another input",
    );
  });
});

describe('indexToInt32', () => {
  function indexModel(target: 'cpu' | 'webgpu') {
    const g = new Graph();
    const idx = g.input('idx', 'int64', [5]);
    const x = g.input('x', 'float32', [5, 6]);
    const i32 = ops.indexToInt32(idx, 7); // values 1..6
    const picked = x.gatherElements(i32.add(-1).unsqueeze(-1), 1); // x[r, idx[r] - 1]
    return emitOnnx(g, { outputs: { picked, i32 }, target }).bytes;
  }
  const run = async (bytes: Uint8Array, session?: Awaited<ReturnType<typeof ort.InferenceSession.create>>) => {
    const s = session ?? (await ort.InferenceSession.create(bytes));
    const x = Float32Array.from({ length: 30 }, (_, i) => i);
    return s.run({
      idx: new ort.Tensor('int64', BigInt64Array.from([1n, 6n, 3n, 2n, 5n]), [5]),
      x: new ort.Tensor('float32', x, [5, 6]),
    });
  };

  it('CPU: a Cast; WebGPU form: a Gather from an int32 table; the same int32 values and index arithmetic', async () => {
    const cpu = indexModel('cpu');
    const gpu = indexModel('webgpu');
    expect(hasOp(cpu, 'Cast')).toBe(true);
    expect(hasOp(gpu, 'Cast')).toBe(false);
    expect(hasOp(gpu, 'Gather')).toBe(true);
    for (const bytes of [cpu, gpu]) {
      const r = await run(bytes);
      expect(Array.from(r.i32!.data as Int32Array)).toEqual([1, 6, 3, 2, 5]);
      expect(Array.from(r.picked!.data as Float32Array)).toEqual([0, 11, 14, 19, 28]);
    }
  });

  it('the WebGPU form needs a static bound', () => {
    const g = new Graph();
    const idx = g.input('idx', 'int64', ['batch']);
    const out = ops.indexToInt32(idx, 'seq');
    expect(() => emitOnnx(g, { outputs: { out }, target: 'webgpu' })).toThrow(/static bound/);
    expect(() => emitOnnx(g, { outputs: { out }, target: 'webgpu', dims: { seq: 4 } })).not.toThrow();
  });

  it.skipIf(noWebgpu !== undefined)(
    `runs with every node on WebGPU, where the int64 input's arithmetic in the CPU form does not${noWebgpu ? ` (skipped: ${noWebgpu})` : ''}`,
    async () => {
      const cache = new SessionCache();
      const provider = { name: 'webgpu' as const, choice: 'webgpu' as const };
      const gpu = await cache.acquire({ bytes: indexModel('webgpu') }, { provider });
      expect(gpu.entry.placement.allNodesOnProvider).toBe(true);
      const cpuForm = await cache.acquire({ bytes: indexModel('cpu') }, { provider });
      expect(cpuForm.entry.placement.allNodesOnProvider).toBe(false);
      const r = await run(new Uint8Array(), gpu.entry.session);
      expect(Array.from(r.picked!.data as Float32Array)).toEqual([0, 11, 14, 19, 28]);
      await cache.clear();
    },
  );
});
