// The device part of a run record: per graph the provider, whether every node ran on it, and
// whether that provider repeats its bits; and the recorder that collects it from inference sessions.
import { describe, expect, it } from 'vitest';
import { DeviceRunRecord } from '../../../../src/common/device';
import { deviceRecord, providerDeterminism } from '../../../../src/native/runtime/device-record';
import { DeviceRecorder } from '../../../../src/native/runtime/device-recorder';
import { inProcessEngine } from '../../../../src/native/models/embed';
import { probeModelBytes } from '../../../../src/native/runtime/probe-model';
import { DataType, encodeModel } from './helpers/onnx-min';

/** An Identity graph whose input is `name` (what the recorder names a session by). */
const identity = (name: string) =>
  encodeModel({
    nodes: [{ op: 'Identity', inputs: [name], outputs: ['y'] }],
    inputs: [{ name, type: DataType.FLOAT, shape: [1] }],
    outputs: [{ name: 'y', type: DataType.FLOAT, shape: [1] }],
  });

describe('providerDeterminism', () => {
  it('CPU: yes, for the same thread count', () => {
    expect(providerDeterminism('cpu', 2)).toEqual({
      deterministic: true,
      determinism: expect.stringMatching(/same thread count \(2 threads\)/),
    });
    expect(providerDeterminism('cpu').determinism).toMatch(/one per physical core/);
  });
  it('WebGPU: not guaranteed; CUDA: not by default', () => {
    expect(providerDeterminism('webgpu')).toMatchObject({ deterministic: false, determinism: expect.stringMatching(/^not guaranteed/) });
    expect(providerDeterminism('cuda:0')).toMatchObject({ deterministic: false, determinism: expect.stringMatching(/^not by default/) });
  });
});

describe('deviceRecord', () => {
  it('states per graph provider, placement and determinism, and why the provider', () => {
    const r = deviceRecord(
      { name: 'cpu', choice: 'auto', fallbackReason: 'CUDA unavailable: x; WebGPU not used: y' },
      { forward: { provider: 'cpu', allNodesOnProvider: true }, train_step: { provider: 'cpu', allNodesOnProvider: true } },
      1,
    );
    expect(DeviceRunRecord.parse(r)).toEqual(r);
    expect(r).toMatchObject({ requested: 'auto', provider: 'cpu', reason: 'auto: CUDA unavailable: x; WebGPU not used: y' });
    expect(r.graphs.forward).toMatchObject({ provider: 'cpu', allNodesOnProvider: true, deterministic: true });
    const w = deviceRecord({ name: 'webgpu', choice: 'webgpu' }, { forward: { provider: 'webgpu', allNodesOnProvider: false } });
    expect(w.reason).toBe('requested explicitly (--device webgpu)');
    expect(w.graphs.forward).toMatchObject({ allNodesOnProvider: false, deterministic: false });
  });
});

describe('DeviceRecorder', () => {
  it('names each session by the graph it was created for; null when nothing ran', async () => {
    const rec = new DeviceRecorder(inProcessEngine);
    expect(rec.record()).toBeNull();
    const engine = rec.engine('image_encoder');
    const provider = await engine.resolveProvider('cpu');
    await engine.createSession({ bytes: probeModelBytes() }, { provider, intraOpNumThreads: 1 });
    const r = rec.record()!;
    expect(r).toMatchObject({ requested: 'cpu', provider: 'cpu', reason: 'requested explicitly (--device cpu)' });
    expect(r.graphs).toEqual({
      image_encoder: { provider: 'cpu', allNodesOnProvider: true, deterministic: true, determinism: expect.stringMatching(/\(1 thread\)/) },
    });
    // a training's record leads; the inference graphs join it
    rec.addTraining(deviceRecord({ name: 'cpu', choice: 'auto' }, { forward: { provider: 'cpu', allNodesOnProvider: true } }));
    expect(Object.keys(rec.record()!.graphs).sort()).toEqual(['forward', 'image_encoder']);
    expect(rec.record()!.requested).toBe('auto');
  });
});

describe('DeviceRecorder without graph names', () => {
  it('names each session by its inputs', async () => {
    const rec = new DeviceRecorder(inProcessEngine);
    const engine = rec.engine();
    const provider = await engine.resolveProvider('cpu');
    for (const input of ['pixel_values', 'ctx', 'input_ids']) await engine.createSession({ bytes: identity(input) }, { provider });
    expect(Object.keys(rec.record()!.graphs).sort()).toEqual(['image_encoder', 'prompt_encoder', 'text_encoder']);
  });
});

describe('DeviceRecorder passes the kept-session policy through', () => {
  it('configureCache on a recorded engine sets the in-process engine (the Settings reach jobs that record)', async () => {
    const policy = { idleMs: 123_000, budgetBytes: 0 };
    const recorded = new DeviceRecorder(inProcessEngine).engine('text_encoder');
    let seen: { idleMs?: number } | null = null;
    const base = { ...(await inProcessEngine()) };
    const spy = new DeviceRecorder(async () => ({
      ...base,
      configureCache: async (p: typeof policy) => {
        seen = p;
        return base.configureCache(p);
      },
    })).engine();
    expect(await recorded.configureCache!(policy)).toMatchObject({ evictions: expect.any(Number) });
    await spy.configureCache!(policy);
    expect(seen).toEqual(policy);
  });
});
