// `engine.status`: the execution provider the engine uses and why (CUDA, WebGPU, or the reasons for CPU),
// threads and versions, probed once in a worker thread and cached until asked to refresh.
import type { EngineStatus } from '../../common/contract';
import { CleftError } from '../../common/errors';
import type { DoctorReport } from '../../native/runtime/doctor';
import { providerLabel } from '../../native/runtime/providers';
import { workerEntry } from '../workers/built-entry';
import { startThread } from '../workers/thread-launcher';

let cached: { key: string; status: EngineStatus } | null = null;

export async function engineStatus(requested: string, threads: number, refresh = false): Promise<EngineStatus> {
  const key = `${requested}|${threads}`;
  if (cached && cached.key === key && !refresh) return cached.status;
  const report = await probe(requested);
  const cuda = report.providers.find((p) => p.name === 'cuda');
  const webgpu = report.providers.find((p) => p.name === 'webgpu');
  const explicitCuda = /^cuda:\d+$/.test(requested);
  const cudaWorks = cuda?.status === 'loads';
  const webgpuWorks = webgpu?.status === 'loads';
  const cudaWhy = `CUDA not available: ${cuda?.reason ?? 'the CUDA execution provider was not found'}`;
  const webgpuWhy = `WebGPU not available: ${webgpu?.reason ?? 'the WebGPU execution provider was not found'}`;
  // auto: what resolveExecutionProvider('auto') chose in the probe (CUDA, a hardware WebGPU adapter, CPU).
  const auto = report.auto;
  const provider = requested === 'cpu' ? 'cpu' : explicitCuda || requested === 'webgpu' ? requested : providerLabel(auto);
  const status: EngineStatus = {
    requested,
    provider,
    available: (explicitCuda && !cudaWorks) || (requested === 'webgpu' && !webgpuWorks) ? false : true,
    reason:
      requested === 'cpu'
        ? 'CPU chosen in Settings'
        : requested === 'webgpu'
          ? webgpuWorks
            ? null
            : webgpuWhy
          : explicitCuda
            ? cudaWorks
              ? null
              : cudaWhy
            : auto.name === 'cuda'
              ? null
              : auto.name === 'webgpu'
                ? cudaWhy
                : `${cudaWhy}; WebGPU not used: ${webgpu?.reason ?? 'the WebGPU execution provider was not found'}`,
    threads: threads === 0 ? report.cpu.availableParallelism : threads,
    cores: report.cpu.availableParallelism,
    ortVersion: report.ort.version,
    telemetryDisabled: report.telemetry.disabled,
    providers: report.providers.map((p) => ({ name: p.name, status: p.status, reason: p.reason ?? null })),
  };
  cached = { key, status };
  return status;
}

function probe(requested: string): Promise<DoctorReport> {
  return new Promise((resolve, reject) => {
    const worker = startThread(workerEntry(import.meta.url, 'status-worker.ts', 'engine-status-worker'), { settingsProvider: requested });
    worker.once('message', (m: { ok: true; report: DoctorReport } | { ok: false; error: string }) => {
      void worker.terminate();
      if (m.ok) resolve(m.report);
      else reject(new CleftError('internal', `engine probe failed: ${m.error}`));
    });
    worker.once('error', (err) => reject(new CleftError('internal', `engine probe failed: ${err.message}`)));
  });
}
