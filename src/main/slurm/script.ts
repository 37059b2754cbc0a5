// The sbatch script of `cleft slurm classify`: one array task per shard, each running
// `cleft classify ... --shard K/N --output <dir>/results-K.safetensors` with the absolute paths of
// the node binary and the cleft entry that wrote it, so nodes sharing the filesystem run this very
// version. The array range is given to sbatch on its command line (`--array=1-3`, later `--array=2`
// to resubmit a shard), so one script serves every submission.
import path from 'node:path';
import { resultsFile, type ClassifyArgs, type SlurmOptions } from './submission';

/** The shell variables a command word may hold; everything else in a word is literal. */
const SHARD_VAR = '$K';
const CPUS_VAR = '${SLURM_CPUS_PER_TASK:-1}';

/** A word for bash, single-quoted unless plainly safe. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The `cleft classify` command of shard "$K" (the variable is left for bash to expand). */
export function shardCommand(o: { node: string; entry: string; shards: number; dir: string; classify: ClassifyArgs }): string[] {
  const c = o.classify;
  return [
    o.node,
    o.entry,
    'classify',
    '--bundle',
    c.bundle,
    '--task',
    c.task,
    ...(c.dicomList ? ['--dicom-list', c.dicomList] : ['--study-list', c.studyList!]),
    '--shard',
    `${SHARD_VAR}/${o.shards}`,
    '--output',
    resultsFile(o.dir, SHARD_VAR),
    ...(c.promptSet ? ['--prompt-set', c.promptSet] : []),
    ...(c.adaptor ? ['--adaptor', c.adaptor] : []),
    ...(c.device ? ['--device', c.device] : []),
    ...(c.dataDir ? ['--data-dir', c.dataDir] : []),
    ...(c.cacheDir ? ['--cache-dir', c.cacheDir] : []),
    ...(c.weights ? ['--weights', c.weights] : []),
    // As many ONNX Runtime threads as Slurm gave the task CPUs.
    '--threads',
    CPUS_VAR,
  ];
}

/** A command word with its shell variables ($K, ${SLURM_...}) expanded by bash, everything else literal. */
function bashWord(word: string): string {
  return word
    .split(/(\$K|\$\{SLURM_CPUS_PER_TASK:-1\})/)
    .map((part, i) => (i % 2 === 1 ? `"${part}"` : part === '' ? '' : shellQuote(part)))
    .join('');
}

export function sbatchScript(o: { command: string[]; dir: string; slurm: SlurmOptions; invokedAs: string }): string {
  const s = o.slurm;
  const directives = [
    '--job-name=cleft-classify',
    `--chdir=${o.dir}`,
    // %a the array task (= shard), %A the array job: a resubmitted shard gets a log of its own.
    `--output=${path.join(o.dir, 'logs', 'shard-%a-job-%A.out')}`,
    '--ntasks=1',
    `--cpus-per-task=${s.cpusPerTask}`,
    ...(s.partition ? [`--partition=${s.partition}`] : []),
    ...(s.time ? [`--time=${s.time}`] : []),
    ...(s.gpusPerTask ? [`--gpus-per-task=${s.gpusPerTask}`] : []),
  ];
  return [
    '#!/bin/bash',
    ...directives.map((d) => `#SBATCH ${d}`),
    `# Written by: ${o.invokedAs}`,
    '# Submitted as a job array (sbatch --array=1-N): array task K runs shard K of N.',
    'set -euo pipefail',
    'K="${SLURM_ARRAY_TASK_ID:?run this script with sbatch --array}"',
    `exec ${o.command.map(bashWord).join(' ')}`,
    '',
  ].join('\n');
}
