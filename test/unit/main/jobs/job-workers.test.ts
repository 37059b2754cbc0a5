// The queue's workers (src/main/jobs/job-workers.ts) on a scripted channel: which worker a job gets
// (the warm one, else a new one), what ends a worker, where the engine policy goes.
import { describe, expect, it } from 'vitest';
import { JobWorkers } from '../../../../src/main/jobs/job-workers';
import type { FromWorker, ToWorker, WorkerChannel } from '../../../../src/main/workers/job-protocol';

interface Fake {
  posted: ToWorker[];
  alive: boolean[];
  killed: boolean;
  say(m: FromWorker): void;
  exit(code: number): void;
}

function launcher() {
  const made: Fake[] = [];
  const launch = (): WorkerChannel => {
    let onMessage: (m: FromWorker) => void = () => {};
    let onExit: (code: number) => void = () => {};
    const fake: Fake = {
      posted: [],
      alive: [],
      killed: false,
      say: (m) => onMessage(m),
      exit: (code) => onExit(code),
    };
    made.push(fake);
    return {
      post: (m) => fake.posted.push(m),
      onMessage: (l) => (onMessage = l),
      onExit: (l) => (onExit = l),
      kill: () => {
        fake.killed = true;
      },
      keepAlive: (on) => fake.alive.push(on),
    };
  };
  return { made, launch };
}

const quiet = { onMessage: () => {}, onExit: () => {} };
const stats = { hits: 1, misses: 2, size: 2, bytes: 100, evictions: 0 };

describe('job workers', () => {
  it('gives the next job the worker the last one released; keeps it from holding a process open meanwhile', () => {
    const { made, launch } = launcher();
    const workers = new JobWorkers(launch);
    const first = workers.take(quiet);
    expect(first.reused).toBe(false);
    first.release();
    expect(workers.hasWarm).toBe(true);
    const second = workers.take(quiet);
    expect(second.reused).toBe(true);
    expect(made).toHaveLength(1);
    expect(made[0]!.alive).toEqual([true, false, true]);
    second.post({ type: 'cancel', jobId: 2 });
    expect(made[0]!.posted).toEqual([{ type: 'cancel', jobId: 2 }]);
  });

  it('a killed worker is not reused, and its exit still reaches the job; a warm worker that dies is dropped', () => {
    const { made, launch } = launcher();
    const workers = new JobWorkers(launch);
    const exits: number[] = [];
    const job = workers.take({ onMessage: () => {}, onExit: (code) => exits.push(code) });
    job.kill();
    expect(made[0]!.killed).toBe(true);
    made[0]!.exit(1);
    expect(exits).toEqual([1]);
    workers.take(quiet).release();
    expect(made).toHaveLength(2);
    made[1]!.exit(139); // e.g. a native crash between jobs
    expect(workers.hasWarm).toBe(false);
    expect(workers.take(quiet).reused).toBe(false);
    expect(made).toHaveLength(3);
  });

  it('sends the engine policy to live workers and to new ones; keeps the stats a worker reports, not passing them to the job', () => {
    const { made, launch } = launcher();
    const workers = new JobWorkers(launch);
    const seen: FromWorker[] = [];
    const job = workers.take({ onMessage: (m) => seen.push(m), onExit: () => {} });
    workers.configure({ idleMs: 60_000, budgetBytes: 0 });
    expect(made[0]!.posted).toEqual([{ type: 'configure', policy: { idleMs: 60_000, budgetBytes: 0 } }]);
    made[0]!.say({ type: 'engine', stats });
    made[0]!.say({ type: 'done', result: 1 });
    expect(workers.engineStats()).toEqual(stats);
    expect(seen).toEqual([{ type: 'done', result: 1 }]);
    job.kill();
    workers.take(quiet);
    expect(made[1]!.posted).toEqual([{ type: 'configure', policy: { idleMs: 60_000, budgetBytes: 0 } }]);
    workers.close();
    expect(made[1]!.killed).toBe(true);
  });
});
