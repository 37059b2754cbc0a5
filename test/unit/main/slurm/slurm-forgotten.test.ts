// Without accounting (no slurmdbd, so no sacct) the controller forgets an ended job MinJobAge after
// its end: `cleft slurm status` then judges the shards by their results files alone, says Slurm no
// longer knows the job, and `cleft slurm resubmit` still submits the failed shards.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SlurmStatus } from '../../../../src/main/slurm/status';
import { runCli } from '../../../helpers/cli';
import { slurmForTests } from '../../../helpers/slurm';
import { tmpDir } from '../../../helpers/tmp';
import { until } from '../../../helpers/wait';

const { slurm, skip } = await slurmForTests('Slurm tests', { minJobAge: 2 });

/** Resolves once `scontrol show job` no longer knows the job (the controller purged it). */
function untilForgotten(jobId: string): Promise<void> {
  const forgotten = (): Promise<boolean> =>
    slurm.run('scontrol', ['show', 'job', '-o', jobId]).then(
      () => false,
      (err: { stderr?: string }) => {
        if (/Invalid job id/i.test(err.stderr ?? '')) return true;
        throw err as Error;
      },
    );
  return until(forgotten, `the controller forgetting job ${jobId}`, 600_000, 500);
}

describe.skipIf(skip !== null)(`cleft slurm once Slurm has forgotten the job${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('status falls back on the results files and names the forgotten tasks; resubmit still works', { timeout: 900_000 }, async () => {
    const dir = tmpDir('cleft-slurm-forgotten-');
    const bundle = path.join(dir, 'not-a-bundle'); // an empty folder: each shard fails opening it
    fs.mkdirSync(bundle);
    const list = path.join(dir, 'list.txt');
    fs.writeFileSync(list, '/nowhere.dcm\n');
    const out = path.join(dir, 'out');
    const base = ['slurm', 'classify', '--bundle', bundle, '--task', 'Breast density', '--dicom-list', list, '--array', '2'];
    const jobId = /^Submitted batch job (\d+)$/m.exec(runCli([...base, '--out-dir', out], { env: slurm.env }))![1]!;
    await untilForgotten(jobId);

    const s = JSON.parse(runCli(['slurm', 'status', out, '--json'], { env: slurm.env })) as SlurmStatus;
    expect(s.source).toBe('scontrol');
    expect(s.shards.map((sh) => [sh.state, sh.slurm.state])).toEqual([
      ['failed', null],
      ['failed', null],
    ]);
    expect(s.shards[0]!.problem).toContain(`Slurm no longer knows job ${jobId}_1`);
    expect(s.shards[0]!.problem).toContain(`no complete ${path.join(out, 'results-1.safetensors')}`);
    // What the shard said before it ended is in its log, and the status names it.
    expect(s.shards[0]!.problem).toMatch(/its log: cleft: /);

    const again = JSON.parse(runCli(['slurm', 'resubmit', out, '--json'], { env: slurm.env })) as { jobId: string; shards: number[] };
    expect(again.shards).toEqual([1, 2]);
    expect(again.jobId).not.toBe(jobId);
  });
});
