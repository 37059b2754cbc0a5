// Issue #17 item 8: "ignoring a malformed job.metric event (point.loss: expected number, received
// null)". The loss of a validation point before the first update is NaN (there is no training loss
// yet); JSON, the web host's transport, turns NaN into null, which the contract rightly refuses
// (a null loss is not a value). Points leave the worker without their non-finite numbers, so every
// point a job reports passes the contract after the trip through JSON, and the stored curve has a gap
// there rather than a bad line.
import { afterAll, describe, expect, it } from 'vitest';
import { events } from '../../../src/common/contract';
import { jobRunners, type JobRunners } from '../../../src/main/jobs/kinds/index';
import { serveJobs } from '../../../src/main/jobs/run-in-worker';
import type { FromWorker, ToWorker } from '../../../src/main/workers/job-protocol';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

afterAll(removeTmpDirs);

/** Runs one job with `runners` in this thread and collects what the worker posts until it ends. */
function runScripted(runners: JobRunners): Promise<FromWorker[]> {
  return new Promise((resolve) => {
    const posted: FromWorker[] = [];
    let listener: ((m: ToWorker) => void) | undefined;
    serveJobs(
      {
        post: (m) => {
          posted.push(m);
          if (m.type === 'done' || m.type === 'failed' || m.type === 'cancelled') resolve(posted);
        },
        onMessage: (l) => (listener = l),
      },
      runners,
    );
    const dir = tmpDir('cleft-metric-points-');
    listener!({ type: 'start', job: { id: 7, kind: 'hash-folder', params: { folder: dir }, jobDir: dir, dataDir: dir, checkpoint: null } });
  });
}

describe('training-curve points from a job', () => {
  it('never carry NaN or infinities, so they survive JSON and pass the job.metric contract', async () => {
    const posted = await runScripted({
      ...jobRunners,
      'hash-folder': (async (ctx) => {
        // What the training loop reports: the starting point's validation (no update yet, loss NaN),
        // an update, and a validation whose metric could not be computed.
        ctx.metric({ step: 0, loss: NaN, lr: 0, val: { loss: 1.2, accuracy: 0.5 } });
        ctx.metric({ step: 1, loss: 0.9, lr: 1e-3 });
        ctx.metric({ step: 2, loss: Infinity, lr: 1e-3, val: { loss: 0.8, auc: NaN } });
        throw new Error('scripted end');
      }) as JobRunners['hash-folder'],
    });
    const points = posted.flatMap((m) => (m.type === 'metric' ? [m.point] : []));
    expect(points).toEqual([
      { step: 0, lr: 0, val: { loss: 1.2, accuracy: 0.5 } },
      { step: 1, loss: 0.9, lr: 1e-3 },
      // After an update a non-finite loss is divergence, kept as a flag the Training page warns on.
      { step: 2, lossNotFinite: true, lr: 1e-3, val: { loss: 0.8 } },
    ]);
    for (const point of points) {
      const overTheWire: unknown = JSON.parse(JSON.stringify({ jobId: 7, point }));
      expect(events['job.metric'].safeParse(overTheWire).success).toBe(true);
    }
    // A null loss stays refused: it would mean a bug upstream, not a point to draw.
    expect(events['job.metric'].safeParse({ jobId: 7, point: { step: 0, loss: null } }).success).toBe(false);
  });
});
