import { describe, expect, it } from 'vitest';
import { collectDoctorReport, doctorProblems, formatDoctorReport } from '../../../../src/native/runtime/doctor';
import { cudaBinaryStatus } from '../../../../src/native/runtime/providers';

const cudaInstalled = cudaBinaryStatus().files.every((f) => f.present);

describe('doctor report', () => {
  it('reports versions, threads, telemetry, providers and a working engine worker', async () => {
    const r = await collectDoctorReport();
    expect(r.ort.version).toBe('1.30.0');
    expect(r.node.version).toBe(process.versions.node);
    expect(r.cpu.logicalCores).toBeGreaterThan(0);
    expect(r.telemetry).toEqual({ variable: 'ORT_DISABLE_TELEMETRY', disabled: true });
    expect(r.providers.find((p) => p.name === 'cpu')).toEqual({ name: 'cpu', status: 'loads' });
    expect(r.worker?.ok).toBe(true);
    expect(doctorProblems(r)).toEqual([]);
    if (!cudaInstalled) {
      expect(r.providers.find((p) => p.name === 'cuda')).toMatchObject({
        status: 'unavailable',
        reason: expect.stringMatching(/gpu:install/) as unknown,
      });
      expect(r.auto.name).toBe('cpu');
    }
    const text = formatDoctorReport(r);
    expect(text).toMatch(/^onnxruntime-node 1\.30\.0/);
    expect(text).toMatch(/status: ok$/);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r); // --json round-trips
  });
});
