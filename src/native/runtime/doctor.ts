// `cleft doctor`: what the engine can use on this machine and why not. Loads ORT on the calling
// thread (fine for a CLI command; the app should ask an EngineWorker instead).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { EngineWorker } from './engine-worker';
import { ort, ortBinaryDir, ortVersion } from './ort';
import { probeModelBytes } from './probe-model';
import {
  cudaBinaryStatus,
  probeCuda,
  probeWebgpu,
  softwareOnlyWebgpu,
  providerLabel,
  resolveExecutionProvider,
  type CudaBinaryStatus,
  type ResolvedProvider,
} from './providers';
import { dawnBackend, listWebgpuAdapters, type WebgpuAdapterList } from './webgpu-adapters';
import { isOrtTelemetryDisabled, TELEMETRY_ENV } from './telemetry';
import { f32 } from './tensors';

export interface ProviderReport {
  name: string;
  status: 'loads' | 'unavailable' | 'not-probed';
  /** Why it does not load, or why it was not tried. */
  reason?: string;
}

export interface DoctorReport {
  ort: { version: string; binaryDir: string; backends: { name: string; bundled: boolean }[] };
  node: { version: string; platform: string; arch: string; electron?: string };
  cpu: { model: string; logicalCores: number; physicalCores?: number; availableParallelism: number };
  telemetry: { variable: string; disabled: boolean };
  providers: ProviderReport[];
  cuda: CudaBinaryStatus;
  webgpu: {
    /** The npm package ships the WebGPU EP (Dawn) for this platform. */
    bundled: boolean;
    /** Dawn's backend on this platform. */
    backend: string;
    /** A small probe session (Identity) created with every node on WebGPU and run with the right result. */
    probe: { ran: boolean; ms: number; reason?: string };
  } & WebgpuAdapterList;
  /** What `--device auto` resolves to here. */
  auto: ResolvedProvider;
  worker?: { ok: boolean; ms: number; error?: string };
}

export interface DoctorOptions {
  /** Try loading the CUDA EP even if its files are missing (shows ORT's own error). */
  forceCudaLoad?: boolean;
  /** Start an engine worker and run the probe model in it (checks the worker path end to end). */
  checkWorker?: boolean;
  /** List WebGPU adapters in a child process (default true). */
  listAdapters?: boolean;
}

/** Physical cores from /proc/cpuinfo (Linux): ORT's default intra-op thread count. */
function physicalCores(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const cores = new Set<string>();
    for (const block of text.split('\n\n')) {
      const phys = /physical id\s*:\s*(\d+)/.exec(block)?.[1];
      const core = /core id\s*:\s*(\d+)/.exec(block)?.[1];
      if (phys !== undefined && core !== undefined) cores.add(`${phys}:${core}`);
    }
    return cores.size > 0 ? cores.size : undefined;
  } catch {
    return undefined;
  }
}

async function cpuLoads(): Promise<ProviderReport> {
  try {
    const s = await ort.InferenceSession.create(probeModelBytes(), { executionProviders: ['cpu'] });
    await s.release();
    return { name: 'cpu', status: 'loads' };
  } catch (err) {
    return { name: 'cpu', status: 'unavailable', reason: err instanceof Error ? err.message : String(err) };
  }
}

async function checkWorker(): Promise<NonNullable<DoctorReport['worker']>> {
  const t0 = performance.now();
  const engine = EngineWorker.start({ name: 'cleft-doctor' });
  try {
    const info = await engine.createSession({ bytes: probeModelBytes() });
    const out = await engine.run(info.key, { x: f32([3.25], [1]) });
    const ok = out.y?.data[0] === 3.25;
    return { ok, ms: Math.round(performance.now() - t0), ...(ok ? {} : { error: 'wrong result' }) };
  } catch (err) {
    return { ok: false, ms: Math.round(performance.now() - t0), error: err instanceof Error ? err.message : String(err) };
  } finally {
    await engine.close();
  }
}

export async function collectDoctorReport(options: DoctorOptions = {}): Promise<DoctorReport> {
  const backends = ort.listSupportedBackends();
  const cudaReason = await probeCuda(0, { forceLoad: options.forceCudaLoad === true });
  const t0 = performance.now();
  const webgpuReason = await probeWebgpu();
  const probeMs = Math.round(performance.now() - t0);
  const software = options.listAdapters === false ? undefined : softwareOnlyWebgpu();
  const providers: ProviderReport[] = [
    await cpuLoads(),
    cudaReason === undefined ? { name: 'cuda', status: 'loads' } : { name: 'cuda', status: 'unavailable', reason: cudaReason },
    webgpuReason === undefined
      ? { name: 'webgpu', status: 'loads', ...(software !== undefined ? { reason: `auto skips it: ${software}` } : {}) }
      : { name: 'webgpu', status: 'unavailable', reason: webgpuReason },
  ];
  for (const b of backends) {
    if (b.name !== 'cpu' && b.name !== 'cuda' && b.name !== 'webgpu') {
      providers.push({ name: b.name, status: 'not-probed', reason: 'not used by CLEFT' });
    }
  }
  const cpus = os.cpus();
  const phys = physicalCores();
  const report: DoctorReport = {
    ort: { version: ortVersion(), binaryDir: ortBinaryDir(), backends },
    node: {
      version: process.versions.node,
      platform: process.platform,
      arch: process.arch,
      ...(process.versions.electron ? { electron: process.versions.electron } : {}),
    },
    cpu: {
      model: cpus[0]?.model.trim() ?? 'unknown',
      logicalCores: cpus.length,
      ...(phys !== undefined ? { physicalCores: phys } : {}),
      availableParallelism: os.availableParallelism(),
    },
    telemetry: { variable: TELEMETRY_ENV, disabled: isOrtTelemetryDisabled() },
    providers,
    cuda: cudaBinaryStatus(),
    webgpu: {
      bundled: backends.some((b) => b.name === 'webgpu' && b.bundled),
      backend: dawnBackend(),
      probe: { ran: webgpuReason === undefined, ms: probeMs, ...(webgpuReason !== undefined ? { reason: webgpuReason } : {}) },
      ...(options.listAdapters === false
        ? { adapters: [], source: 'not listed (listAdapters: false)', limitsReason: 'not listed' }
        : listWebgpuAdapters()),
    },
    auto: await resolveExecutionProvider('auto'),
  };
  if (options.checkWorker !== false) report.worker = await checkWorker();
  return report;
}

/** A problem that makes the engine unusable (CUDA missing is not one: CPU works). */
export function doctorProblems(r: DoctorReport): string[] {
  const problems: string[] = [];
  if (!r.telemetry.disabled) problems.push(`${r.telemetry.variable} is not set to 1`);
  if (r.providers.find((p) => p.name === 'cpu')?.status !== 'loads') problems.push('the CPU provider does not load');
  if (r.worker && !r.worker.ok) problems.push(`the engine worker failed: ${r.worker.error ?? 'unknown'}`);
  return problems;
}

export function formatDoctorReport(r: DoctorReport): string {
  const lines: string[] = [];
  const yes = (b: boolean): string => (b ? 'yes' : 'no');
  lines.push(`onnxruntime-node ${r.ort.version}  (${r.ort.binaryDir})`);
  lines.push(`node ${r.node.version} on ${r.node.platform}/${r.node.arch}` + (r.node.electron ? `, electron ${r.node.electron}` : ''));
  lines.push(
    `cpu: ${r.cpu.model}, ${r.cpu.logicalCores} logical cores` +
      (r.cpu.physicalCores !== undefined ? `, ${r.cpu.physicalCores} physical (ORT's default intra-op threads)` : '') +
      `, available parallelism ${r.cpu.availableParallelism}`,
  );
  lines.push(`telemetry disabled (${r.telemetry.variable}=1): ${yes(r.telemetry.disabled)}`);
  lines.push('execution providers:');
  for (const p of r.providers) lines.push(`  ${p.name.padEnd(9)} ${p.status}${p.reason ? `: ${p.reason}` : ''}`);
  const files = r.cuda.files.map((f) => `${f.file} ${f.present ? 'present' : 'missing'}`).join(', ');
  lines.push(`cuda build: compiled in ${yes(r.cuda.compiledIn)}, bundled ${yes(r.cuda.bundled)}${files ? `; ${files}` : ''}`);
  const w = r.webgpu;
  lines.push(
    `webgpu: bundled ${yes(w.bundled)}, backend ${w.backend}, probe session ` +
      (w.probe.ran ? `ran on WebGPU (${w.probe.ms} ms)` : `did not run: ${w.probe.reason ?? 'unknown'}`),
  );
  lines.push(`  adapters: ${w.source}`);
  for (const a of w.adapters) {
    const lim = (v: number | null) => (v === null ? 'unknown' : String(v));
    lines.push(
      `  - ${a.name}  vendor ${a.vendor}, backend ${a.backend}${a.type ? `, ${a.type}` : ''}, ` +
        `maxBufferSize ${lim(a.maxBufferSize)}, maxStorageBufferBindingSize ${lim(a.maxStorageBufferBindingSize)}`,
    );
  }
  if (w.adapters.some((a) => a.maxBufferSize === null)) lines.push(`  limits unknown: ${w.limitsReason}`);
  lines.push(
    `--device auto -> ${providerLabel(r.auto)}` + (r.auto.name !== 'cuda' && r.auto.fallbackReason ? ` (${r.auto.fallbackReason})` : ''),
  );
  if (r.worker) lines.push(`engine worker: ${r.worker.ok ? `ok (${r.worker.ms} ms to start, load, run)` : `FAILED: ${r.worker.error}`}`);
  const problems = doctorProblems(r);
  lines.push(problems.length === 0 ? 'status: ok' : `status: ${problems.length} problem(s): ${problems.join('; ')}`);
  return lines.join('\n');
}
