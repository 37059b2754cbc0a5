import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { checkGradients } from './harness';
import { Graph, emitOnnx, grad, ops } from '../../../../src/native/graph/index';

describe('autodiff semantics', () => {
  it('accumulates fan-out (x used by four consumers), float64 FD', async () => {
    const rep = await checkGradients({
      dtype: 'float64',
      build: (g) => {
        const x = g.input('x', 'float64', [3, 4]);
        return { wrt: [x], out: x.mul(x).add(x.exp()).add(x.matmul(x.transpose()).sum(1, true)) };
      },
    });
    expect(rep.failures, rep.worst).toEqual([]);
  });
  it('stopGradient blocks the path it wraps', async () => {
    const g = new Graph();
    const x = g.input('x', 'float64', [3]);
    const loss = x.mul(x.stopGradient()).sum();
    const [gx] = grad(loss, [x]);
    const s = await ort.InferenceSession.create(emitOnnx(g, { outputs: { gx: gx! } }).bytes);
    const r = await s.run({ x: new ort.Tensor('float64', Float64Array.from([1, -2, 3]), [3]) });
    expect(Array.from(r.gx!.data as Float64Array)).toEqual([1, -2, 3]); // not 2x
  });
  it('differentiates only paths from wrt to the loss (frozen embedding gets no scatter-add)', () => {
    const g = new Graph();
    const ids = g.input('ids', 'int64', ['batch']);
    const wte = g.param('wte', [10, 4], { trainable: false });
    const head = g.param('head', [4, 2], { trainable: true });
    const loss = wte.gather(ids).matmul(head).sum();
    const [gh] = grad(loss, [head]);
    const bytes = Buffer.from(emitOnnx(g, { outputs: { gh: gh! } }).bytes);
    expect(bytes.includes(Buffer.from('ScatterND'))).toBe(false);
    expect(bytes.includes(Buffer.from('Gather'))).toBe(true);
  });
  it('returns zeros for a wrt tensor that does not reach the loss', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2]);
    const p = g.param('p', [3], { trainable: true });
    const [gp] = grad(x.sum(), [p]);
    const s = await ort.InferenceSession.create(emitOnnx(g, { outputs: { gp: gp! } }).bytes);
    expect(Array.from((await s.run({})).gp!.data as Float32Array)).toEqual([0, 0, 0]);
  });
  it('refuses frozen params, constants, non-scalar losses', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2]);
    const w = g.param('w', [2]);
    const c = g.constant([1, 2], 'float32', [2]);
    expect(() => grad(x.mul(w).sum(), [w])).toThrow("parameter 'w' is frozen");
    expect(() => grad(x.mul(c).sum(), [c])).toThrow(/constant/);
    expect(() => grad(x.mul(c), [x])).toThrow(/scalar/);
  });
  it('differentiates with respect to an intermediate tensor', async () => {
    const rep = await checkGradients({
      dtype: 'float64',
      build: (g) => {
        const x = g.input('x', 'float64', [2, 3]);
        return { wrt: [x], out: ops.softmax(x.tanh(), -1) };
      },
    });
    expect(rep.failures).toEqual([]);
    const g = new Graph();
    const x = g.input('x', 'float64', [2]);
    const h = x.exp();
    const [gh] = grad(h.mul(h).sum(), [h]);
    const s = await ort.InferenceSession.create(emitOnnx(g, { outputs: { gh: gh! } }).bytes);
    const r = await s.run({ x: new ort.Tensor('float64', Float64Array.from([0, 1]), [2]) });
    const [g0, g1] = Array.from(r.gh!.data as Float64Array);
    expect(g0).toBe(2);
    expect(g1).toBeCloseTo(2 * Math.E, 12); // d sum(h^2)/dh = 2h, with h = exp(x)
  });
});
