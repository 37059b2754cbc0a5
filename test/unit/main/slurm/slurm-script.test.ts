// The pieces of `cleft slurm` that need no cluster: the sbatch script (bash runs it: each array task
// runs its shard's command, with paths quoted), Slurm's --array syntax both ways, scontrol's job
// lines, and the submission record's checks.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { arraySpec, parseArraySpec, parseScontrolJobs } from '../../../../src/main/slurm/client';
import { sbatchScript, shardCommand, shellQuote } from '../../../../src/main/slurm/script';
import { logProblem } from '../../../../src/main/slurm/status';
import {
  lastSubmissionOf,
  readSubmission,
  SUBMISSION_FILE,
  writeSubmission,
  type SubmissionRecord,
} from '../../../../src/main/slurm/submission';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);

const classify = {
  bundle: '/shared/my bundle',
  task: 'Breast density',
  dicomList: "/shared/it's a list.txt",
  studyList: null,
  promptSet: null,
  adaptor: null,
  device: 'cuda:0',
  dataDir: null,
  cacheDir: '/shared/cache',
};

describe('the sbatch script', () => {
  it('array task K runs `cleft classify ... --shard K/N --output DIR/results-K.safetensors` with every word intact', () => {
    const dir = tmpDir('cleft-slurm-script-');
    // A stand-in for node that prints its arguments one a line, so bash's reading of the script is what is checked.
    const echo = path.join(dir, 'print-args');
    fs.writeFileSync(echo, '#!/bin/bash\nfor a in "$@"; do echo "$a"; done\n', { mode: 0o755 });
    const command = shardCommand({ node: echo, entry: '/opt/cleft/bin/cleft.mjs', shards: 3, dir: '/shared/out $HOME', classify });
    const script = path.join(dir, 'job.sbatch');
    fs.writeFileSync(
      script,
      sbatchScript({
        command,
        dir: '/shared/out',
        slurm: { partition: 'gpu', time: '2:00:00', gpusPerTask: 1, cpusPerTask: 4 },
        invokedAs: 'cleft slurm classify',
      }),
    );
    const text = fs.readFileSync(script, 'utf8');
    for (const d of ['--partition=gpu', '--time=2:00:00', '--gpus-per-task=1', '--cpus-per-task=4', '--ntasks=1', '--chdir=/shared/out'])
      expect(text).toContain(`#SBATCH ${d}\n`);
    expect(text).toContain('#SBATCH --output=/shared/out/logs/shard-%a-job-%A.out\n');

    const args = execFileSync('bash', [script], {
      env: { ...process.env, SLURM_ARRAY_TASK_ID: '2', SLURM_CPUS_PER_TASK: '4' },
      encoding: 'utf8',
    })
      .trimEnd()
      .split('\n');
    expect(args).toEqual([
      '/opt/cleft/bin/cleft.mjs',
      'classify',
      '--bundle',
      '/shared/my bundle',
      '--task',
      'Breast density',
      '--dicom-list',
      "/shared/it's a list.txt",
      '--shard',
      '2/3',
      '--output',
      '/shared/out $HOME/results-2.safetensors',
      '--device',
      'cuda:0',
      '--cache-dir',
      '/shared/cache',
      '--threads',
      '4',
    ]);
    // Outside an array job it refuses to run, naming why.
    expect(() => execFileSync('bash', [script], { env: { PATH: process.env.PATH }, stdio: 'pipe' })).toThrow(
      /run this script with sbatch --array/,
    );
  });

  it('passes --weights to the shard when the submission has it; a record without it (older) passes none', () => {
    const args = (weights?: 'int8' | 'float32' | null) =>
      shardCommand({
        node: 'node',
        entry: 'cleft.mjs',
        shards: 2,
        dir: '/o',
        classify: { ...classify, ...(weights !== undefined ? { weights } : {}) },
      });
    const int8 = args('int8');
    expect(int8.slice(int8.indexOf('--weights'), int8.indexOf('--weights') + 2)).toEqual(['--weights', 'int8']);
    expect(int8.indexOf('--weights')).toBeGreaterThan(int8.indexOf('--shard'));
    expect(args('float32')).toContain('float32');
    expect(args(null)).not.toContain('--weights');
    expect(args()).not.toContain('--weights');
  });

  it('quotes words for bash only when needed', () => {
    expect(shellQuote('/a/b-c_d.txt')).toBe('/a/b-c_d.txt');
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });
});

describe("Slurm's words", () => {
  it('--array ranges both ways', () => {
    expect(arraySpec([1, 2, 3])).toBe('1-3');
    expect(arraySpec([5, 2, 1, 4])).toBe('1-2,4-5');
    expect(arraySpec([2])).toBe('2');
    expect(parseArraySpec('1-3')).toEqual([1, 2, 3]);
    expect(parseArraySpec('2,4-5%1')).toEqual([2, 4, 5]);
    expect(parseArraySpec('1-7:3')).toEqual([1, 4, 7]);
  });

  it('reads scontrol show job -o lines: array tasks, a pending range, exit codes', () => {
    const text = [
      'JobId=13 ArrayJobId=12 ArrayTaskId=1 JobName=cleft-classify JobState=COMPLETED Reason=None ExitCode=0:0 WorkDir=/shared/out',
      'JobId=14 ArrayJobId=12 ArrayTaskId=2 JobName=cleft-classify JobState=FAILED Reason=NonZeroExitCode ExitCode=1:0 WorkDir=/shared/out',
      'JobId=12 ArrayJobId=12 ArrayTaskId=3-4%2 JobName=cleft-classify JobState=PENDING Reason=Resources ExitCode=0:0 WorkDir=/shared/out',
    ].join('\n');
    expect(parseScontrolJobs(text)).toEqual([
      { arrayJobId: '12', taskIds: [1], state: 'COMPLETED', reason: 'None', exitCode: '0:0', workDir: '/shared/out' },
      { arrayJobId: '12', taskIds: [2], state: 'FAILED', reason: 'NonZeroExitCode', exitCode: '1:0', workDir: '/shared/out' },
      { arrayJobId: '12', taskIds: [3, 4], state: 'PENDING', reason: 'Resources', exitCode: '0:0', workDir: '/shared/out' },
    ]);
  });

  it("names a failed task's error line from its log", () => {
    const dir = tmpDir('cleft-slurm-log-');
    const log = path.join(dir, 'shard.out');
    fs.writeFileSync(log, 'loading\ncleft: cannot read /data/x.dcm: EACCES\nUsage: cleft classify [options]\n  --help\n');
    expect(logProblem(log)).toBe('cleft: cannot read /data/x.dcm: EACCES');
    fs.writeFileSync(log, 'only this\n');
    expect(logProblem(log)).toBe('only this');
    expect(logProblem(path.join(dir, 'none'))).toBeNull();
  });
});

describe('the submission record', () => {
  it('round-trips, names the last submission of each shard, and refuses what is not one', () => {
    const dir = tmpDir('cleft-slurm-record-');
    const record: SubmissionRecord = {
      version: 1,
      dir,
      shards: 3,
      script: path.join(dir, 'cleft-classify.sbatch'),
      command: ['node', 'cleft.mjs'],
      classify: { ...classify, device: null },
      slurm: { partition: null, time: null, gpusPerTask: null, cpusPerTask: 1 },
      library: null,
      submissions: [
        { jobId: '12', shards: [1, 2, 3], submittedAt: '2026-01-01T00:00:00Z' },
        { jobId: '15', shards: [2], submittedAt: '2026-01-01T01:00:00Z' },
      ],
    };
    writeSubmission(record);
    const back = readSubmission(dir);
    expect(back).toEqual(record);
    expect(lastSubmissionOf(back, 2)!.jobId).toBe('15');
    expect(lastSubmissionOf(back, 3)!.jobId).toBe('12');

    expect(() => readSubmission(tmpDir())).toThrow(/cleft-slurm\.json not found: .* is not an output folder of `cleft slurm classify`/);
    fs.writeFileSync(path.join(dir, SUBMISSION_FILE), '{"version": 1');
    expect(() => readSubmission(dir)).toThrow(/cleft-slurm\.json is not valid JSON/);
    fs.writeFileSync(path.join(dir, SUBMISSION_FILE), '{"version": 2}');
    expect(() => readSubmission(dir)).toThrow(/is not a cleft slurm submission record/);
  });
});
