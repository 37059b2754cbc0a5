import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    // Native addons (better-sqlite3, onnxruntime-node) are happiest in child processes.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Mesa's lavapipe (the software WebGPU adapter here and in CI) is bit-repeatable only on one
    // thread; WebGPU tests hold resumes to exact equality there (test/helpers/webgpu.ts).
    env: { LP_NUM_THREADS: process.env.LP_NUM_THREADS ?? '1' },
  },
});
