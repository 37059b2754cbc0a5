// `cleft slurm classify|status|resubmit`: an archive classified on a Slurm cluster, one array task
// per shard of `cleft classify --dicom-list FILE --shard K/N`. Slurm schedules the work; these
// commands write and submit the job array (sbatch), read its state (scontrol, sacct where the cluster
// keeps accounting) beside the results files, and submit again only the shards that failed.
//
//   cleft slurm classify --bundle B --task T (--dicom-list FILE | --study-list FILE --data-dir D) --array N [--out-dir DIR]
//                        [--partition P] [--time T] [--gpus-per-task G] [--cpus-per-task C] [--weights float32|int8]
//   cleft slurm status [DIR|JOBID] [--json]
//   cleft slurm resubmit [DIR|JOBID] [--partition P] [--time T] [--json]
//
// The output folder (on a filesystem every node sees) holds the sbatch script, the submission record
// (cleft-slurm.json), the logs and results-K.safetensors; merge those with `cleft runs merge`.
import fs from 'node:fs';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { WEIGHT_PRECISIONS, type WeightPrecision } from '../../../common/precision';
import { writeFileAtomic } from '../../../native/io/atomic-write';
import { parseProviderChoice } from '../../../native/runtime/providers';
import { controllerJobs, sbatch } from '../../slurm/client';
import { sbatchScript, shardCommand, shellQuote } from '../../slurm/script';
import { checkShardResults } from '../../slurm/results-check';
import { slurmStatus, type SlurmStatus } from '../../slurm/status';
import {
  allShards,
  readSubmission,
  SCRIPT_FILE,
  SUBMISSION_FILE,
  writeSubmission,
  type ClassifyArgs,
  type SubmissionRecord,
} from '../../slurm/submission';
import { num } from './train';

interface ClassifyFlags {
  bundle: string;
  task: string;
  dicomList?: string;
  studyList?: string;
  array: string;
  outDir?: string;
  partition?: string;
  time?: string;
  gpusPerTask?: string;
  cpusPerTask?: string;
  promptSet?: string;
  adaptor?: string;
  device?: string;
  dataDir?: string;
  cacheDir?: string;
  weights?: WeightPrecision;
  json?: boolean;
}

/** The output folder of a submission given as the folder itself or as a job id the controller still knows. */
async function submissionOf(target: string): Promise<SubmissionRecord> {
  if (/^\d+(_\d+)?$/.test(target) && !fs.existsSync(target)) {
    const jobs = await controllerJobs(target.split('_')[0]!);
    const dir = jobs.find((j) => j.workDir)?.workDir;
    if (!dir)
      throw new Error(
        `Slurm does not know job ${target} (any more): give the output folder of \`cleft slurm classify\` instead (it holds ${SUBMISSION_FILE})`,
      );
    return readSubmission(dir);
  }
  return readSubmission(path.resolve(target));
}

function printStatus(s: SlurmStatus): void {
  console.log(
    `${s.dir}: ${s.total} shard(s), job(s) ${s.jobIds.join(', ')}; ${s.counts.done} done, ${s.counts.running} running, ${s.counts.pending} pending, ${s.counts.failed} failed`,
  );
  for (const sh of s.shards)
    console.log(
      `  shard ${sh.shard}  ${sh.state.padEnd(7)}  ${sh.slurm.jobId} ${sh.slurm.state ?? '(unknown to Slurm)'}  ${sh.resultsComplete ? sh.results : '-'}` +
        (sh.problem ? `\n      ${sh.problem}\n      log: ${sh.log}` : ''),
    );
  if (s.source === 'scontrol')
    console.log('  (no Slurm accounting here: ended jobs are known only while the controller keeps them, MinJobAge; results files decide)');
  console.log(s.next);
}

const abs = (p: string): string => path.resolve(p);

export function register(program: Command): void {
  const slurm = program
    .command('slurm')
    .description(
      'Classify an archive on a Slurm cluster: a job array of `cleft classify --shard K/N`, its status, resubmitting failed shards',
    );

  slurm
    .command('classify')
    .description(
      'Write and submit (sbatch) a job array whose task K runs `cleft classify ... --shard K/N --output DIR/results-K.safetensors` ' +
        '(K = 1..N) with this node and cleft entry; records the submission in DIR/cleft-slurm.json and prints the job id',
    )
    .requiredOption('--bundle <dir>', 'CLEFT model bundle folder (on a filesystem the nodes share)')
    .requiredOption('--task <name>', 'task: "Breast density", "BI-RADS assessment", a custom task of the library, or a task .json')
    .option('--dicom-list <file>', "text file with one DICOM file path per line (relative to the list's folder), on the shared filesystem")
    .option(
      '--study-list <file>',
      'or: StudyInstanceUIDs of the library at --data-dir, one a line (library and files on the shared filesystem)',
    )
    .requiredOption('--array <n>', 'number of shards N: one array task (one node or GPU) per shard')
    .option(
      '--out-dir <dir>',
      'output folder on the shared filesystem: script, cleft-slurm.json, logs/, results-K.safetensors (default: ./cleft-slurm-<date>-<time>)',
    )
    .option('--partition <name>', 'Slurm partition (sbatch --partition)')
    .option('--time <limit>', 'time limit per shard (sbatch --time), e.g. 2:00:00')
    .option(
      '--gpus-per-task <g>',
      'GPUs per shard (sbatch --gpus-per-task); the shard then runs on --device (default cuda:0: the first GPU Slurm gave it)',
    )
    .option('--cpus-per-task <c>', 'CPUs per shard (sbatch --cpus-per-task), also its ONNX Runtime threads', '1')
    .option('--prompt-set <name>', 'a learned prompt set of the bundle instead of the task templates')
    .option('--adaptor <name>', 'a trained head of the bundle instead of zero-shot text embeddings')
    .option('--device <device>', 'auto | cpu | webgpu | cuda:N on the nodes (default: auto; cuda:0 with --gpus-per-task)')
    .option(
      '--data-dir <dir>',
      'library the results will be merged into (printed in the merge command; passed to the shards for custom tasks)',
    )
    .option('--cache-dir <dir>', 'ONNX cache for the shards (default: <data dir>/cache/onnx on each node)')
    .addOption(
      new Option(
        '--weights <precision>',
        'float32 (exact, default) | int8 (weight-only int8 encoders, CPU; docs/engine.md#int8-weights) for every shard; recorded in the results files',
      ).choices([...WEIGHT_PRECISIONS]),
    )
    .option('--json', 'print the submission as JSON')
    .action(async (f: ClassifyFlags) => {
      const shards = num(f.array, '--array', { int: true, min: 1 })!;
      const cpusPerTask = num(f.cpusPerTask, '--cpus-per-task', { int: true, min: 1 })!;
      const gpusPerTask = num(f.gpusPerTask, '--gpus-per-task', { int: true, min: 1 }) ?? null;
      const device = f.device ?? (gpusPerTask ? 'cuda:0' : null);
      if (device) parseProviderChoice(device);
      if (f.weights === 'int8' && device && device !== 'cpu' && device !== 'auto')
        throw new Error(
          `--weights int8 runs the encoders on the CPU provider only (ORT's int8 MatMulNBits kernel): ` +
            `${f.device ? `--device ${device}` : `--gpus-per-task (its shards run on ${device})`} cannot run it; ` +
            'drop it (or give --device cpu), or use --weights float32',
        );
      if (f.promptSet && f.adaptor) throw new Error('give --prompt-set or --adaptor, not both');
      if (!fs.existsSync(f.bundle) || !fs.statSync(f.bundle).isDirectory()) throw new Error(`--bundle ${f.bundle}: no such folder`);
      if (!f.dicomList === !f.studyList) throw new Error('give one of --dicom-list FILE or --study-list FILE');
      const [listFlag, list] = f.dicomList ? ['--dicom-list', f.dicomList] : ['--study-list', f.studyList!];
      try {
        fs.accessSync(list, fs.constants.R_OK);
      } catch {
        throw new Error(`${listFlag} ${list}: cannot read this file`);
      }
      const library = f.dataDir ?? process.env.CLEFT_DATA_DIR;
      if (f.studyList && !library)
        throw new Error('--study-list needs the library its studies are in: give --data-dir (on the shared filesystem)');
      const dir = abs(f.outDir ?? `cleft-slurm-${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}`);
      if (fs.existsSync(path.join(dir, SUBMISSION_FILE)))
        throw new Error(
          `${dir} already holds a submission (${SUBMISSION_FILE}): follow it with \`cleft slurm status ${dir}\`, resubmit its failed shards with \`cleft slurm resubmit ${dir}\`, or choose another --out-dir`,
        );
      fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });

      const classify: ClassifyArgs = {
        bundle: abs(f.bundle),
        task: f.task.endsWith('.json') && fs.existsSync(f.task) ? abs(f.task) : f.task,
        dicomList: f.dicomList ? abs(f.dicomList) : null,
        studyList: f.studyList ? abs(f.studyList) : null,
        promptSet: f.promptSet ?? null,
        adaptor: f.adaptor ?? null,
        device,
        // A study list is read from the library: the shards get it explicitly.
        dataDir: f.dataDir || f.studyList ? abs(library!) : null,
        cacheDir: f.cacheDir ? abs(f.cacheDir) : null,
        weights: f.weights ?? null,
      };
      // The node and cleft entry running now, by absolute path: on a shared filesystem every node runs this version.
      const command = shardCommand({ node: process.execPath, entry: fs.realpathSync(process.argv[1]!), shards, dir, classify });
      const slurmOptions = { partition: f.partition ?? null, time: f.time ?? null, gpusPerTask, cpusPerTask };
      const script = path.join(dir, SCRIPT_FILE);
      writeFileAtomic(
        script,
        sbatchScript({ command, dir, slurm: slurmOptions, invokedAs: `cleft ${process.argv.slice(2).map(shellQuote).join(' ')}` }),
      );
      fs.chmodSync(script, 0o755);
      const tasks = allShards(shards);
      const jobId = await sbatch(script, tasks);
      const record: SubmissionRecord = {
        version: 1,
        dir,
        shards,
        script,
        command,
        classify,
        slurm: slurmOptions,
        library: library ? abs(library) : null,
        submissions: [{ jobId, shards: tasks, submittedAt: new Date().toISOString() }],
      };
      writeSubmission(record);
      if (f.json) {
        console.log(JSON.stringify({ jobId, dir, script, shards, record: path.join(dir, SUBMISSION_FILE) }, null, 2));
        return;
      }
      console.log(`Submitted batch job ${jobId}`);
      console.log(`  ${shards} shard(s) as array tasks ${jobId}_1..${jobId}_${shards}, script ${script}`);
      console.log(`  follow it with: cleft slurm status ${shellQuote(dir)}`);
    });

  slurm
    .command('status')
    .description(
      'State of each shard (Slurm: scontrol, and sacct where the cluster keeps accounting; plus which results files are complete) and what to do next: the merge command once all are done, the resubmit command for failed shards',
    )
    .argument(
      '[dir-or-job-id]',
      'the output folder of `cleft slurm classify` (default: the current folder), or its job id while Slurm still knows it',
      '.',
    )
    .option(
      '--json',
      'print JSON: { dir, total, jobIds, complete, counts, failed, shards: [{ shard, state, slurm, results, resultsComplete, log, problem }], next, mergeCommand, resubmitCommand }',
    )
    .action(async (target: string, f: { json?: boolean }) => {
      const s = await slurmStatus(await submissionOf(target), checkShardResults);
      if (f.json) console.log(JSON.stringify(s, null, 2));
      else printStatus(s);
    });

  slurm
    .command('resubmit')
    .description(
      'Submit again (sbatch, the same script) only the shards that failed: neither done nor queued or running; fix their cause first (see `cleft slurm status`)',
    )
    .argument(
      '[dir-or-job-id]',
      'the output folder of `cleft slurm classify` (default: the current folder), or its job id while Slurm still knows it',
      '.',
    )
    .option('--partition <name>', 'another partition for these shards')
    .option('--time <limit>', 'another time limit for these shards (after a TIMEOUT)')
    .option('--json', 'print JSON: { jobId, shards }')
    .action(async (target: string, f: { partition?: string; time?: string; json?: boolean }) => {
      const record = await submissionOf(target);
      const s = await slurmStatus(record, checkShardResults);
      if (!s.failed.length)
        throw new Error(
          s.complete
            ? `nothing to resubmit: every shard of ${record.dir} is done (merge: ${s.mergeCommand})`
            : `nothing to resubmit: no shard of ${record.dir} has failed (${s.counts.pending} pending, ${s.counts.running} running, ${s.counts.done} done)`,
        );
      const options = [...(f.partition ? [`--partition=${f.partition}`] : []), ...(f.time ? [`--time=${f.time}`] : [])];
      const jobId = await sbatch(record.script, s.failed, options);
      record.submissions.push({ jobId, shards: s.failed, submittedAt: new Date().toISOString() });
      writeSubmission(record);
      if (f.json) console.log(JSON.stringify({ jobId, shards: s.failed }, null, 2));
      else {
        console.log(`Submitted batch job ${jobId}`);
        console.log(
          `  shard(s) ${s.failed.join(', ')} of ${record.shards} again; follow it with: cleft slurm status ${shellQuote(record.dir)}`,
        );
      }
    });
}
