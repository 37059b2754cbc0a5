// Axis ticks at round values (1, 2, 2.5 or 5 × a power of ten) inside the domain, so a 10,000-step axis
// reads 2000, 4000, … instead of 2501, 5001, 7500.

/** About `count` round ticks within [lo, hi] (whole numbers when `integer`); the ends when the domain is a point. */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) return Number.isFinite(lo) ? [lo] : [];
  const span = hi - lo;
  // The smallest round step that needs at most `count` intervals.
  const power = 10 ** Math.floor(Math.log10(span / count));
  const step = [1, 2, 2.5, 5, 10, 20]
    .map((m) => m * power)
    .filter((s) => !integer || (s >= 1 && Number.isInteger(s)))
    .concat(integer ? [Math.max(1, Math.ceil(span / count))] : [])
    .find((s) => span / s <= count + 1e-9)!;
  const out: number[] = [];
  // Rounded to the step's decimals, so 0.1 + 0.2 prints as 0.3.
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toFixed(decimals)));
  return out;
}

/** The label of a tick with as few decimals as the step needs. */
export function tickLabel(v: number, ticks: readonly number[]): string {
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : Math.abs(v) || 1;
  const decimals = Math.min(4, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  // 2.5 × 10^k steps need one more decimal (0.25, 0.75).
  const needed = Number(step.toFixed(decimals)) === step ? decimals : decimals + 1;
  return v.toFixed(needed);
}
