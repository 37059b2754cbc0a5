// The Jobs drawer states where a job ran: the provider, why, and per graph where it ran.
import { describe, expect, it } from 'vitest';
import { Job } from '../../../src/common/jobs';
import { describeJob } from '../../../src/renderer/src/lib/jobs';
import { deviceFacts } from '../../../src/renderer/src/lib/job-device';

const cpu = { provider: 'cpu', allNodesOnProvider: true, deterministic: true, determinism: 'yes: the same bits … same thread count' };
const record = {
  requested: 'auto',
  provider: 'cpu',
  reason: 'auto: CUDA unavailable: libcudnn.so.9 not found; WebGPU not used: no usable WebGPU adapter',
  graphs: {
    text_encoder: cpu,
    forward: cpu,
    train_step: cpu,
    optimizer: { ...cpu, provider: 'webgpu', allNodesOnProvider: false, deterministic: false },
  },
};

describe('deviceFacts', () => {
  it('names the provider, why, the graphs grouped by how they ran, and determinism', () => {
    expect(deviceFacts({ device: record })).toEqual([
      { label: 'Ran on', value: 'cpu (asked: auto)' },
      { label: 'Why', value: record.reason },
      {
        label: 'Graphs',
        value:
          'text_encoder, forward, train_step: cpu, every node, deterministic · optimizer: webgpu, some nodes on the CPU, not deterministic',
      },
      { label: 'Determinism', value: cpu.determinism },
    ]);
  });
  it('shows nothing for results without a record, and both of the demo’s trainings', () => {
    expect(deviceFacts({ runId: 1 })).toEqual([]);
    expect(deviceFacts(null)).toEqual([]);
    const demo = deviceFacts({
      device: { contrastive: { ...record, requested: 'cpu', reason: 'requested explicitly (--device cpu)' }, prompt: null },
    });
    expect(demo.map((f) => f.label)).toEqual(['LoRA: Ran on', 'LoRA: Why', 'LoRA: Graphs', 'LoRA: Determinism']);
    expect(demo[0]!.value).toBe('cpu');
  });
  it('joins the kind’s own facts in the drawer with distinct labels', () => {
    const job = Job.parse({
      id: 3,
      kind: 'train-adaptor',
      status: 'done',
      progress: { fraction: 1, message: 'done', etaSeconds: null },
      error: null,
      checkpointPath: null,
      revision: 1,
      createdAt: '2026-12-04T00:00:00Z',
      startedAt: null,
      finishedAt: null,
      params: { modelId: 1, taskId: 1, name: 'a', device: 'cpu' },
      result: { runId: 9, adaptor: 'a', mode: 'adaptor', images: 4, train: 3, val: 1, metrics: {}, notes: [], device: record, seconds: 1 },
    });
    const labels = describeJob(job).facts.map((f) => f.label);
    expect(labels).toEqual(['Kind', 'Run', 'Ran on', 'Why', 'Graphs', 'Determinism']);
    expect(new Set(labels).size).toBe(labels.length);
  });
});
