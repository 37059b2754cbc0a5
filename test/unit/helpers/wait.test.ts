// test/helpers/wait.ts: `until` waits for a state given by a sync or an async predicate, never runs
// two polls of an async one at once, and ends with the predicate's error or a message naming the state.
import { describe, expect, it } from 'vitest';
import { until } from '../../helpers/wait';

describe('until', () => {
  it('resolves once a sync predicate holds', async () => {
    let polls = 0;
    await until(() => ++polls >= 3, 'third poll');
    expect(polls).toBe(3);
  });

  it('resolves once an async predicate holds, awaiting each poll before the next', async () => {
    let polls = 0;
    let running = 0;
    let overlapped = false;
    await until(
      async () => {
        running++;
        overlapped ||= running > 1;
        // A poll that settles only after a later turn of the event loop, as a child process would.
        await new Promise((resolve) => setImmediate(resolve));
        running--;
        return ++polls >= 5;
      },
      'fifth poll',
      60_000,
      1,
    );
    expect(polls).toBe(5);
    expect(overlapped).toBe(false);
  });

  it('rejects with what the predicate throws or rejects with', async () => {
    await expect(
      until(() => {
        throw new Error('the process ended');
      }, 'never'),
    ).rejects.toThrow('the process ended');
    await expect(until(() => Promise.reject(new Error('the server went away')), 'never')).rejects.toThrow('the server went away');
  });

  it('rejects naming the state once the timeout has passed', async () => {
    await expect(until(() => false, 'a state that never comes', 0)).rejects.toThrow('a state that never comes: not reached in 0 s');
    await expect(until(() => Promise.resolve(false), 'an async state', 0)).rejects.toThrow('an async state: not reached in 0 s');
  });
});
