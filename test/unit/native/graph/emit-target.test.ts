// Emission for the WebGPU execution provider: ops its EP has no kernel for are emitted as ops it
// has; the CPU form is left exactly as it was.
import { describe, expect, it } from 'vitest';
import { emitOnnx, Graph } from '../../../../src/native/graph/index';
import { ort } from '../../../../src/native/runtime/ort';
import { probeWebgpu } from '../../../../src/native/runtime/providers';
import { SessionCache } from '../../../../src/native/runtime/session-cache';

const noWebgpu = await probeWebgpu();

function logSoftmaxModel(target: 'cpu' | 'webgpu'): Uint8Array {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 5]);
  return emitOnnx(g, { outputs: { y: x.logSoftmax(-1) }, target }).bytes;
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');
const x = Float32Array.from({ length: 15 }, (_, i) => Math.sin(i * 1.7) * (i % 4 === 0 ? 30 : 2));
const feed = () => ({ x: new ort.Tensor('float32', x.slice(), [3, 5]) });

describe('emission target', () => {
  it('LogSoftmax: one node for the CPU (unchanged), max-shifted ReduceMax/Exp/ReduceSum/Log for WebGPU, same values', async () => {
    const cpu = logSoftmaxModel('cpu');
    const webgpu = logSoftmaxModel('webgpu');
    const g = new Graph();
    const x0 = g.input('x', 'float32', ['batch', 5]);
    expect(Buffer.from(emitOnnx(g, { outputs: { y: x0.logSoftmax(-1) } }).bytes).equals(Buffer.from(cpu))).toBe(true); // default = cpu
    expect(text(cpu)).toContain('LogSoftmax');
    expect(text(webgpu)).not.toContain('LogSoftmax');
    for (const op of ['ReduceMax', 'Exp', 'ReduceSum', 'Log']) expect(text(webgpu)).toContain(op);
    const a = await ort.InferenceSession.create(cpu);
    const b = await ort.InferenceSession.create(webgpu);
    const ya = (await a.run(feed())).y!.data as Float32Array;
    const yb = (await b.run(feed())).y!.data as Float32Array;
    for (let i = 0; i < ya.length; i++) expect(Math.abs(ya[i]! - yb[i]!)).toBeLessThan(1e-5);
  });

  it.skipIf(noWebgpu !== undefined)(
    `the WebGPU form runs with every node on WebGPU${noWebgpu ? ` (skipped: ${noWebgpu})` : ''}, the CPU form does not`,
    async () => {
      const cache = new SessionCache();
      const provider = { name: 'webgpu' as const, choice: 'webgpu' as const };
      const gpu = await cache.acquire({ bytes: logSoftmaxModel('webgpu') }, { provider });
      expect(gpu.entry.placement.allNodesOnProvider).toBe(true);
      const cpuForm = await cache.acquire({ bytes: logSoftmaxModel('cpu') }, { provider });
      expect(cpuForm.entry.placement.allNodesOnProvider).toBe(false);
      const y = (await gpu.entry.session.run(feed())).y!.data as Float32Array;
      const want = (await cpuForm.entry.session.run(feed())).y!.data as Float32Array;
      for (let i = 0; i < y.length; i++) expect(Math.abs(y[i]! - want[i]!)).toBeLessThan(1e-5);
      await cache.clear();
    },
  );
});
