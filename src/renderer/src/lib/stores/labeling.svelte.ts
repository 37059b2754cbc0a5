// The labeling session beside the viewer, and the task in view on every page: the chosen task and scope, the labels of the open study,
// progress, and undo. Every label is saved the moment it is given: the panel shows it at once
// (optimistic), rolls back and raises an alert if the back end refuses, and remembers what each
// save replaced so Ctrl+Z can put it back.
import type { Label, LabelScope, MethodOutput, Task } from '../../../../common/contract';
import type { RendererClient } from '../client';
import { defaultTaskId, sameTarget, type Target } from '../labeling';
import type { ToastStore } from './toasts.svelte';

export interface UndoEntry {
  target: Target;
  /** The label that was there before the action (null: there was none). */
  previous: Label | null;
  /** What the action left there (null after a clear). */
  className: string | null;
}

type Progress = MethodOutput<'labels.progress'>;

const TASK_KEY = 'cleft.labeling.task';
const ADVANCE_KEY = 'cleft.labeling.autoAdvance';
const UNDO_DEPTH = 200;

function readStorage(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
function writeStorage(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Preferences only; labels themselves are in the back end.
  }
}

export class LabelingStore {
  tasks = $state<Task[]>([]);
  tasksError = $state<string | null>(null);
  taskId = $state<number | null>(null);
  scope = $state<LabelScope>('breast');
  autoAdvance = $state(readStorage(ADVANCE_KEY) !== 'false');
  studyId = $state<number | null>(null);
  labels = $state<Label[]>([]);
  progress = $state<Progress | null>(null);
  undoStack = $state<UndoEntry[]>([]);
  saving = $state(0);
  readonly task = $derived(this.tasks.find((t) => t.id === this.taskId) ?? null);
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping of saves in flight, never rendered
  private readonly pending = new Set<Promise<unknown>>();
  private tempId = -1;
  /** Whether the task in view is the user's choice (now or remembered), not a default. */
  private chosen = false;
  private early: { id: number; how: 'user' | 'default' } | null = null;

  constructor(
    private readonly client: RendererClient,
    private readonly toasts: ToastStore,
  ) {}

  /**
   * Loads the tasks and, unless the user has chosen one, picks the task in view: their last one, else
   * the one with the most labels (defaultTaskId). The shell calls it again when the library's label
   * count changes, so a default follows the labels (the demo's density) until the user chooses.
   */
  async loadTasks(): Promise<void> {
    try {
      const tasks = await this.client.invoke('tasks.list', {});
      this.tasks = tasks;
      this.tasksError = null;
      const early = this.early;
      this.early = null;
      if (early && tasks.some((t) => t.id === early.id)) return this.selectTask(early.id, early.how);
      if (this.task && this.chosen) return;
      const saved = readStorage(TASK_KEY);
      const lastUsed = saved !== null && /^\d+$/.test(saved) && tasks.some((t) => t.id === Number(saved)) ? Number(saved) : null;
      // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a local tally, never rendered
      const counts = new Map<number, number>();
      if (lastUsed === null)
        await Promise.all(tasks.map(async (t) => counts.set(t.id, (await this.client.invoke('labels.progress', { taskId: t.id })).labels)));
      const pick = defaultTaskId(tasks, lastUsed, counts);
      if (this.chosen && this.task) return; // the user chose while the counts were loading
      if (lastUsed !== null) this.chosen = true;
      if (pick !== null && pick !== this.taskId) this.selectTask(pick, 'default');
    } catch (err) {
      this.tasksError = err instanceof Error ? err.message : String(err);
    }
  }

  /**
   * The task in view everywhere (Library filter, Viewer, Labels, Predictions): switching it on one
   * page switches the others. A user's choice is remembered as their last task; a default is not.
   */
  selectTask(id: number, how: 'user' | 'default' = 'user'): void {
    const task = this.tasks.find((t) => t.id === id);
    if (!task) {
      if (this.tasks.length === 0) this.early = { id, how }; // chosen before the list arrived (a run's link)
      return;
    }
    this.taskId = id;
    this.scope = task.scope;
    if (how === 'user') {
      this.chosen = true;
      writeStorage(TASK_KEY, String(id));
    }
    void this.refresh();
  }

  setAutoAdvance(on: boolean): void {
    this.autoAdvance = on;
    writeStorage(ADVANCE_KEY, String(on));
  }

  async openStudy(studyId: number): Promise<void> {
    if (this.studyId !== studyId) {
      this.studyId = studyId;
      this.labels = [];
    }
    await this.refresh();
  }

  /** Labels of the open study and the task's progress, fresh from the back end. */
  async refresh(): Promise<void> {
    const taskId = this.taskId;
    const studyId = this.studyId;
    if (taskId === null) return;
    try {
      const [labels, progress] = await Promise.all([
        studyId !== null ? this.client.invoke('labels.forStudy', { studyId, taskId }) : Promise.resolve(null),
        this.client.invoke('labels.progress', { taskId }),
      ]);
      if (taskId !== this.taskId) return;
      if (labels && studyId === this.studyId) this.labels = labels;
      this.progress = progress;
    } catch (err) {
      this.toasts.failure('Could not load labels', err);
    }
  }

  labelAt(target: Target): Label | null {
    return this.labels.find((l) => sameTarget(target, l)) ?? null;
  }

  /** Saves a label; resolves true once the back end has it. */
  set(target: Target, className: string): Promise<boolean> {
    const temp: Label = {
      id: this.tempId--,
      taskId: target.taskId,
      studyId: target.studyId,
      scope: target.scope,
      instanceId: target.instanceId ?? null,
      laterality: target.laterality ?? null,
      className,
      annotator: '',
      // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a timestamp, not state
      createdAt: new Date().toISOString(),
    };
    return this.mutate(
      target,
      temp,
      async () => {
        const { label, replaced } = await this.client.invoke('labels.set', { target, className });
        return { label, previous: replaced };
      },
      'Label not saved',
    );
  }

  clear(target: Target): Promise<boolean> {
    return this.mutate(
      target,
      null,
      async () => {
        const { removed } = await this.client.invoke('labels.clear', { target });
        return { label: null, previous: removed };
      },
      'Label not cleared',
    );
  }

  /** Reverts the last save or clear; resolves with it (the viewer goes back there) or null. */
  async undo(): Promise<UndoEntry | null> {
    await Promise.allSettled([...this.pending]);
    const entry = this.undoStack.at(-1);
    if (!entry) return null;
    this.undoStack = this.undoStack.slice(0, -1);
    const ok = entry.previous
      ? await this.mutate(entry.target, { ...entry.previous, id: this.tempId-- }, () => this.restore(entry), 'Undo failed', false)
      : await this.mutate(entry.target, null, () => this.restore(entry), 'Undo failed', false);
    if (!ok) this.undoStack = [...this.undoStack, entry];
    return ok ? entry : null;
  }

  private async restore(entry: UndoEntry): Promise<{ label: Label | null; previous: Label | null }> {
    if (entry.previous) {
      const { label } = await this.client.invoke('labels.set', { target: entry.target, className: entry.previous.className });
      return { label, previous: null };
    }
    await this.client.invoke('labels.clear', { target: entry.target });
    return { label: null, previous: null };
  }

  private async mutate(
    target: Target,
    optimistic: Label | null,
    call: () => Promise<{ label: Label | null; previous: Label | null }>,
    failure: string,
    recordUndo = true,
  ): Promise<boolean> {
    const onStudy = target.studyId === this.studyId;
    const before = this.labels;
    if (onStudy) {
      const rest = this.labels.filter((l) => !sameTarget(target, l));
      this.labels = optimistic ? [...rest, optimistic] : rest;
    }
    this.saving++;
    const run = call();
    this.pending.add(run);
    try {
      const { label, previous } = await run;
      if (target.studyId === this.studyId) {
        const rest = this.labels.filter((l) => !sameTarget(target, l));
        this.labels = label ? [...rest, label] : rest;
      }
      if (recordUndo) this.undoStack = [...this.undoStack, { target, previous, className: label?.className ?? null }].slice(-UNDO_DEPTH);
      void this.refreshProgress();
      return true;
    } catch (err) {
      // Roll back what the panel showed, and say so loudly: a label must never be silently lost.
      if (onStudy && target.studyId === this.studyId) {
        const rest = this.labels.filter((l) => !sameTarget(target, l));
        const old = before.find((l) => sameTarget(target, l));
        this.labels = old ? [...rest, old] : rest;
      }
      this.toasts.failure(failure, err);
      return false;
    } finally {
      this.pending.delete(run);
      this.saving--;
    }
  }

  private async refreshProgress(): Promise<void> {
    const taskId = this.taskId;
    if (taskId === null) return;
    try {
      const progress = await this.client.invoke('labels.progress', { taskId });
      if (taskId === this.taskId) this.progress = progress;
    } catch {
      // Counts are refreshed with the next label.
    }
  }
}
