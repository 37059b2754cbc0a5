// The studies list and the files an import could not use, for the Library page.
import type { ImportProblem, StudySummary } from '../../../../common/contract';
import type { RendererClient } from '../client';

const PAGE_SIZE = 200;

export class LibraryStore {
  rows = $state<StudySummary[]>([]);
  total = $state(0);
  text = $state('');
  loaded = $state(false);
  loadError = $state<string | null>(null);
  problems = $state<ImportProblem[]>([]);
  problemsTotal = $state(0);
  /** Answers to older requests are dropped when the search changed in between. */
  private generation = 0;

  constructor(private readonly client: RendererClient) {}

  async load(): Promise<void> {
    const generation = ++this.generation;
    const text = this.text.trim();
    try {
      const [studies, problems] = await Promise.all([
        this.client.invoke('library.studies', { filter: text ? { text } : {}, limit: PAGE_SIZE }),
        this.client.invoke('library.problems', { limit: 100 }),
      ]);
      if (generation !== this.generation) return;
      this.rows = studies.rows;
      this.total = studies.total;
      this.problems = problems.rows;
      this.problemsTotal = problems.total;
      this.loaded = true;
      this.loadError = null;
    } catch (err) {
      if (generation === this.generation) this.loadError = err instanceof Error ? err.message : String(err);
    }
  }
}

/** DICOM dates are YYYYMMDD; show them as ISO dates, anything else as it is. */
export function formatDicomDate(value: string | null): string {
  if (!value) return '—';
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(value);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : value;
}
