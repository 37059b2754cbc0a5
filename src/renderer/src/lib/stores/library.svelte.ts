// The studies list and the files an import could not use, for the Library page. The viewer walks
// the same list (next/previous study), in the same order, so it keeps the current rows.
import type { ImportProblem, MethodInput, StudySummary } from '../../../../common/contract';
import type { RendererClient } from '../client';

const PAGE_SIZE = 200;

export type StudySort = NonNullable<MethodInput<'library.studies'>['sort']>;
export type StudySortKey = StudySort['key'];

export class LibraryStore {
  rows = $state<StudySummary[]>([]);
  total = $state(0);
  text = $state('');
  sort = $state<StudySort>({ key: 'studyDate', dir: 'desc' });
  loaded = $state(false);
  loadError = $state<string | null>(null);
  problems = $state<ImportProblem[]>([]);
  problemsTotal = $state(0);
  problemCounts = $state<{ skipped: number; refused: number }>({ skipped: 0, refused: 0 });
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

  async load(): Promise<void> {
    const generation = ++this.generation;
    const text = this.text.trim();
    try {
      const [studies, problems] = await Promise.all([
        this.client.invoke('library.studies', { filter: text ? { text } : {}, sort: { ...this.sort }, limit: PAGE_SIZE }),
        this.client.invoke('library.problems', { limit: 100 }),
      ]);
      if (generation !== this.generation) return;
      this.rows = studies.rows;
      this.total = studies.total;
      this.problems = problems.rows;
      this.problemsTotal = problems.total;
      this.problemCounts = problems.counts;
      this.loaded = true;
      this.loadError = null;
    } catch (err) {
      if (generation === this.generation) this.loadError = err instanceof Error ? err.message : String(err);
    } finally {
      this.loading = null;
    }
  }

  /** Clicking a sorted column flips its direction; another column starts with its natural one. */
  sortBy(key: StudySortKey): Promise<void> {
    const dir =
      this.sort.key === key ? (this.sort.dir === 'asc' ? 'desc' : 'asc') : key === 'studyDate' || key === 'images' ? 'desc' : 'asc';
    this.sort = { key, dir };
    return this.load();
  }

  /** The study before or after `studyId` in the current list, or null at its ends. */
  neighbour(studyId: number, step: 1 | -1): StudySummary | null {
    const index = this.rows.findIndex((r) => r.id === studyId);
    if (index < 0) return this.rows[0] ?? null;
    return this.rows[index + step] ?? null;
  }
}

/** DICOM dates are YYYYMMDD; show them as ISO dates, anything else as it is. */
export function formatDicomDate(value: string | null): string {
  if (!value) return '—';
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(value);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : value;
}
