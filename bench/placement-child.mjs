// Child process of bench/webgpu-coverage.ts (and `cleft doctor`-style checks): creates one session on
// the WebGPU EP with ORT's verbose log on, so the "Node placements" section lands on this process's
// stderr, where the parent parses it. Verbose logging is process-wide in ORT, hence a child.
// Usage: node placement-child.mjs MODEL.onnx [strict]
import ort from 'onnxruntime-node';
const [file, strict] = process.argv.slice(2);
(async () => {
  const opts = { executionProviders: ['webgpu'], logSeverityLevel: 0, logVerbosityLevel: 0 };
  if (strict === 'strict') opts.extra = { session: { disable_cpu_ep_fallback: '1' } };
  const s = await ort.InferenceSession.create(file, opts);
  await s.release();
  process.stdout.write('created\n');
})().catch((e) => {
  process.stdout.write(`failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 3;
});
