// The device a job runs on: the form's choice, else the Settings' default, else auto; and what a
// job's params accept.
import { describe, expect, it } from 'vitest';
import { chosenDevice, DeviceChoice } from '../../../src/common/device';
import { JobSpec } from '../../../src/common/jobs';
import { jobDevice } from '../../../src/main/jobs/job-device';

describe('chosenDevice (form > Settings > auto)', () => {
  it('takes the form when it has a choice', () => {
    expect(chosenDevice('webgpu', 'cpu')).toBe('webgpu');
    expect(chosenDevice('cuda:1', 'auto')).toBe('cuda:1');
  });
  it('takes the Settings when the form has none', () => {
    expect(chosenDevice(undefined, 'cpu')).toBe('cpu');
    expect(chosenDevice(null, 'cuda:2')).toBe('cuda:2');
    expect(chosenDevice('', 'webgpu')).toBe('webgpu');
  });
  it('is auto when neither says', () => {
    expect(chosenDevice(undefined, undefined)).toBe('auto');
    expect(chosenDevice(null, '')).toBe('auto');
  });
  it('jobDevice parses the choice for the engine', () => {
    expect(jobDevice(undefined, { executionProvider: 'webgpu' })).toBe('webgpu');
    expect(jobDevice('cpu', { executionProvider: 'cuda:0' })).toBe('cpu');
    expect(jobDevice(undefined, null)).toBe('auto');
  });
});

describe('job params device', () => {
  it('every engine job kind takes auto, cpu, webgpu or cuda:N', () => {
    const specs = [
      { kind: 'classify', params: { modelId: 1, taskId: 1, studyIds: [1] } },
      { kind: 'explain', params: { modelId: 1, taskId: 1, instanceIds: [1] } },
      { kind: 'prompt-learn', params: { modelId: 1, taskId: 1, name: 'p' } },
      { kind: 'train-adaptor', params: { modelId: 1, taskId: 1, name: 'a' } },
      { kind: 'train-lora', params: { modelId: 1, name: 'l' } },
      { kind: 'demo', params: { quick: true } },
    ];
    for (const s of specs) {
      for (const device of ['auto', 'cpu', 'webgpu', 'cuda:0', 'cuda:12'])
        expect((JobSpec.parse({ ...s, params: { ...s.params, device } }).params as { device?: string }).device).toBe(device);
      expect((JobSpec.parse(s).params as { device?: string }).device).toBeUndefined();
      const bad = JobSpec.safeParse({ ...s, params: { ...s.params, device: 'metal' } });
      expect(bad.success, s.kind).toBe(false);
      expect(bad.error!.issues[0]).toMatchObject({ path: ['params', 'device'], message: 'use auto, cpu, webgpu or cuda:N' });
    }
  });
  it('refuses cuda without a number and odd spellings', () => {
    for (const d of ['cuda', 'CPU', 'gpu', 'cuda:-1', ' cpu']) expect(DeviceChoice.safeParse(d).success, d).toBe(false);
  });
});
