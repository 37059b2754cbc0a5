// Test-only kill switch for multi-step saves: with CLEFT_CRASH_AT=<point> in the environment the
// process is SIGKILLed when it reaches that point, exactly as a power cut or `kill -9` would cut
// it (no finally blocks, no exit handlers). Tests use it to prove every step of a save resumes.
export const CRASH_AT_ENV = 'CLEFT_CRASH_AT';

/** Kills the whole process (from a worker thread too) when `point` is the one named in CLEFT_CRASH_AT. */
export function crashPoint(point: string): void {
  if (process.env[CRASH_AT_ENV] === point) process.kill(process.pid, 'SIGKILL');
}
