// The WebGPU execution provider: probing, adapter listing, `auto`'s choice, and per-session node
// placement. Runs where a WebGPU adapter exists (here: Mesa 25's lavapipe from bookworm-backports,
// see .ci/run) and skips with the reason elsewhere.
import { describe, expect, it } from 'vitest';
import { ort } from '../../../../src/native/runtime/ort';
import { probeWebgpu, resolveExecutionProvider, softwareOnlyWebgpu, cudaBinaryStatus } from '../../../../src/native/runtime/providers';
import { SessionCache } from '../../../../src/native/runtime/session-cache';
import { deviceRecord, providerReason } from '../../../../src/native/runtime/device-record';
import { listWebgpuAdapters, parseDeviceSelectList } from '../../../../src/native/runtime/webgpu-adapters';
import { collectDoctorReport, formatDoctorReport } from '../../../../src/native/runtime/doctor';
import { DataType, encodeModel } from './helpers/onnx-min';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliOutcome } from '../../../helpers/cli';

const noWebgpu = await probeWebgpu();
const cudaInstalled = cudaBinaryStatus().files.every((f) => f.present);

describe('parseDeviceSelectList', () => {
  it("reads Mesa's device-select listing", () => {
    const text = [
      'selectable devices:',
      '  GPU 0: 10005:0 "llvmpipe (LLVM 15.0.6, 256 bits)" CPU',
      '  GPU 1: 10de:2684 "NVIDIA GeForce RTX 4090" discrete GPU',
    ].join('\n');
    expect(parseDeviceSelectList(text)).toEqual([
      {
        name: 'llvmpipe (LLVM 15.0.6, 256 bits)',
        vendor: 'Mesa (software)',
        backend: 'vulkan',
        type: 'CPU',
        maxBufferSize: null,
        maxStorageBufferBindingSize: null,
      },
      {
        name: 'NVIDIA GeForce RTX 4090',
        vendor: 'NVIDIA',
        backend: 'vulkan',
        type: 'discrete GPU',
        maxBufferSize: null,
        maxStorageBufferBindingSize: null,
      },
    ]);
    expect(parseDeviceSelectList('nothing here')).toEqual([]);
  });
});

describe('--device on the command line', () => {
  it('refuses an unknown device with the accepted forms, before doing anything', () => {
    const out = path.join(os.tmpdir(), `cleft-no-demo-${process.pid}`);
    const r = cliOutcome(['demo', '--quick', '--device', 'metal', '--output', out]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Unknown execution provider "metal": use auto, cpu, webgpu or cuda:N/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('cleft doctor --json always has the WebGPU section, with or without an adapter', () => {
    const r = cliOutcome(['doctor', '--json', '--no-worker']);
    const report = JSON.parse(r.stdout) as {
      webgpu: {
        bundled: boolean;
        backend: string;
        probe: { ran: boolean; reason?: string };
        adapters: unknown[];
        source: string;
        limitsReason: string;
      };
    };
    expect(typeof report.webgpu.probe.ran).toBe('boolean');
    expect(report.webgpu.probe.ran || typeof report.webgpu.probe.reason === 'string').toBe(true);
    expect(report.webgpu.backend).toMatch(/^(vulkan|metal|d3d12)$/);
    expect(Array.isArray(report.webgpu.adapters)).toBe(true);
    expect(report.webgpu.limitsReason.length).toBeGreaterThan(0);
  });
});

describe('providerReason', () => {
  it('says why a provider was used', () => {
    expect(providerReason({ name: 'webgpu', choice: 'webgpu' })).toBe('requested explicitly (--device webgpu)');
    expect(providerReason({ name: 'cpu', choice: 'auto', fallbackReason: 'CUDA unavailable: x; WebGPU not used: y' })).toBe(
      'auto: CUDA unavailable: x; WebGPU not used: y',
    );
    expect(deviceRecord({ name: 'cuda', deviceId: 1, choice: 'auto' }, {})).toEqual({
      requested: 'auto',
      provider: 'cuda:1',
      reason: 'auto: CUDA loads (first choice)',
      graphs: {},
    });
  });
});

// A LogSoftmax has no kernel in the WebGPU EP of onnxruntime-node 1.30 (measured: ORT places it on
// the CPU EP), an Identity does.
const logSoftmaxModel = encodeModel({
  nodes: [{ op: 'LogSoftmax', inputs: ['x'], outputs: ['y'], intAttrs: { axis: -1 } }],
  inputs: [{ name: 'x', type: DataType.FLOAT, shape: [2, 3] }],
  outputs: [{ name: 'y', type: DataType.FLOAT, shape: [2, 3] }],
});
const identityModel = encodeModel({
  nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
  inputs: [{ name: 'x', type: DataType.FLOAT, shape: [2, 3] }],
  outputs: [{ name: 'y', type: DataType.FLOAT, shape: [2, 3] }],
});

describe.skipIf(noWebgpu !== undefined)(`WebGPU execution provider${noWebgpu ? ` (skipped: ${noWebgpu})` : ''}`, () => {
  it('--device webgpu resolves to WebGPU', async () => {
    expect(await resolveExecutionProvider('webgpu')).toEqual({ name: 'webgpu', choice: 'webgpu' });
  });

  it('records whether every node of a session runs on WebGPU, and computes what the CPU computes', async () => {
    const cache = new SessionCache();
    const provider = { name: 'webgpu' as const, choice: 'webgpu' as const };
    const x = new ort.Tensor('float32', Float32Array.of(1, 2, 3, -1, 0, 4), [2, 3]);
    const all = await cache.acquire({ bytes: identityModel }, { provider });
    expect(all.entry.placement).toEqual({ provider: 'webgpu', allNodesOnProvider: true });
    const part = await cache.acquire({ bytes: logSoftmaxModel }, { provider });
    expect(part.entry.placement).toEqual({ provider: 'webgpu', allNodesOnProvider: false });
    const got = (await part.entry.session.run({ x })).y!.data as Float32Array;
    const cpu = await cache.acquire({ bytes: logSoftmaxModel }, {});
    expect(cpu.entry.placement).toEqual({ provider: 'cpu', allNodesOnProvider: true });
    const want = (await cpu.entry.session.run({ x })).y!.data as Float32Array;
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 6);
    await cache.clear();
  });

  it('lists adapters without their limits, and says why', () => {
    const list = listWebgpuAdapters();
    expect(list.limitsReason).toMatch(/does not expose adapter limits/);
    for (const a of list.adapters) {
      expect(a.name.length).toBeGreaterThan(0);
      expect(a.maxBufferSize).toBeNull();
    }
  });

  it('cleft doctor reports the probe session, the adapters and their limits (or why not)', async () => {
    const r = await collectDoctorReport({ checkWorker: false });
    expect(r.webgpu).toMatchObject({ bundled: true, probe: { ran: true } });
    expect(r.providers.find((p) => p.name === 'webgpu')).toMatchObject({ status: 'loads' });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r); // --json round-trips
    const text = formatDoctorReport(r);
    expect(text).toMatch(/webgpu: bundled yes, backend \w+, probe session ran on WebGPU/);
    for (const a of r.webgpu.adapters) expect(text).toContain(`- ${a.name}  vendor ${a.vendor}, backend ${a.backend}`);
  });

  it.skipIf(cudaInstalled)('auto picks WebGPU only on a hardware adapter, and says why not', async () => {
    const p = await resolveExecutionProvider('auto');
    const software = softwareOnlyWebgpu();
    if (software !== undefined) {
      expect(p.name).toBe('cpu');
      expect(p.name === 'cpu' && p.fallbackReason).toMatch(/WebGPU not used: only a software WebGPU adapter/);
    } else {
      expect(p).toMatchObject({ name: 'webgpu', choice: 'auto', fallbackReason: expect.stringMatching(/^CUDA unavailable/) as unknown });
    }
  });
});
