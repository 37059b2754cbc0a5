// `cleft slurm` refuses bad input before submitting anything, naming the flag, file or folder and
// the reason; without Slurm's client commands it says so. (The cluster itself: slurm-classify.test.ts.)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliOutcome, ROOT } from '../../../helpers/cli';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);

describe('cleft slurm input checks', () => {
  it('names the flag, file or folder at fault and submits nothing', { timeout: 120_000 }, () => {
    const dir = tmpDir('cleft-slurm-cli-');
    const bundle = path.join(dir, 'bundle');
    fs.mkdirSync(bundle);
    const list = path.join(dir, 'list.txt');
    fs.writeFileSync(list, '/nowhere.dcm\n');
    const out = path.join(dir, 'out');
    // No sbatch reachable: PATH is an empty folder (the CLI runs as process.execPath, not from PATH).
    const env = { PATH: tmpDir('cleft-empty-path-') };
    const base = ['slurm', 'classify', '--bundle', bundle, '--task', 'Breast density', '--dicom-list', list, '--out-dir', out];
    const fails = (args: string[]): string => {
      const r = cliOutcome(args, { env });
      expect(r.status, r.stdout).toBe(1);
      return r.stderr;
    };
    expect(fails([...base, '--array', '0'])).toMatch(/--array must be an integer >= 1, got "0"/);
    expect(fails([...base, '--array', '2', '--gpus-per-task', 'x'])).toMatch(/--gpus-per-task must be an integer >= 1, got "x"/);
    expect(fails([...base, '--array', '2', '--device', 'tpu'])).toMatch(/tpu/);
    expect(fails([...base.map((a) => (a === bundle ? path.join(dir, 'nope') : a)), '--array', '2'])).toContain(
      `--bundle ${path.join(dir, 'nope')}: no such folder`,
    );
    expect(fails([...base.map((a) => (a === list ? path.join(dir, 'none.txt') : a)), '--array', '2'])).toContain(
      `--dicom-list ${path.join(dir, 'none.txt')}: cannot read this file`,
    );
    expect(fs.existsSync(path.join(out, 'cleft-slurm.json'))).toBe(false);
    expect(fails([...base, '--array', '2'])).toMatch(/sbatch could not be run \(ENOENT\): is Slurm's client installed and on PATH\?/);
    expect(fs.existsSync(path.join(out, 'cleft-slurm.json'))).toBe(false);

    // A folder that already holds a submission is not overwritten.
    fs.writeFileSync(path.join(out, 'cleft-slurm.json'), '{}');
    expect(fails([...base, '--array', '2'])).toContain(`${out} already holds a submission (cleft-slurm.json)`);
    // status and resubmit of a folder that is not an output folder.
    expect(fails(['slurm', 'status', dir])).toContain(
      `${path.join(dir, 'cleft-slurm.json')} not found: ${dir} is not an output folder of \`cleft slurm classify\``,
    );
    expect(fails(['slurm', 'resubmit', out])).toMatch(/cleft-slurm\.json is not a cleft slurm submission record/);
  });

  it('writes the script with the Slurm options and submits it with sbatch --array=1-N', { timeout: 60_000 }, () => {
    const dir = tmpDir('cleft-slurm-submit-');
    const bundle = path.join(dir, 'bundle');
    fs.mkdirSync(bundle);
    const list = path.join(dir, 'list.txt');
    fs.writeFileSync(list, '/shared/a.dcm\n');
    // Only to see what is handed to sbatch (the cluster tests use the real one): it records its arguments and answers a job id.
    const bin = tmpDir('cleft-fake-sbatch-');
    const calls = path.join(dir, 'sbatch-args');
    fs.writeFileSync(path.join(bin, 'sbatch'), `#!/bin/sh\nprintf '%s\\n' "$@" > ${calls}\necho 4242\n`, { mode: 0o755 });
    const out = path.join(dir, 'out');
    const r = cliOutcome(
      ['slurm', 'classify', '--bundle', bundle, '--task', 'Breast density', '--dicom-list', list, '--array', '4', '--out-dir', out].concat([
        '--partition',
        'gpu',
        '--time',
        '1:00:00',
        '--gpus-per-task',
        '1',
        '--cpus-per-task',
        '2',
      ]),
      { env: { PATH: `${bin}:${process.env.PATH}` } },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('Submitted batch job 4242');
    const script = path.join(out, 'cleft-classify.sbatch');
    expect(fs.readFileSync(calls, 'utf8').trimEnd().split('\n')).toEqual(['--parsable', '--array=1-4', script]);
    const text = fs.readFileSync(script, 'utf8');
    for (const d of ['--partition=gpu', '--time=1:00:00', '--gpus-per-task=1', '--cpus-per-task=2'])
      expect(text).toContain(`#SBATCH ${d}\n`);
    // With GPUs and no --device, a shard runs on the first GPU Slurm gave it.
    expect(text).toMatch(/ --shard "\$K"\/4 .* --device cuda:0 /);
    expect(text).toContain(`exec ${process.execPath} ${path.join(ROOT, 'bin', 'cleft.mjs')} classify `);
    const record = JSON.parse(fs.readFileSync(path.join(out, 'cleft-slurm.json'), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({
      dir: out,
      shards: 4,
      script,
      classify: { bundle, task: 'Breast density', dicomList: list, device: 'cuda:0' },
      slurm: { partition: 'gpu', time: '1:00:00', gpusPerTask: 1, cpusPerTask: 2 },
      submissions: [{ jobId: '4242', shards: [1, 2, 3, 4] }],
    });
  });

  it(
    '--weights int8 reaches every shard through the script (which resubmit submits again); with GPUs it is refused',
    { timeout: 60_000 },
    () => {
      const dir = tmpDir('cleft-slurm-int8-');
      const bundle = path.join(dir, 'bundle');
      fs.mkdirSync(bundle);
      const list = path.join(dir, 'list.txt');
      fs.writeFileSync(list, '/shared/a.dcm\n');
      const bin = tmpDir('cleft-fake-sbatch-');
      fs.writeFileSync(path.join(bin, 'sbatch'), '#!/bin/sh\necho 51\n', { mode: 0o755 });
      const env = { PATH: `${bin}:${process.env.PATH}` };
      const base = ['slurm', 'classify', '--bundle', bundle, '--task', 'Breast density', '--dicom-list', list, '--array', '3'];
      const out = path.join(dir, 'out');
      const r = cliOutcome([...base, '--out-dir', out, '--weights', 'int8'], { env });
      expect(r.status, r.stderr).toBe(0);
      const text = fs.readFileSync(path.join(out, 'cleft-classify.sbatch'), 'utf8');
      expect(text).toMatch(/ classify .* --shard "\$K"\/3 .* --weights int8 --threads /);
      const record = JSON.parse(fs.readFileSync(path.join(out, 'cleft-slurm.json'), 'utf8')) as {
        command: string[];
        classify: { weights: string | null };
      };
      expect(record.classify.weights).toBe('int8');
      expect(record.command.join(' ')).toContain(' --weights int8 ');
      // Without it no --weights is written: the shards run float32, the default.
      const plain = path.join(dir, 'plain');
      expect(cliOutcome([...base, '--out-dir', plain], { env }).status).toBe(0);
      expect(fs.readFileSync(path.join(plain, 'cleft-classify.sbatch'), 'utf8')).not.toContain('--weights');

      for (const [extra, named] of [
        [['--gpus-per-task', '1'], '--gpus-per-task (its shards run on cuda:0) cannot run it'],
        [['--device', 'cuda:1'], '--device cuda:1 cannot run it'],
      ] as const) {
        const gpu = path.join(dir, `gpu${extra[1]}`);
        const refused = cliOutcome([...base, '--out-dir', gpu, '--weights', 'int8', ...extra], { env });
        expect(refused.status).toBe(1);
        expect(refused.stderr).toContain(
          `--weights int8 runs the encoders on the CPU provider only (ORT's int8 MatMulNBits kernel): ${named}`,
        );
        expect(fs.existsSync(path.join(gpu, 'cleft-slurm.json'))).toBe(false);
      }
      expect(cliOutcome([...base, '--out-dir', path.join(dir, 'bad'), '--weights', 'int4'], { env }).stderr).toMatch(/--weights.*int4/s);
    },
  );

  it('a library study list goes with its library; without --out-dir the folder is made in the current one', { timeout: 60_000 }, () => {
    const dir = tmpDir('cleft-slurm-studies-');
    const bundle = path.join(dir, 'bundle');
    fs.mkdirSync(bundle);
    const list = path.join(dir, 'studies.txt');
    fs.writeFileSync(list, '1.2.3\n');
    const bin = tmpDir('cleft-fake-sbatch-');
    fs.writeFileSync(path.join(bin, 'sbatch'), '#!/bin/sh\necho 77\n', { mode: 0o755 });
    const args = ['slurm', 'classify', '--bundle', bundle, '--task', 'Breast density', '--study-list', list, '--array', '2'];
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, CLEFT_DATA_DIR: '' };
    const run = (extra: string[]) =>
      spawnSync(process.execPath, [path.join(ROOT, 'bin', 'cleft.mjs'), ...args, ...extra], { cwd: dir, env, encoding: 'utf8' });
    const refused = run([]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('--study-list needs the library its studies are in: give --data-dir');
    const both = run(['--dicom-list', list, '--data-dir', 'lib']);
    expect(both.stderr).toContain('give one of --dicom-list FILE or --study-list FILE');

    const ok = run(['--data-dir', 'lib']);
    expect(ok.status, ok.stderr).toBe(0);
    const made = fs.readdirSync(dir).filter((n) => n.startsWith('cleft-slurm-'));
    expect(made).toHaveLength(1);
    expect(made[0]).toMatch(/^cleft-slurm-\d{8}-\d{6}$/);
    const out = path.join(dir, made[0]!);
    const text = fs.readFileSync(path.join(out, 'cleft-classify.sbatch'), 'utf8');
    expect(text).toContain(` --study-list ${list} --shard "$K"/2 --output ${out}/results-"$K".safetensors `);
    expect(text).toContain(` --data-dir ${path.join(dir, 'lib')} `);
    // status on the current folder by default (Slurm's scontrol is not here: the message says so).
    const status = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'cleft.mjs'), 'slurm', 'status'], {
      cwd: out,
      env: { ...env, PATH: bin },
      encoding: 'utf8',
    });
    expect(status.stderr).toMatch(/scontrol could not be run \(ENOENT\)/);
  });

  it('the help names the commands and the flags', { timeout: 60_000 }, () => {
    const help = cliOutcome(['slurm', '--help']).stdout;
    for (const c of ['classify', 'status', 'resubmit']) expect(help).toContain(c);
    const classify = cliOutcome(['slurm', 'classify', '--help']).stdout;
    for (const f of [
      '--bundle',
      '--task',
      '--dicom-list',
      '--array',
      '--out-dir',
      '--partition',
      '--time',
      '--gpus-per-task',
      '--cpus-per-task',
      '--weights',
    ])
      expect(classify).toContain(f);
  });
});
