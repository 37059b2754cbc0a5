// What onnxruntime-node 1.30 allows with tensors on the device (docs/engine.md#device-resident-training-state),
// probed on real sessions: outputs kept as 'gpu-buffer' tensors, fed to other sessions without a host
// copy, per-output locations, the refusal of a fetch subset, dispose, and the CPU provider ignoring it.
// Not probed here: getData() on a device tensor, whose native download aborts the process.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitOnnx, Graph } from '../../../../src/native/graph/index';
import { ort, type OrtSessionOptions } from '../../../../src/native/runtime/ort';
import { probeWebgpu } from '../../../../src/native/runtime/providers';
import { toOrtSessionOptions } from '../../../../src/native/runtime/session-options';

const noWebgpu = await probeWebgpu();
let model: string;
beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-gpu-buffer-'));
  const g = new Graph();
  const x = g.input('x', 'float32', [4]);
  model = path.join(dir, 'double.onnx');
  fs.writeFileSync(model, emitOnnx(g, { outputs: { y: x.mul(2), s: x.sum() }, name: 'double', target: 'webgpu' }).bytes);
});
afterAll(() => fs.rmSync(path.dirname(model), { recursive: true, force: true }));

const x4 = () => new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4), [4]);

describe('device tensors in onnxruntime-node 1.30', () => {
  it('deviceOutputs become preferredOutputLocation only on WebGPU, and the CPU provider ignores gpu-buffer', async () => {
    expect(toOrtSessionOptions({ deviceOutputs: ['y'] }).preferredOutputLocation).toBeUndefined();
    const webgpu = toOrtSessionOptions({ deviceOutputs: ['y'], provider: { name: 'webgpu', choice: 'webgpu' } });
    expect(webgpu.preferredOutputLocation).toEqual({ y: 'gpu-buffer' });
    const cpu = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], preferredOutputLocation: { y: 'gpu-buffer' } });
    const out = await cpu.run({ x: x4() });
    expect(out.y!.location).toBe('cpu');
    expect(Array.from(out.y!.data as Float32Array)).toEqual([2, 4, 6, 8]);
    await cpu.release();
  });

  it.skipIf(noWebgpu !== undefined)(
    `WebGPU: an output kept on the device feeds other sessions without a host copy; subsets and disposed tensors are refused${noWebgpu ? ` (skipped: ${noWebgpu})` : ''}`,
    async () => {
      const opts: OrtSessionOptions = { executionProviders: ['webgpu'], preferredOutputLocation: { y: 'gpu-buffer', s: 'cpu' } };
      const a = await ort.InferenceSession.create(model, opts);
      const b = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'] });
      const out = await a.run({ x: x4() });
      expect(out.y!.location).toBe('gpu-buffer');
      expect(out.s!.location).toBe('cpu');
      expect(out.s!.data).toEqual(Float32Array.of(10));
      expect(() => out.y!.data).toThrow(/not on CPU/);
      const again = await a.run({ x: out.y! }); // the same session, its own output
      const host = await b.run({ x: again.y! }); // another session, host outputs
      expect(Array.from(host.y!.data as Float32Array)).toEqual([8, 16, 24, 32]);
      expect(host.s!.data).toEqual(Float32Array.of(40));
      await expect(a.run({ x: x4() }, ['s'])).rejects.toThrow(/Output count mismatch/);
      out.y!.dispose();
      await expect(b.run({ x: out.y! })).rejects.toThrow(/Tensor.location is not supported/);
      again.y!.dispose();
      await a.release();
      await b.release();
    },
  );
});
