// What a classification runs with: a CLEFT bundle and a prompt set of it for the task (a learned
// one, or '' for the task's prompt templates). One chooser behind the viewer's one-click classify,
// the Library's "Classify all" and the Predictions page; each draws its own controls.
import type { ModelRecord, PromptSetInfo } from '../../../common/models';
import type { RendererClient } from './client';

/** The bundle in use in the viewer: the viewer and the Library's "Classify all" start from it. */
const MODEL_KEY = 'cleft.viewer.classify.model';
/** The newest bundle id the viewer's user has seen offered or chosen: newer ones are offered once. */
const SEEN_KEY = 'cleft.viewer.classify.seen';

function stored(key: string): number | null {
  try {
    const n = Number(localStorage.getItem(key));
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

function store(key: string, id: number): void {
  try {
    localStorage.setItem(key, String(id));
  } catch {
    // A preference only.
  }
}

function rememberedModel(): number | null {
  return stored(MODEL_KEY);
}

export interface ChooserOptions {
  /** Start from the viewer's model in use and keep it there (the choice, else the default it fell on). */
  remember: boolean;
}

export class ClassifyChooser {
  protected readonly client: RendererClient;
  private readonly remember: boolean;
  /** The library's CLEFT bundles, newest first. */
  bundles = $state<ModelRecord[]>([]);
  bundlesLoaded = $state(false);
  modelId = $state<number | null>(null);
  /** The bundle's learned prompt sets for the task. */
  promptSets = $state<PromptSetInfo[]>([]);
  /** '' = the task's prompt templates. */
  promptSet = $state('');
  /**
   * A bundle that arrived after the choice was made (a LoRA training's model): offered, never
   * switched to by itself; null once chosen or dismissed.
   */
  newer = $state<ModelRecord | null>(null);
  /** The model:task pair whose active prompt set was last preselected. */
  private defaultedFor = '';
  /** The newest bundle id already listed when the choice was made (newer ones are offered). */
  private seen: number | null = null;
  /** A run's model and prompt set to show once the bundles and their sets are listed (`follow`). */
  private pending: { modelId: number | null; promptSet: string } | null = null;
  /** The model:task pair of the latest prompt-set request (older answers are dropped). */
  private asked = '';

  constructor(client: RendererClient, options: ChooserOptions) {
    this.client = client;
    this.remember = options.remember;
    if (this.remember) this.modelId = rememberedModel();
  }

  // Getters over state: reactive wherever they are read (template, $derived, $effect).
  get model(): ModelRecord | null {
    return this.bundles.find((b) => b.id === this.modelId) ?? null;
  }
  /** The set activated for (model, task), if any: preselected, as classify.start defaults to it. */
  get activeSet(): string | null {
    return this.promptSets.find((p) => p.active)?.name ?? null;
  }

  /**
   * Lists the bundles and keeps the chosen one (at first the remembered one, with `remember`), else
   * the newest (the back end's default). A bundle new since the last listing is offered (`newer`),
   * not chosen: what classifies never changes behind the user's back.
   */
  async loadBundles(): Promise<void> {
    try {
      this.bundles = (await this.client.invoke('models.list', { kind: 'bundle' })).sort((a, b) => b.id - a.id);
      // The viewer's model in use (another page may have changed it), else the one in use here.
      const wanted = this.pending?.modelId ?? (this.remember ? (rememberedModel() ?? this.modelId) : this.modelId);
      const kept = this.bundles.find((b) => b.id === wanted)?.id ?? null;
      this.modelId = kept ?? this.bundles[0]?.id ?? null;
      if (this.pending) this.pending.modelId = null;
      const newest = this.bundles[0]?.id ?? 0;
      if (this.remember && this.modelId !== null) store(MODEL_KEY, this.modelId);
      const seen = (this.remember ? stored(SEEN_KEY) : this.seen) ?? newest;
      this.markSeen(Math.max(seen, kept === null ? newest : 0));
      this.newer = this.bundles.find((b) => b.id > this.seen! && b.id !== this.modelId) ?? null;
    } finally {
      this.bundlesLoaded = true;
    }
  }

  /** Leaves the offered new model aside (the choice stays). */
  dismissNewer(): void {
    this.markSeen(this.bundles[0]?.id ?? 0);
    this.newer = null;
  }

  private markSeen(id: number): void {
    this.seen = Math.max(this.seen ?? 0, id);
    if (this.remember && this.seen > 0) store(SEEN_KEY, this.seen);
  }

  /**
   * Shows what a run ran with: its model and its prompt set ('' for the task's templates), so the
   * selectors agree with the run picked. Applied now when listed, else once the lists arrive.
   */
  follow(modelId: number | null, promptSet: string | null): void {
    const set = promptSet ?? '';
    if (!this.bundlesLoaded) {
      this.pending = { modelId, promptSet: set }; // loadBundles chooses the model, its sets the set
      return;
    }
    const model = modelId !== null && this.bundles.some((b) => b.id === modelId) ? modelId : this.modelId;
    this.pending = { modelId: null, promptSet: set };
    if (model !== this.modelId)
      this.modelId = model; // its prompt sets load and take `pending`
    else if (set === '' || this.promptSets.some((p) => p.name === set)) {
      this.promptSet = set;
      this.pending = null;
    }
  }

  selectModel(id: number): void {
    this.modelId = id;
    this.promptSet = '';
    if (this.newer && this.newer.id <= id) this.dismissNewer();
    if (this.remember) store(MODEL_KEY, id);
  }

  /**
   * The bundle's learned prompt sets for the task. A new model or task starts on its active set;
   * a choice made afterwards (templates included) stands until the model or task changes, and
   * falls back to the templates if its set is gone.
   */
  async loadPromptSets(taskId: number | null): Promise<void> {
    const modelId = this.modelId;
    const key = `${modelId}:${taskId}`;
    this.asked = key;
    if (key !== this.defaultedFor) {
      this.promptSets = [];
      this.promptSet = '';
    }
    if (modelId === null || taskId === null) {
      this.promptSets = [];
      return;
    }
    try {
      const sets = await this.client.invoke('promptSets.list', { modelId, taskId });
      if (this.asked !== key) return;
      this.promptSets = sets;
      // A run's prompt set is for its model: kept while the bundles are still on their way to it.
      const forThis = this.pending !== null && (this.pending.modelId === null || this.pending.modelId === modelId);
      const want = forThis ? this.pending!.promptSet : undefined;
      if (forThis) this.pending = null;
      if (want !== undefined && (want === '' || sets.some((s) => s.name === want))) {
        this.defaultedFor = key;
        this.promptSet = want;
      } else if (key !== this.defaultedFor) {
        this.defaultedFor = key;
        this.promptSet = this.activeSet ?? '';
      } else if (this.promptSet && !sets.some((s) => s.name === this.promptSet)) this.promptSet = '';
    } catch {
      if (this.asked === key) this.promptSets = [];
    }
  }
}
