// How a job reads in the UI: a title from its kind, a one-line subject from its parameters, and
// its result in a few facts. Kinds the UI does not know yet still show honestly (raw kind name).
import type { Job, JobStatus } from '../../../common/jobs';
import { formatBytes, formatCount } from './format';
import { stoppingSummary } from '../../../common/progress';
import { deviceFacts } from './job-device';

export interface JobFact {
  label: string;
  value: string;
  /** Long values (hashes, paths) are shown monospace and may be copied. */
  mono?: boolean;
}

export interface JobDescription {
  title: string;
  subject: string | null;
  facts: JobFact[];
}

const TITLES: Record<string, string> = {
  'hash-folder': 'Verify folder',
  import: 'Import DICOM',
  classify: 'Classify studies',
  'prompt-learn': 'Prompt learning',
  'train-adaptor': 'Adaptor training',
  'train-lora': 'LoRA training',
  demo: 'Offline demo',
  explain: 'Where the model looks',
  'pacs-retrieve': 'Retrieve from archive',
};

export const FINAL_STATUSES: readonly JobStatus[] = ['done', 'failed', 'cancelled'];

export const STATUS_LABELS: Record<JobStatus, string> = {
  queued: 'Queued',
  running: 'Running',
  done: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
  interrupted: 'Interrupted',
};

export function canCancel(job: Job): boolean {
  return job.status === 'queued' || job.status === 'running' || job.status === 'interrupted';
}

export function canResume(job: Job): boolean {
  return job.status === 'interrupted' || job.status === 'failed' || job.status === 'cancelled';
}

/** Jobs that belong in the "Running" group: they still need the user's attention or time. */
export function isActive(job: Job): boolean {
  return job.status === 'queued' || job.status === 'running' || job.status === 'interrupted';
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/**
 * Where a classification's class text embeddings came from (ClassifyResult.classEmbeddings, a run's
 * record params.classEmbeddings.source): the library's cache, so the text encoder did not run, or
 * computed by the text encoder; null when not known (an adaptor has no text side; older results).
 */
export function classEmbeddingsText(source: unknown): string | null {
  if (source === 'cache') return 'from the cache (text encoder not run)';
  if (source === 'computed') return 'computed by the text encoder';
  return null;
}

/** The same for a run, from its record's params (`classEmbeddings: { source, keySha256 }` of a classify job). */
export function runClassEmbeddingsText(params: Record<string, unknown>): string | null {
  return classEmbeddingsText(record(params.classEmbeddings)?.source);
}

/** The fact of the Jobs drawer naming where the prompts' embeddings came from, if known. */
function classEmbeddingsFact(source: unknown): JobFact[] {
  const text = classEmbeddingsText(source);
  return text ? [{ label: 'Prompt embeddings', value: text }] : [];
}

/** What the drawer shows of a job: its kind's facts, then where it ran (the device record). */
export function describeJob(job: Job): JobDescription {
  const d = describeKind(job);
  return { ...d, facts: [...d.facts, ...deviceFacts(job.result)] };
}

function describeKind(job: Job): JobDescription {
  const result = record(job.result);
  const title = TITLES[job.kind] ?? job.kind;
  if (job.kind === 'hash-folder') {
    const facts: JobFact[] = [];
    if (result) {
      const files = num(result.files);
      const bytes = num(result.bytes);
      const digest = str(result.digest);
      const manifest = str(result.manifestPath);
      if (files !== null)
        facts.push({ label: 'Files', value: `${formatCount(files, 'file')}${bytes !== null ? ` · ${formatBytes(bytes)}` : ''}` });
      if (digest) facts.push({ label: 'SHA-256', value: digest, mono: true });
      if (manifest) facts.push({ label: 'Manifest', value: manifest, mono: true });
    }
    return { title, subject: str(job.params?.folder), facts };
  }
  if (job.kind === 'import') {
    const paths = job.params?.paths ?? [];
    const subject = paths.length === 0 ? null : paths.length === 1 ? paths[0]! : `${paths[0]} and ${paths.length - 1} more`;
    const facts: JobFact[] = [];
    if (result) {
      const n = (key: string): number => num(result[key]) ?? 0;
      facts.push({
        label: 'Studies',
        value: `${formatCount(n('studies'), 'study', 'studies')} · ${formatCount(n('imported'), 'new image')}`,
      });
      const other = [
        n('updated') ? `${n('updated')} updated` : null,
        n('unchanged') ? `${n('unchanged')} unchanged` : null,
        n('duplicates') ? `${n('duplicates')} duplicate${n('duplicates') === 1 ? '' : 's'}` : null,
      ].filter((x): x is string => x !== null);
      if (other.length) facts.push({ label: 'Also', value: other.join(' · ') });
      if (n('refused') || n('skipped')) facts.push({ label: 'Not imported', value: `${n('refused')} refused · ${n('skipped')} skipped` });
      // A SOP instance met twice: which file the library kept and which it skipped.
      const dups = Array.isArray(result.duplicateFiles) ? result.duplicateFiles.map(record) : [];
      for (const d of dups.slice(0, 3)) {
        const skipped = Array.isArray(d?.skipped) ? d.skipped.filter((f): f is string => typeof f === 'string') : [];
        if (str(d?.kept)) facts.push({ label: 'Duplicate', value: `kept ${str(d?.kept)}; skipped ${skipped.join(', ')}`, mono: true });
      }
      if (dups.length > 3) facts.push({ label: 'Duplicate', value: `and ${dups.length - 3} more SOP instances (in the Library's list)` });
      facts.push({ label: 'Scanned', value: `${formatCount(n('scanned'), 'file')} in ${n('seconds').toFixed(1)} s` });
    }
    return { title, subject, facts };
  }
  if (job.kind === 'classify' || job.kind === 'prompt-learn' || job.kind === 'demo') {
    const facts: JobFact[] = [];
    if (result) {
      const n = (key: string): number | null => num(result[key]);
      if (job.kind === 'classify') {
        facts.push({
          label: 'Classified',
          value: `${formatCount(n('studies') ?? 0, 'study', 'studies')} · ${formatCount(n('images') ?? 0, 'image')}`,
        });
        if (str(result.executionProvider)) facts.push({ label: 'Device', value: str(result.executionProvider)! });
        if (result.weights === 'int8') facts.push({ label: 'Weights', value: 'int8 (approximate)' });
        if ('promptSet' in result) facts.push({ label: 'Prompts', value: str(result.promptSet) ?? 'task templates' });
        facts.push(...classEmbeddingsFact(result.classEmbeddings));
        if (n('runId') !== null) facts.push({ label: 'Run', value: `#${n('runId')}` });
      } else if (job.kind === 'prompt-learn') {
        if (str(result.promptSet)) facts.push({ label: 'Prompt set', value: str(result.promptSet)!, mono: true });
        if (result.weights === 'int8') facts.push({ label: 'Weights', value: 'int8 (approximate)' });
        if (n('steps') !== null)
          facts.push({
            label: 'Steps',
            value: stoppingSummary({
              steps: n('steps')!,
              stoppedEarly: result.stoppedEarly === true,
              bestStep: n('bestStep'),
              plannedSteps: n('plannedSteps'),
            }),
          });
      } else {
        facts.push({
          label: 'Arrived',
          value: `${formatCount(n('studies') ?? 0, 'study', 'studies')} · ${formatCount(n('labels') ?? 0, 'label')} · a demo model`,
        });
      }
    }
    const subject =
      job.kind === 'prompt-learn' ? str(job.params?.name) : job.kind === 'demo' ? (job.params?.quick === true ? 'Tiny' : 'Full') : null;
    return { title, subject, facts };
  }
  if (job.kind === 'train-adaptor' || job.kind === 'train-lora') {
    const facts: JobFact[] = [];
    const metrics = record(result?.metrics);
    const accuracy = num(metrics?.accuracy);
    if (str(result?.mode)) facts.push({ label: 'Kind', value: str(result?.mode)! });
    if (accuracy !== null) facts.push({ label: 'Validation accuracy', value: accuracy.toFixed(3) });
    if (result?.weights === 'int8') facts.push({ label: 'Weights', value: 'int8 (approximate)' });
    if (num(result?.runId) !== null) facts.push({ label: 'Run', value: `#${num(result?.runId)}` });
    return { title, subject: str(job.params?.name), facts };
  }
  if (job.kind === 'pacs-retrieve') {
    const studies = job.params?.studies.length ?? 0;
    const facts: JobFact[] = [];
    if (result) {
      const n = (key: string): number => num(result[key]) ?? 0;
      facts.push({ label: 'Retrieved', value: `${formatCount(n('fetched'), 'image')} · ${formatBytes(n('bytes'))}` });
      if (n('alreadyStored')) facts.push({ label: 'Already in library', value: formatCount(n('alreadyStored'), 'image') });
      if (n('skippedForProcessing')) facts.push({ label: 'Left out', value: `${n('skippedForProcessing')} FOR PROCESSING` });
      facts.push({ label: 'Rate', value: `${n('imagesPerSecond')} images/s · ${n('megabytesPerSecond')} MB/s` });
    }
    const archive = job.params?.archive ?? null;
    return { title, subject: archive ? `${archive}: ${formatCount(studies, 'study', 'studies')}` : null, facts };
  }
  if (job.kind === 'explain') {
    // One job per press of M: it says which study and task it mapped, with which model and prompts.
    const facts: JobFact[] = [];
    if (result) {
      if (str(result.task)) facts.push({ label: 'Task', value: str(result.task)! });
      if (str(result.model)) facts.push({ label: 'Model', value: str(result.model)! });
      facts.push({ label: 'Prompts', value: str(result.promptSet) ? `learned “${str(result.promptSet)}”` : 'task templates' });
      const classes = Array.isArray(result.classNames) ? result.classNames.filter((c): c is string => typeof c === 'string') : [];
      if (classes.length) facts.push({ label: 'Classes', value: classes.join(', ') });
      facts.push(...classEmbeddingsFact(result.classEmbeddings));
    }
    const images = job.params?.instanceIds.length ?? null;
    const study = str(result?.study);
    const subject = study
      ? `Patch maps of ${study} (${formatCount(images ?? 0, 'image')})`
      : images !== null
        ? `Patch maps of ${formatCount(images, 'image')}`
        : null;
    return { title, subject, facts };
  }
  return { title, subject: null, facts: [] };
}

/** How often the library's counts are refreshed while a job fills the library. */
export const LIVE_STATS_MS = 2000;

/** A running job that commits to the library before it ends (import batches, the demo's import). */
export function fillsLibraryAsItRuns(job: Job): boolean {
  return job.status === 'running' && (job.kind === 'import' || job.kind === 'demo');
}

/** Newest first; stable for equal timestamps by id. */
export function compareJobs(a: Job, b: Job): number {
  return b.id - a.id;
}
