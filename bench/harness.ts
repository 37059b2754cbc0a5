// Reusable benchmark harness: warmup, repeats, median and IQR, machine description, and writing a
// section of bench/RESULTS.md. Benches report medians with their spread, never single timings.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface MeasureOptions {
  /** Untimed runs first: thread pools spin up, caches and allocators warm. Default 3. */
  warmup?: number;
  /** Timed runs. Default 15. */
  repeats?: number;
}

export interface Stats {
  name: string;
  n: number;
  samplesMs: number[];
  medianMs: number;
  q1Ms: number;
  q3Ms: number;
  iqrMs: number;
  minMs: number;
  maxMs: number;
}

/** Linear-interpolated quantile of an ascending array (the same rule as numpy's default). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error('quantile of an empty sample');
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function summarize(name: string, samplesMs: number[]): Stats {
  const s = [...samplesMs].sort((a, b) => a - b);
  const q1 = quantile(s, 0.25);
  const q3 = quantile(s, 0.75);
  return {
    name,
    n: s.length,
    samplesMs,
    medianMs: quantile(s, 0.5),
    q1Ms: q1,
    q3Ms: q3,
    iqrMs: q3 - q1,
    minMs: s[0]!,
    maxMs: s[s.length - 1]!,
  };
}

/** Times `fn` (awaited) `repeats` times after `warmup` untimed calls. */
export async function measure(name: string, fn: () => unknown, options: MeasureOptions = {}): Promise<Stats> {
  const warmup = options.warmup ?? 3;
  const repeats = options.repeats ?? 15;
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return summarize(name, samples);
}

export interface Machine {
  cpu: string;
  logicalCores: number;
  node: string;
  platform: string;
  /** 1-minute load average before the run: other processes on a shared machine skew timings. */
  loadAvg1: number;
}

/** 1-minute load average now (call after a run too: a rise means something else competed). */
export function loadAvg1(): number {
  return Number(os.loadavg()[0]!.toFixed(2));
}

export function machine(): Machine {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    logicalCores: os.cpus().length,
    node: process.versions.node,
    platform: `${process.platform}/${process.arch}`,
    loadAvg1: loadAvg1(),
  };
}

export function fmt(x: number, digits = 1): string {
  return x.toFixed(digits);
}

export const RESULTS_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'RESULTS.md');

/**
 * Replaces (or appends) the section of RESULTS.md between `<!-- bench:id -->` and
 * `<!-- /bench:id -->`, so each bench owns its section and reruns update it in place.
 */
export function writeResultsSection(id: string, markdown: string, file = RESULTS_FILE): void {
  const start = `<!-- bench:${id} -->`;
  const end = `<!-- /bench:${id} -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const i = current.indexOf(start);
  const j = current.indexOf(end);
  const next = i >= 0 && j > i ? current.slice(0, i) + block + current.slice(j + end.length) : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}

/** The JSON object a bench child process prints as its last line. */
export function lastJson(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}
