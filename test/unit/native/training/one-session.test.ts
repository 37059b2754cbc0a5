// The engine's count of sessions per frozen weights (session-cache.ts weightSessions) and the
// one-at-a-time holder of the graphs over them (training/one-session.ts): taking another graph
// releases the one held first, taking the held one again creates nothing.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionCache, combinedWeights, resetWeightSessionPeaks, weightSessions } from '../../../../src/native/runtime/session-cache';
import { OneFrozenSession, inThreadRunner } from '../../../../src/native/training/index';
import { addConstModel } from '../runtime/helpers/onnx-min';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

afterAll(removeTmpDirs);

describe('sessions over frozen weights', () => {
  it('are counted per weights id (live and peak) through acquire, release, releaseWeights and clear', async () => {
    const cache = new SessionCache();
    const w = `test-weights-${Math.random()}`;
    resetWeightSessionPeaks();
    await cache.acquire({ bytes: addConstModel(new Float32Array([1])), weights: w });
    const b = await cache.acquire({ bytes: addConstModel(new Float32Array([2])), weights: w });
    await cache.acquire({ bytes: addConstModel(new Float32Array([3])) }); // no id: not counted
    expect(weightSessions(w)).toEqual({ live: 2, peak: 2 });
    await cache.release(b.entry.key);
    expect(weightSessions(w)).toEqual({ live: 1, peak: 2 });
    resetWeightSessionPeaks();
    expect(weightSessions(w)).toEqual({ live: 1, peak: 1 });
    expect(await cache.releaseWeights(w)).toHaveLength(1);
    expect(cache.stats().size).toBe(1); // the one without an id stays
    await cache.acquire({ bytes: addConstModel(new Float32Array([4])), weights: w });
    await cache.clear();
    expect(weightSessions(w)).toEqual({ live: 0, peak: 1 });
  });

  it('a session over combined weights (text and image encoder) counts for each, and releaseWeights of either releases it', async () => {
    const cache = new SessionCache();
    const [t, i] = [`test-text-${Math.random()}`, `test-image-${Math.random()}`];
    await cache.acquire({ bytes: addConstModel(new Float32Array([1])), weights: t });
    const both = await cache.acquire({ bytes: addConstModel(new Float32Array([2])), weights: combinedWeights([t, i]) });
    expect(weightSessions(t)).toEqual({ live: 2, peak: 2 });
    expect(weightSessions(i)).toEqual({ live: 1, peak: 1 });
    expect(await cache.releaseWeights(i)).toEqual([both.entry.key]);
    expect(weightSessions(t)).toEqual({ live: 1, peak: 2 });
    expect(weightSessions(i)).toEqual({ live: 0, peak: 1 });
    await cache.clear();
  });

  it('OneFrozenSession holds one session: another graph replaces it, the same graph is reused', async () => {
    const dir = tmpDir();
    const files = ['forward.onnx', 'train_step.onnx'].map((f, i) => {
      const file = path.join(dir, f);
      writeFileSync(file, addConstModel(new Float32Array([i])));
      return file;
    });
    const cache = new SessionCache();
    const w = `test-weights-${Math.random()}`;
    const one = new OneFrozenSession(inThreadRunner(cache), w);
    const a = await one.take(files[0]!, {});
    expect(await one.take(files[0]!, {})).toBe(a);
    expect(cache.stats()).toMatchObject({ size: 1, misses: 1 });
    await one.take(files[1]!, {});
    expect(cache.get(a.key)).toBeUndefined();
    const again = await one.take(files[0]!, {});
    expect(again.key).toBe(a.key); // created again: same file and options, same key
    expect(cache.stats()).toMatchObject({ size: 1, misses: 3 });
    expect(weightSessions(w)).toEqual({ live: 1, peak: 1 });
    await one.drop();
    expect(weightSessions(w)).toEqual({ live: 0, peak: 1 });
  });
});
