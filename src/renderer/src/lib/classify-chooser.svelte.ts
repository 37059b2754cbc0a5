// What a classification runs with: a CLEFT bundle and a prompt set of it for the task (a learned
// one, or '' for the task's prompt templates). One chooser behind the viewer's one-click classify,
// the Library's "Classify all" and the Predictions page; each draws its own controls.
import type { ModelRecord, PromptSetInfo } from '../../../common/models';
import type { RendererClient } from './client';

/** The bundle last chosen in the viewer: the viewer and the Library's "Classify all" start from it. */
const MODEL_KEY = 'cleft.viewer.classify.model';

function rememberedModel(): number | null {
  try {
    const n = Number(localStorage.getItem(MODEL_KEY));
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

export interface ChooserOptions {
  /** Start from the bundle last chosen in the viewer (and, on `selectModel`, remember the choice). */
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
  /** The model:task pair whose active prompt set was last preselected. */
  private defaultedFor = '';
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
   * Lists the bundles and chooses the remembered one (with `remember`) or keeps the chosen one,
   * else the newest (the back end's default).
   */
  async loadBundles(): Promise<void> {
    try {
      this.bundles = (await this.client.invoke('models.list', { kind: 'bundle' })).sort((a, b) => b.id - a.id);
      const wanted = this.remember ? rememberedModel() : this.modelId;
      this.modelId = this.bundles.find((b) => b.id === wanted)?.id ?? this.bundles[0]?.id ?? null;
    } finally {
      this.bundlesLoaded = true;
    }
  }

  selectModel(id: number): void {
    this.modelId = id;
    this.promptSet = '';
    if (!this.remember) return;
    try {
      localStorage.setItem(MODEL_KEY, String(id));
    } catch {
      // A preference only.
    }
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
      if (key !== this.defaultedFor) {
        this.defaultedFor = key;
        this.promptSet = this.activeSet ?? '';
      } else if (this.promptSet && !sets.some((s) => s.name === this.promptSet)) this.promptSet = '';
    } catch {
      if (this.asked === key) this.promptSets = [];
    }
  }
}
