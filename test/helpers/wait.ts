// Waiting for a state (a file, a row, a job's status), never for a duration: the predicate is
// polled until it holds; the timeout only bounds a failure, so a busy machine is slower, not flaky.

/** Resolves once `predicate()` holds; rejects naming `what` when it has not after `timeoutMs`, or with what it throws. */
export function until(predicate: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      let holds: boolean;
      try {
        holds = predicate();
      } catch (err) {
        clearInterval(timer);
        reject(err as Error); // the state can no longer come (e.g. the process ended)
        return;
      }
      if (holds) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(timer);
        reject(new Error(`${what}: not reached in ${timeoutMs / 1000} s`));
      }
    }, 10);
  });
}
