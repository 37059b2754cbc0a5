// An archive classified on a real (single-node) Slurm started by the test: `cleft slurm classify
// --array 3` over 24 phantom exams submits a job array of `cleft classify --shard K/3`; one shard is
// made to fail (its output path is taken by a folder), `cleft slurm status --json` names it failed
// and gives the resubmit command, `cleft runs merge` refuses the incomplete set naming the missing
// shard; once the cause is fixed `cleft slurm resubmit` runs only that shard, the merge succeeds, and
// the merged run's predictions equal those of one unsharded run exactly.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Prediction } from '../../../../src/common/runs';
import type { SlurmStatus } from '../../../../src/main/slurm/status';
import { callApi } from '../../../helpers/api';
import { cliOutcome, runCli } from '../../../helpers/cli';
import { requireDump2dcm, writeFourViewExam } from '../../../helpers/dcmtk';
import { addTinyBundle, testBackend, type TinyBundle } from '../../../helpers/library';
import { slurmForTests } from '../../../helpers/slurm';
import { tmpDir } from '../../../helpers/tmp';
import { until } from '../../../helpers/wait';

const { slurm, skip } = await slurmForTests('Slurm classification tests');

const EXAMS = 24;
const TIMEOUT = 900_000; // bounds a failure only: three shards and a resubmission on a busy 2-core machine

/** The shards' array tasks Slurm still has queued or running. */
async function activeTasks(jobIds: readonly string[]): Promise<string> {
  return slurm.run('squeue', ['-h', '-r', '-t', 'PD,CF,R,CG', '-j', jobIds.join(','), '-o', '%i %T']).then(
    (out) => out.trim(),
    (err: { stderr?: string }) => {
      // A job the controller has already forgotten (MinJobAge after its end) is not queued or running.
      if (/Invalid job id/i.test(err.stderr ?? '')) return '';
      throw err as Error;
    },
  );
}

/**
 * `cleft slurm status DIR --json` once no shard is queued or running: Slurm's queue (cheap to ask)
 * is watched until it holds none of the jobs, then the command must agree.
 */
async function statusWhenSettled(dir: string, jobIds: readonly string[]): Promise<SlurmStatus> {
  let status: SlurmStatus | null = null;
  await until(
    async () => {
      if ((await activeTasks(jobIds)) !== '') return false;
      status = JSON.parse(runCli(['slurm', 'status', dir, '--json'], { env: slurm.env })) as SlurmStatus;
      return status.counts.pending + status.counts.running === 0;
    },
    `no shard of ${dir} queued or running`,
    TIMEOUT,
    250,
  ).catch(async (err: Error) => {
    throw /not reached/.test(err.message) ? new Error(`${err.message}; still: ${await activeTasks(jobIds)}`) : err;
  });
  return status!;
}

/** A run's predictions in a comparable order. */
async function predictionsOf(dataDir: string, runId: number): Promise<Prediction[]> {
  const b = testBackend(dataDir);
  try {
    const rows = (await callApi(b, 'runs.predictions', { runId, limit: 1000 })).rows;
    const key = (p: Prediction) => `${p.studyUid} ${p.scope} ${p.sopInstanceUid ?? ''} ${p.laterality ?? ''}`;
    return [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  } finally {
    await b.close();
  }
}

const runIdOf = (stdout: string): number => {
  const m = /^run #(\d+):/m.exec(stdout);
  if (!m) throw new Error(`no run id in:\n${stdout}`);
  return Number(m[1]);
};

describe.skipIf(skip !== null)(`cleft slurm on a real Slurm${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bundle: TinyBundle;
  let list: string;
  let cacheDir: string;

  beforeAll(async () => {
    requireDump2dcm();
    const source = tmpDir('cleft-slurm-dicom-');
    const files: string[] = [];
    for (let n = 1; n <= EXAMS; n++) files.push(...writeFourViewExam(source, n));
    list = path.join(tmpDir('cleft-slurm-list-'), 'exams.txt');
    fs.writeFileSync(list, `${files.join('\n')}\n`);
    const b = testBackend(path.join(tmpDir(), 'bundle-library'));
    try {
      bundle = await addTinyBundle(b, 11, { name: 'tiny' });
    } finally {
      await b.close();
    }
    cacheDir = tmpDir('cleft-slurm-cache-');
  }, 300_000);

  it(
    '3 shards: a failed one is reported and resubmitted, the merge refuses the incomplete set, then equals one unsharded run',
    { timeout: 2 * TIMEOUT },
    async () => {
      const out = path.join(tmpDir('cleft-slurm-out-'), 'density');
      const library = path.join(tmpDir(), 'library');
      // Shard 2 cannot write its results: a folder (with a file in it) holds its output path.
      const blocked = path.join(out, 'results-2.safetensors');
      fs.mkdirSync(blocked, { recursive: true });
      fs.writeFileSync(path.join(blocked, 'in-the-way'), '');

      const classifyArgs = [
        '--bundle',
        bundle.dir,
        '--task',
        'Breast density',
        '--dicom-list',
        list,
        '--cache-dir',
        cacheDir,
        '--device',
        'cpu',
      ];
      const submitted = runCli(['slurm', 'classify', ...classifyArgs, '--array', '3', '--out-dir', out, '--data-dir', library], {
        env: slurm.env,
      });
      const jobId = /^Submitted batch job (\d+)$/m.exec(submitted)?.[1];
      expect(jobId, submitted).toBeDefined();
      const record = JSON.parse(fs.readFileSync(path.join(out, 'cleft-slurm.json'), 'utf8')) as { submissions: { jobId: string }[] };
      expect(record.submissions).toEqual([expect.objectContaining({ jobId, shards: [1, 2, 3] })]);
      const script = fs.readFileSync(path.join(out, 'cleft-classify.sbatch'), 'utf8');
      expect(script).toContain(`exec ${process.execPath} `);
      expect(script).toMatch(/ classify .* --shard "\$K"\/3 --output .*\/results-"\$K"\.safetensors/);

      const first = await statusWhenSettled(out, [jobId!]);
      expect(first.shards.map((s) => [s.shard, s.state])).toEqual([
        [1, 'done'],
        [2, 'failed'],
        [3, 'done'],
      ]);
      expect(first.complete).toBe(false);
      expect(first.failed).toEqual([2]);
      expect(first.shards[1]!.slurm).toMatchObject({ jobId: `${jobId}_2`, state: 'FAILED' });
      expect(first.shards[1]!.problem).toContain('results-2.safetensors');
      expect(first.resubmitCommand).toBe(`cleft slurm resubmit ${out}`);
      expect(first.mergeCommand).toBeNull();
      expect(first.source).toBe('scontrol'); // no slurmdbd in the test cluster
      // The job id finds the same submission while Slurm knows the job.
      const byJob = JSON.parse(runCli(['slurm', 'status', jobId!, '--json'], { env: slurm.env })) as SlurmStatus;
      expect(byJob.dir).toBe(out);
      expect(byJob.shards.map((s) => s.state)).toEqual(['done', 'failed', 'done']);
      // The text form says the same and what to do.
      const text = runCli(['slurm', 'status', out], { env: slurm.env });
      expect(text).toMatch(/shard 2 {2}failed/);
      expect(text).toContain(`cleft slurm resubmit ${out}`);

      // The merge refuses the incomplete set, naming the missing shard.
      const incomplete = cliOutcome(['runs', 'merge', first.shards[0]!.results, first.shards[2]!.results, '--data-dir', library]);
      expect(incomplete.status).not.toBe(0);
      expect(incomplete.stderr).toMatch(/shard 2\/3 missing/);

      fs.rmSync(blocked, { recursive: true });
      const again = runCli(['slurm', 'resubmit', out, '--json'], { env: slurm.env });
      const resub = JSON.parse(again) as { jobId: string; shards: number[] };
      expect(resub.shards).toEqual([2]);
      expect(resub.jobId).not.toBe(jobId);

      const second = await statusWhenSettled(out, [resub.jobId]);
      expect(second.shards.map((s) => s.state)).toEqual(['done', 'done', 'done']);
      expect(second.complete).toBe(true);
      expect(second.shards[1]!.slurm).toMatchObject({ jobId: `${resub.jobId}_2`, state: 'COMPLETED' });
      expect(second.mergeCommand).toBe(
        `cleft runs merge ${[1, 2, 3].map((k) => path.join(out, `results-${k}.safetensors`)).join(' ')} --data-dir ${library}`,
      );
      // Every shard done: nothing to resubmit.
      const nothing = cliOutcome(['slurm', 'resubmit', out], { env: slurm.env });
      expect(nothing.status).toBe(1);
      expect(nothing.stderr).toMatch(/nothing to resubmit: every shard of .* is done/);

      const merged = runIdOf(runCli(['runs', 'merge', ...second.shards.map((s) => s.results), '--data-dir', library]));

      // One unsharded run of the same list, merged into a library of its own.
      const whole = path.join(tmpDir('cleft-slurm-whole-'), 'all.safetensors');
      runCli(['classify', ...classifyArgs, '--output', whole]);
      const reference = path.join(tmpDir(), 'reference-library');
      const unsharded = runIdOf(runCli(['runs', 'merge', whole, '--data-dir', reference]));

      // A results file at shard 2's path that is another shard's is not shard 2's results.
      const results2 = second.shards[1]!.results;
      fs.renameSync(results2, `${results2}.kept`);
      fs.copyFileSync(second.shards[0]!.results, results2);
      const wrong = JSON.parse(runCli(['slurm', 'status', out, '--json'], { env: slurm.env })) as SlurmStatus;
      expect(wrong.shards[1]).toMatchObject({ state: 'failed', resultsComplete: false });
      expect(wrong.shards[1]!.problem).toContain(`${results2} holds shard 1/3, not 2/3`);
      fs.renameSync(`${results2}.kept`, results2);

      const a = await predictionsOf(library, merged);
      const b = await predictionsOf(reference, unsharded);
      expect(a).toHaveLength(EXAMS * (4 + 2 + 1));
      const strip = (p: Prediction) => ({
        studyUid: p.studyUid,
        scope: p.scope,
        sopInstanceUid: p.sopInstanceUid,
        laterality: p.laterality,
        view: p.view,
        probabilities: p.probabilities,
        predictedClass: p.predictedClass,
      });
      expect(a.map(strip)).toEqual(b.map(strip));
    },
  );
});
