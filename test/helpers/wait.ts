// Waiting for a state (a file, a row, a job's status), never for a duration: the predicate is
// polled until it holds; the timeout only bounds a failure, so a busy machine is slower, not flaky.

/**
 * Resolves once `predicate()` holds; rejects naming `what` when it has not after `timeoutMs`, or with
 * what it throws (or rejects with). An async predicate (a query to a server, a child process) is
 * awaited before the next poll, so polls never overlap; `intervalMs` spaces polls that cost a process.
 */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 120_000,
  intervalMs = 10,
): Promise<void> {
  const started = Date.now();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    // A throw ends the wait: the state can no longer come (e.g. the process ended).
    if (await predicate()) return;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not reached in ${timeoutMs / 1000} s`);
  }
}
