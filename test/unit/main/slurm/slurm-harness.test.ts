// The test cluster itself (test/helpers/slurm.ts): a real slurmctld + slurmd + munged started by the
// test, a job submitted with sbatch runs on the node and ends COMPLETED with its output written, a
// failing one ends FAILED with its exit code; stopping ends the daemons by their PIDs.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { slurmForTests } from '../../../helpers/slurm';
import { tmpDir } from '../../../helpers/tmp';
import { until } from '../../../helpers/wait';

const { slurm, skip } = await slurmForTests('Slurm tests');

/** The job's state as squeue reports it (also once ended, while the controller still knows it). */
async function state(jobId: string): Promise<string> {
  return (await slurm.run('squeue', ['-h', '-t', 'all', '-j', jobId, '-o', '%T'])).trim();
}

async function untilEnded(jobId: string): Promise<string> {
  let s = '';
  await until(
    async () => !['PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING', ''].includes((s = await state(jobId))),
    `job ${jobId} ended`,
    120_000,
    100,
  );
  return s;
}

describe.skipIf(skip !== null)(`a single-node Slurm started by the test${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('runs an sbatch job to COMPLETED and a failing one to FAILED with its exit code', { timeout: 180_000 }, async () => {
    expect(await slurm.run('scontrol', ['ping'])).toMatch(/is UP/);
    expect((await slurm.run('sinfo', ['-h', '-N', '-o', '%N %T'])).trim()).toBe(`${slurm.node} idle`);

    const work = tmpDir('cleft-slurm-job-');
    const script = path.join(work, 'job.sh');
    fs.writeFileSync(script, '#!/bin/bash\necho "ran on $SLURMD_NODENAME as job $SLURM_JOB_ID" > "$1"\n');
    const out = path.join(work, 'out.txt');
    const ok = (await slurm.run('sbatch', ['--parsable', '-D', work, '-o', path.join(work, 'slurm-%j.out'), script, out])).trim();
    expect(ok).toMatch(/^\d+$/);
    expect(await untilEnded(ok)).toBe('COMPLETED');
    expect(fs.readFileSync(out, 'utf8')).toBe(`ran on ${slurm.node} as job ${ok}\n`);

    const failing = path.join(work, 'fail.sh');
    fs.writeFileSync(failing, '#!/bin/bash\nexit 3\n');
    const bad = (await slurm.run('sbatch', ['--parsable', '-D', work, '-o', path.join(work, 'slurm-%j.out'), failing])).trim();
    expect(await untilEnded(bad)).toBe('FAILED');
    expect(await slurm.run('scontrol', ['show', 'job', '-o', bad])).toMatch(/ ExitCode=3:0 /);
  });

  it('stop() ends munged, slurmctld and slurmd by their PIDs', { timeout: 120_000 }, async () => {
    const pids = Object.values(slurm.pids);
    for (const pid of pids) expect(() => process.kill(pid, 0)).not.toThrow();
    await slurm.stop();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
