// Classification tasks: classes with one or more prompt templates each. The built-in mammography
// tasks (breast density A-D, BI-RADS 0-6, EMBED prompts as in the CLEFT paper) come from
// resources/tasks; custom tasks have the same shape (the library stores them, src/main/db).
import birads from '../../../resources/tasks/birads.json';
import density from '../../../resources/tasks/breast-density.json';
import { canonicalJson, sha256Hex } from '../io/hash';

export type TaskScope = 'image' | 'breast' | 'exam';

export interface TaskClassSpec {
  /** Short name (e.g. "A"), used as the label. */
  name: string;
  /** Human-readable label (e.g. "Almost entirely fat"). */
  label?: string;
  /** Prompt templates; the class text embedding is the renormalised mean of their embeddings. */
  prompts: string[];
}

export interface TaskSpec {
  name: string;
  description?: string;
  scope: TaskScope;
  classes: TaskClassSpec[];
}

function check(t: TaskSpec): TaskSpec {
  if (!t.name) throw new Error('task: empty name');
  if (t.classes.length < 2) throw new Error(`task "${t.name}": needs at least 2 classes`);
  for (const c of t.classes)
    if (!c.prompts.length || c.prompts.some((p) => !p.trim()))
      throw new Error(`task "${t.name}": class "${c.name}" needs non-empty prompts`);
  return t;
}

export const BUILTIN_TASKS: readonly TaskSpec[] = [density, birads].map((t) => check(t as TaskSpec));

/** A built-in task by name (case-insensitive), or null. */
export function builtinTask(name: string): TaskSpec | null {
  const n = name.trim().toLowerCase();
  return BUILTIN_TASKS.find((t) => t.name.toLowerCase() === n) ?? null;
}

/** Validates a task object (custom tasks from the library or a JSON file). */
export function parseTask(raw: unknown): TaskSpec {
  const t = raw as Partial<TaskSpec>;
  if (!t || typeof t !== 'object' || typeof t.name !== 'string' || !Array.isArray(t.classes))
    throw new Error('task: expected {name, scope, classes: [{name, prompts}]}');
  return check({
    name: t.name,
    description: t.description ?? '',
    scope: t.scope ?? 'image',
    classes: t.classes.map((c) => ({
      name: String(c.name),
      ...(c.label ? { label: String(c.label) } : {}),
      prompts: (c.prompts ?? []).map(String),
    })),
  });
}

/** sha256 of the prompts that determine class text embeddings (class order and templates). */
export function promptsSha256(task: TaskSpec): string {
  return sha256Hex(canonicalJson({ classes: task.classes.map((c) => ({ name: c.name, prompts: c.prompts })) }));
}

/**
 * The class-name part of a prompt for prompt learning: the text after the first ": " of the first
 * template's shared prefix, e.g. "breast tissue density 1: almost entirely fat." from the EMBED
 * template "This is a breast 2D full-field digital mammogram of a patient with breast tissue
 * density 1: almost entirely fat.". Falls back to the class label or name.
 */
export function classNamesForPromptLearning(task: TaskSpec): string[] {
  const firsts = task.classes.map((c) => c.prompts[0]!);
  const prefix = commonPrefix(firsts);
  const cut = prefix.lastIndexOf(' with ');
  if (cut > 0) return firsts.map((p) => p.slice(cut + ' with '.length).trim());
  const space = prefix.lastIndexOf(' ');
  if (space > 0 && firsts.every((p) => p.length > space + 1)) return firsts.map((p) => p.slice(space + 1).trim());
  return task.classes.map((c) => c.label ?? c.name);
}

/** The default phrase whose token embeddings initialise the learned context (CLEFT's prompt). */
export const DEFAULT_INIT_PHRASE = 'This is a breast 2D full-field digital mammogram of a patient with';

function commonPrefix(xs: string[]): string {
  let p = xs[0] ?? '';
  for (const x of xs) while (!x.startsWith(p)) p = p.slice(0, -1);
  return p;
}
