// `cleft doctor`: which execution providers load (and why not), threads, versions, telemetry.
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('Report ONNX Runtime version, execution providers (and why not), CPU threads and telemetry state')
    .option('--json', 'print the report as JSON')
    .option('--force-cuda-load', 'try loading the CUDA provider even if its files are missing (prints ORT errors)')
    .option('--no-worker', 'skip the engine worker check')
    .action(async (opts: { json?: boolean; forceCudaLoad?: boolean; worker: boolean }) => {
      // Imported here so other commands never pay for loading ONNX Runtime.
      const { collectDoctorReport, doctorProblems, formatDoctorReport } = await import('../../../native/runtime/doctor');
      const report = await collectDoctorReport({ forceCudaLoad: opts.forceCudaLoad === true, checkWorker: opts.worker });
      console.log(opts.json ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
      if (doctorProblems(report).length > 0) process.exitCode = 1;
    });
}
