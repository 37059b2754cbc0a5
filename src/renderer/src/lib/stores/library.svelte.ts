// The studies list and the files an import could not use, for the Library page. The viewer walks
// the same list (next/previous study) with the same filter and order, beyond the first page: it
// asks the back end where the open study stands (library.studies `locate`) and fetches the row
// at the next index.
import type { ImportProblem, MethodInput, StudyFilter, StudySummary } from '../../../../common/contract';
import type { ProblemGroup } from '../../../../common/import-problems';
import type { RendererClient } from '../client';
import { PageCache } from '../virtual-rows';

const PAGE_SIZE = 200;

export type StudySort = NonNullable<MethodInput<'library.studies'>['sort']>;
export type StudySortKey = StudySort['key'];

/** The Library's prediction filters; they refer to the Labels task's latest exam prediction. */
export interface PredictionFilters {
  taskId: number | null;
  /** '' = any. */
  predictedClass: string;
  /** '' = any; 'none' = not classified yet; 'disagree' / 'agree' = against the labels. */
  status: '' | 'none' | 'disagree' | 'agree';
}

/** The Library's image filters ('' = any): a study matches when some image of it has the value. */
export interface StudyFilters {
  modality: string;
  laterality: '' | 'L' | 'R';
  view: string;
  presentationIntent: '' | 'FOR PRESENTATION' | 'FOR PROCESSING';
  labelled: '' | 'yes' | 'no';
}

export class LibraryStore {
  rows = $state<StudySummary[]>([]);
  total = $state(0);
  text = $state('');
  sort = $state<StudySort>({ key: 'studyDate', dir: 'desc' });
  loaded = $state(false);
  loadError = $state<string | null>(null);
  problems = $state<ImportProblem[]>([]);
  problemsTotal = $state(0);
  /** The latest import's left-out files by group (not DICOM, duplicates, other skipped, refused). */
  problemGroups = $state<Record<ProblemGroup, number>>({ notDicom: 0, duplicate: 0, skipped: 0, refused: 0 });
  predictionFilters = $state<PredictionFilters>({ taskId: null, predictedClass: '', status: '' });
  studyFilters = $state<StudyFilters>({ modality: '', laterality: '', view: '', presentationIntent: '', labelled: '' });
  /** Where the viewer's study stands in the whole filtered list (0-based), once asked. */
  located = $state<{ studyId: number; position: number | null; total: number } | null>(null);
  /** Bumped when a page of rows beyond the first arrives, so the table re-reads rowAt. */
  pageVersion = $state(0);
  /** Rows beyond the first page, fetched as the table scrolls (same filter and order). */
  private readonly pages = new PageCache<StudySummary>(
    PAGE_SIZE,
    async (offset, limit) =>
      (await this.client.invoke('library.studies', { filter: this.filter(), sort: { ...this.sort }, limit, offset })).rows,
    () => this.pageVersion++,
  );
  /** Answers to older requests are dropped when the search changed in between. */
  private generation = 0;
  private loading: Promise<void> | null = null;

  constructor(private readonly client: RendererClient) {}

  /** Loads once (the viewer opened directly needs the list for next/previous). */
  ensure(): Promise<void> {
    if (this.loaded) return Promise.resolve();
    this.loading ??= this.load();
    return this.loading;
  }

  /** The filter the table, the viewer's next/previous and Classify all share. */
  filter(): StudyFilter {
    const f: StudyFilter = {};
    const text = this.text.trim();
    if (text) f.text = text;
    const i = this.studyFilters;
    if (i.modality) f.modality = i.modality;
    if (i.laterality) f.laterality = i.laterality;
    if (i.view) f.view = i.view;
    if (i.presentationIntent) f.presentationIntent = i.presentationIntent;
    if (i.labelled) f.labelled = i.labelled === 'yes';
    const p = this.predictionFilters;
    if (p.taskId !== null) f.taskId = p.taskId;
    if (p.predictedClass) f.predictedClass = p.predictedClass;
    if (p.status === 'none') f.predicted = false;
    if (p.status === 'disagree') f.disagreement = true;
    if (p.status === 'agree') f.disagreement = false;
    return f;
  }

  /** Whether anything narrows the list (the table says "match", the empty text differs). */
  get filtered(): boolean {
    const p = this.predictionFilters;
    const imageFiltered = Object.values(this.studyFilters).some((v) => v !== '');
    return this.text.trim() !== '' || imageFiltered || p.predictedClass !== '' || p.status !== '';
  }

  async load(): Promise<void> {
    const generation = ++this.generation;
    this.located = null;
    this.pages.reset();
    try {
      const [studies, problems] = await Promise.all([
        this.client.invoke('library.studies', { filter: this.filter(), sort: { ...this.sort }, limit: PAGE_SIZE }),
        this.client.invoke('library.problems', { limit: 100 }),
      ]);
      if (generation !== this.generation) return;
      this.rows = studies.rows;
      this.total = studies.total;
      this.problems = problems.rows;
      this.problemsTotal = problems.total;
      this.problemGroups = problems.groups;
      this.loaded = true;
      this.loadError = null;
    } catch (err) {
      if (generation === this.generation) this.loadError = err instanceof Error ? err.message : String(err);
    } finally {
      this.loading = null;
    }
  }

  /** Row `index` of the whole filtered list, or undefined while its page is on its way. */
  rowAt(index: number): StudySummary | undefined {
    void this.pageVersion;
    return index < this.rows.length ? this.rows[index] : this.pages.row(index);
  }

  /** Fetches the pages the table is about to show (rows [start, end)). */
  async ensureRange(start: number, end: number): Promise<void> {
    if (end <= this.rows.length) return;
    try {
      await this.pages.ensure(Math.max(start, this.rows.length), end);
    } catch (err) {
      this.loadError = err instanceof Error ? err.message : String(err);
    }
  }

  /** Clicking a sorted column flips its direction; another column starts with its natural one. */
  sortBy(key: StudySortKey): Promise<void> {
    const dir =
      this.sort.key === key ? (this.sort.dir === 'asc' ? 'desc' : 'asc') : key === 'studyDate' || key === 'images' ? 'desc' : 'asc';
    this.sort = { key, dir };
    return this.load();
  }

  /** Every study id of the current filter, in list order (Classify all: the filter, not the page). */
  async selectionIds(): Promise<number[]> {
    return (await this.client.invoke('library.studyIds', { filter: this.filter(), sort: { ...this.sort } })).ids;
  }

  /** Where `studyId` stands in the whole filtered list: from the loaded page, else asked of the back end. */
  async locate(studyId: number): Promise<number | null> {
    const index = this.rows.findIndex((r) => r.id === studyId);
    if (index >= 0) {
      this.located = { studyId, position: index, total: this.total };
      return index;
    }
    if (this.located?.studyId === studyId) return this.located.position;
    const answer = await this.client.invoke('library.studies', {
      filter: this.filter(),
      sort: { ...this.sort },
      limit: 1,
      locate: studyId,
    });
    this.located = { studyId, position: answer.position ?? null, total: answer.total };
    return answer.position ?? null;
  }

  /**
   * The study before or after `studyId` in the whole filtered list, or null at its ends. A study
   * outside the filter (opened by address) steps to the list's first study.
   */
  async neighbour(studyId: number, step: 1 | -1): Promise<StudySummary | null> {
    await this.ensure();
    const index = await this.locate(studyId);
    const target = index === null ? 0 : index + step;
    if (target < 0) return null;
    if (target < this.rows.length) return this.rows[target] ?? null;
    const page = await this.client.invoke('library.studies', { filter: this.filter(), sort: { ...this.sort }, limit: 1, offset: target });
    const row = page.rows[0] ?? null;
    if (row) this.located = { studyId: row.id, position: target, total: page.total };
    return row;
  }
}

/** DICOM dates are YYYYMMDD; show them as ISO dates, anything else as it is. */
export function formatDicomDate(value: string | null): string {
  if (!value) return '—';
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(value);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : value;
}
