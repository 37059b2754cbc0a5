// Checks for the numeric fields of the forms (NumberField): one message naming the field and the
// allowed range, shown under the field (and in a job form's summary), so bad input never reaches the
// back end.
export interface NumberSpec {
  label: string;
  min: number;
  max: number;
  /** Whole numbers only (steps, sizes, seeds). */
  integer?: boolean;
  step?: number | 'any';
  /** What the number counts (minutes, MiB), shown after the label. */
  unit?: string;
  hint?: string;
}

/** The number a field's text reads as, or NaN when it is not one (decimal digits, optional sign and fraction). */
export function numberOfText(text: string): number {
  const t = text.trim();
  return /^[-+]?\d+(\.\d+)?$/.test(t) ? Number(t) : Number.NaN;
}

/** What is wrong with `value` for `spec`, or null when it is fine. */
export function numberProblem(value: unknown, spec: NumberSpec): string | null {
  if (typeof value !== 'number' || !Number.isFinite(value)) return `${spec.label}: enter a number`;
  if (spec.integer && !Number.isInteger(value)) return `${spec.label}: enter a whole number`;
  if (value < spec.min || value > spec.max) return `${spec.label} must be between ${spec.min} and ${spec.max} (got ${value})`;
  return null;
}

/** The problems of several numeric fields, in form order. */
export function numberProblems(entries: [unknown, NumberSpec][]): string[] {
  return entries.map(([v, s]) => numberProblem(v, s)).filter((p): p is string => p !== null);
}

/** Names of things the back end creates (prompt sets, adaptors, models): the contract's rule, in words. */
export const ARTEFACT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function nameProblem(value: string, label: string, taken: readonly string[] = []): string | null {
  const v = value.trim();
  if (!v) return `${label}: enter a name`;
  if (!ARTEFACT_NAME_RE.test(v)) return `${label}: use letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit`;
  return taken.includes(v) ? `${label}: the bundle already has “${v}”; choose another name` : null;
}

/** `base`, or `base-2`, `base-3`, … when the bundle already holds that name. */
export function freeName(base: string, taken: readonly string[]): string {
  if (!taken.includes(base)) return base;
  for (let i = 2; ; i++) if (!taken.includes(`${base}-${i}`)) return `${base}-${i}`;
}

/** A default name for a new artefact: the prefix and today's date. */
export function datedName(prefix: string): string {
  return `${prefix}-${new Date().toISOString().slice(0, 10)}`;
}

export const SEED: NumberSpec = {
  label: 'Seed',
  min: -2147483648,
  max: 2147483647,
  integer: true,
  hint: 'Same seed, same split and result',
};
export const VAL_FRACTION: NumberSpec = {
  label: 'Validation fraction',
  min: 0,
  max: 0.5,
  step: 0.05,
  hint: 'Held out per class for the curves and the before/after',
};

/** The message of a refusal, for the form. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
