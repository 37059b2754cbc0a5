import { describe, expect, it } from 'vitest';
import { ort } from '../../../../src/native/runtime/ort';
import {
  cudaBinaryStatus,
  ExecutionProviderUnavailableError,
  executionProvidersFor,
  parseProviderChoice,
  probeCuda,
  resolveExecutionProvider,
} from '../../../../src/native/runtime/providers';
import { PROBE_MODEL_BASE64, probeModelBytes } from '../../../../src/native/runtime/probe-model';
import { DataType, encodeModel } from './helpers/onnx-min';

// This machine has no GPU and the CUDA EP binaries are not installed (postinstall skipped). On a
// machine where they are, the CPU-only expectations below do not apply.
const cudaInstalled = cudaBinaryStatus().files.every((f) => f.present);

describe('parseProviderChoice', () => {
  it('accepts auto, cpu, webgpu and cuda:N', () => {
    expect(parseProviderChoice('auto')).toBe('auto');
    expect(parseProviderChoice('CPU')).toBe('cpu');
    expect(parseProviderChoice('WebGPU')).toBe('webgpu');
    expect(parseProviderChoice('cuda')).toBe('cuda:0');
    expect(parseProviderChoice('cuda:3')).toBe('cuda:3');
  });
  it('rejects anything else with the accepted forms', () => {
    expect(() => parseProviderChoice('metal')).toThrow(/auto, cpu, webgpu or cuda:N/);
    expect(() => parseProviderChoice('cuda:-1')).toThrow(/auto, cpu, webgpu or cuda:N/);
  });
});

describe('executionProvidersFor', () => {
  it('maps to ORT execution provider configs', () => {
    expect(executionProvidersFor({ name: 'cpu', choice: 'cpu' })).toEqual(['cpu']);
    expect(executionProvidersFor({ name: 'cuda', deviceId: 1, choice: 'cuda:1' })).toEqual([{ name: 'cuda', deviceId: 1 }]);
    expect(executionProvidersFor({ name: 'webgpu', choice: 'webgpu' })).toEqual(['webgpu']);
  });
});

describe.skipIf(cudaInstalled)('execution provider resolution on a CPU-only machine', () => {
  it('reports CUDA compiled in but not bundled (linux/x64 1.30)', () => {
    if (process.platform !== 'linux' || process.arch !== 'x64') return;
    expect(ort.listSupportedBackends()).toContainEqual({ name: 'cuda', bundled: false });
    expect(cudaBinaryStatus().files.map((f) => f.present)).toEqual([false, false]);
  });

  it('auto falls back to CPU and records why', async () => {
    const p = await resolveExecutionProvider('auto');
    expect(p.name).toBe('cpu');
    expect(p.choice).toBe('auto');
    expect(p.name === 'cpu' && p.fallbackReason).toMatch(/CUDA unavailable: .*not installed.*gpu:install/);
  });

  it('explicit cpu has no fallback reason', async () => {
    expect(await resolveExecutionProvider('cpu')).toEqual({ name: 'cpu', choice: 'cpu' });
  });

  it('explicit cuda:0 fails with a clear error', async () => {
    const err = await resolveExecutionProvider('cuda:0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecutionProviderUnavailableError);
    expect((err as Error).message).toMatch(/^Execution provider cuda:0 is not available: CUDA EP binaries not installed/);
    expect((err as ExecutionProviderUnavailableError).provider).toBe('cuda:0');
  });

  it('a forced load attempt surfaces the ORT error message', async () => {
    // Prints ORT's own error lines to stderr; that is ORT's process-wide logger, not a failure.
    const reason = await probeCuda(0, { forceLoad: true });
    expect(reason).toMatch(/OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library/);
  });
});

describe('probe model', () => {
  it('is the helper-generated Identity model and runs on CPU', async () => {
    const expected = encodeModel({
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
      inputs: [{ name: 'x', type: DataType.FLOAT, shape: [1] }],
      outputs: [{ name: 'y', type: DataType.FLOAT, shape: [1] }],
    });
    expect(Buffer.from(expected).toString('base64')).toBe(PROBE_MODEL_BASE64);
    const s = await ort.InferenceSession.create(probeModelBytes());
    const out = await s.run({ x: new ort.Tensor('float32', new Float32Array([4.5]), [1]) });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([4.5]);
    await s.release();
  });
});
