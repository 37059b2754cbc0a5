// A real single-node Slurm (Debian packages `slurm-wlm` and `munge`) for the cluster tests, started by
// the test itself: munged with a key generated into a temporary folder and its own socket, then
// slurmctld and slurmd as root in the foreground (-D) with a generated slurm.conf on 127.0.0.1 (free
// ports, temporary state/spool/log files, no cgroups, no accounting database). Ready once `sinfo`
// shows the node idle; stopped by the PIDs this helper started. Where Slurm cannot start here,
// `startSlurm` returns the reason instead, for the test to skip with.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { freePort } from './orthanc';
import { removeTmpDirs, tmpDir } from './tmp';
import { until } from './wait';

const execFileAsync = promisify(execFile);

const BINARIES = ['/usr/sbin/munged', '/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/bin/sbatch', '/usr/bin/squeue', '/usr/bin/sinfo'];

export interface SlurmCluster {
  /** The generated slurm.conf. */
  readonly conf: string;
  /** The cluster's temporary folder (conf, logs, state, spool, munge socket). */
  readonly dir: string;
  /** The node's name (this machine's short hostname, as slurmd reports it). */
  readonly node: string;
  /** This process's environment with SLURM_CONF pointing at the cluster: give it to sbatch, squeue, cleft slurm... */
  readonly env: NodeJS.ProcessEnv;
  /** PIDs of munged, slurmctld and slurmd. */
  readonly pids: { munged: number; slurmctld: number; slurmd: number };
  /** Runs a Slurm client command (sbatch, squeue, scontrol...) against this cluster; its stdout. */
  run(command: string, args: readonly string[]): Promise<string>;
  /** Cancels what is left of the jobs, then SIGTERMs slurmd, slurmctld and munged by PID and waits for their ends (idempotent). */
  stop(): Promise<void>;
}

/** Why this machine cannot run the cluster tests, checked before starting anything; null when it may. */
export function slurmPrerequisites(): string | null {
  if (process.platform !== 'linux') return 'Slurm runs on Linux only';
  if (process.getuid?.() !== 0) return 'slurmctld and slurmd must run as root for a single-node test cluster';
  const missing = BINARIES.filter((b) => !fs.existsSync(b));
  if (missing.length) return `${missing.join(', ')} missing: apt-get install slurm-wlm munge (Debian packages)`;
  return null;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

const tail = (file: string): string => {
  try {
    return fs.readFileSync(file, 'utf8').slice(-3000);
  } catch {
    return '(no log)';
  }
};

/** This node's line as slurmd detects it (`slurmd -C`): real CPUs, sockets, cores and memory. */
function nodeLine(): { name: string; line: string } {
  const out = execFileSync('/usr/sbin/slurmd', ['-C'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const first = out.split('\n').find((l) => l.startsWith('NodeName='));
  if (!first) throw new Error(`slurmd -C printed no NodeName line:\n${out}`);
  return { name: /^NodeName=(\S+)/.exec(first)![1]!, line: first.trim() };
}

/**
 * Starts munged, slurmctld and slurmd; resolves once the node is idle, or with `{ skip: reason }`
 * when Slurm cannot run here (not root, packages missing, a daemon exiting during start-up: its log
 * is in the reason). Call `stop()` in afterAll.
 */
export async function startSlurm(
  opts: {
    readyTimeoutMs?: number;
    /** Seconds the controller keeps an ended job (slurm.conf MinJobAge; Slurm's default 300): small to see it forget. */
    minJobAge?: number;
  } = {},
): Promise<SlurmCluster | { skip: string }> {
  const why = slurmPrerequisites();
  if (why) return { skip: why };
  const dir = tmpDir('cleft-slurm-');
  // munged insists: the socket's folder (and its parents) searchable by all, the key's folder private.
  fs.chmodSync(dir, 0o755);
  const keyDir = path.join(dir, 'munge-key');
  const sockDir = path.join(dir, 'munge-run');
  fs.mkdirSync(keyDir, { mode: 0o700 });
  fs.mkdirSync(sockDir, { mode: 0o755 });
  const key = path.join(keyDir, 'munge.key');
  fs.writeFileSync(key, crypto.randomBytes(128), { mode: 0o400 });
  const socket = path.join(sockDir, 'munge.socket');
  for (const d of ['state', 'spool']) fs.mkdirSync(path.join(dir, d), { mode: 0o755 });

  const children: ChildProcess[] = [];
  const start = (bin: string, args: string[], logName: string): ChildProcess => {
    const log = fs.openSync(path.join(dir, logName), 'a');
    const child = spawn(bin, args, { cwd: dir, stdio: ['ignore', log, log], env: { ...process.env, SLURM_CONF: conf } });
    fs.closeSync(log);
    child.on('error', () => {}); // reported through its exit below
    children.push(child);
    return child;
  };
  const conf = path.join(dir, 'slurm.conf');
  const stopAll = async (): Promise<void> => {
    for (const c of [...children].reverse()) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      await exited(c);
    }
  };

  const munged = start(
    '/usr/sbin/munged',
    [
      '--foreground',
      `--socket=${socket}`,
      `--key-file=${key}`,
      `--pid-file=${path.join(sockDir, 'munged.pid')}`,
      `--seed-file=${path.join(keyDir, 'munged.seed')}`,
      `--log-file=${path.join(dir, 'munged.log')}`,
    ],
    'munged.out',
  );
  try {
    // munged answers once its socket exists.
    await until(
      () => {
        if (munged.exitCode !== null || munged.signalCode !== null)
          throw new Error(`munged exited during start-up:\n${tail(path.join(dir, 'munged.out'))}${tail(path.join(dir, 'munged.log'))}`);
        return fs.existsSync(socket);
      },
      'munged socket',
      opts.readyTimeoutMs ?? 60_000,
    );

    const node = nodeLine();
    const [ctldPort, dPort] = [await freePort(), await freePort()];
    fs.writeFileSync(
      conf,
      [
        'ClusterName=cleft-test',
        'SlurmctldHost=localhost(127.0.0.1)',
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${dPort}`,
        'SlurmUser=root',
        'SlurmdUser=root',
        'AuthType=auth/munge',
        'CredType=cred/munge',
        `AuthInfo=socket=${socket}`,
        `StateSaveLocation=${path.join(dir, 'state')}`,
        `SlurmdSpoolDir=${path.join(dir, 'spool')}`,
        `SlurmctldPidFile=${path.join(dir, 'slurmctld.pid')}`,
        `SlurmdPidFile=${path.join(dir, 'slurmd.pid')}`,
        `SlurmctldLogFile=${path.join(dir, 'slurmctld.log')}`,
        `SlurmdLogFile=${path.join(dir, 'slurmd.log')}`,
        `PlugStackConfig=${path.join(dir, 'plugstack.conf')}`,
        'MailProg=/bin/true',
        // No cgroups: processes are tracked by parent PID, tasks are not bound.
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'JobAcctGatherType=jobacct_gather/none',
        // No slurmdbd: sacct has nothing; squeue and scontrol know jobs until MinJobAge after their end.
        'AccountingStorageType=accounting_storage/none',
        'JobCompType=jobcomp/none',
        'MpiDefault=none',
        // One CPU per task by default, memory not a consumable: the node runs as many tasks as it has CPUs.
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_CPU',
        'ReturnToService=2',
        ...(opts.minJobAge !== undefined ? [`MinJobAge=${opts.minJobAge}`] : []),
        'SchedulerType=sched/backfill',
        `${node.line} NodeAddr=127.0.0.1 State=UNKNOWN`,
        `PartitionName=debug Nodes=${node.name} Default=YES MaxTime=INFINITE State=UP`,
        '',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(dir, 'plugstack.conf'), '');

    const slurmctld = start('/usr/sbin/slurmctld', ['-D', '-i', '-f', conf], 'slurmctld.out');
    const slurmd = start('/usr/sbin/slurmd', ['-D', '-f', conf], 'slurmd.out');
    const env = { ...process.env, SLURM_CONF: conf };
    const run = async (command: string, args: readonly string[]): Promise<string> =>
      (await execFileAsync(command, [...args], { env, encoding: 'utf8' })).stdout;

    // Ready: the controller answers and reports the node idle.
    let state = '';
    await until(
      async () => {
        for (const [name, child] of [
          ['slurmctld', slurmctld],
          ['slurmd', slurmd],
        ] as const)
          if (child.exitCode !== null || child.signalCode !== null)
            throw new Error(
              `${name} exited during start-up:\n${tail(path.join(dir, `${name}.out`))}\n${tail(path.join(dir, `${name}.log`))}`,
            );
        state = await run('/usr/bin/sinfo', ['-h', '-N', '-n', node.name, '-o', '%T']).then(
          (s) => s.trim(),
          () => '',
        );
        return state === 'idle';
      },
      'the Slurm node idle',
      opts.readyTimeoutMs ?? 60_000,
      200,
    ).catch((err: Error) => {
      throw /not reached/.test(err.message)
        ? new Error(
            `the Slurm node did not become idle (state "${state}"):\n${tail(path.join(dir, 'slurmctld.log'))}\n${tail(path.join(dir, 'slurmd.log'))}`,
          )
        : err;
    });

    let stopped: Promise<void> | null = null;
    return {
      conf,
      dir,
      node: node.name,
      env,
      pids: { munged: munged.pid!, slurmctld: slurmctld.pid!, slurmd: slurmd.pid! },
      run,
      stop: () =>
        (stopped ??= (async () => {
          // Jobs first, so no slurmstepd outlives the cluster; then the daemons, by the PIDs started here.
          try {
            await run('/usr/bin/scancel', ['--full', '--user', 'root']);
            await until(async () => (await run('/usr/bin/squeue', ['-h', '-o', '%i'])).trim() === '', 'jobs cancelled', 60_000, 50);
          } catch {
            /* the controller is already gone: nothing left to cancel through it */
          }
          await stopAll();
        })()),
    };
  } catch (err) {
    await stopAll();
    return { skip: `Slurm could not start here: ${(err as Error).message}` };
  }
}

/**
 * The preamble of a cluster test file: the cluster started (or why it cannot start here, warned once
 * as `what skipped: reason`), and in afterAll the cluster stopped, then the test's temporary folders
 * removed (in that order: the daemons write into theirs until they end).
 */
export async function slurmForTests(
  what: string,
  opts: Parameters<typeof startSlurm>[0] = {},
): Promise<{ slurm: SlurmCluster; skip: string | null }> {
  const started = await startSlurm(opts);
  const skip = 'skip' in started ? started.skip : null;
  if (skip) console.warn(`${what} skipped: ${skip}`);
  afterAll(async () => {
    if (!skip) await (started as SlurmCluster).stop();
    removeTmpDirs();
  }, 120_000);
  return { slurm: started as SlurmCluster, skip };
}
