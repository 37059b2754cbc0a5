// The rules of a label import, apart from files and SQL: which columns hold what, what each row
// labels, and which rows are refused and why. Given a table (label-file.ts), the task, lookups into
// the library and the task's existing labels, it returns the writes and the report.
//
// Scope follows the row: a SOPInstanceUID key labels that image; a laterality labels that breast
// (B: both); a view as well labels the image of that breast and view; otherwise the exam. A patient
// key labels every study of that patient in the library (each as a study key would). Nothing is
// guessed: a value that is neither a class nor in --map, a key matching no study or several, two rows
// giving one target different classes are refused with their line, column and reason.
import { CleftError } from '../../common/errors';
import type { LabelKeyKind, LabelImportReport, LabelImportRow } from '../../common/label-files';
import type { Task } from '../../common/contract';
import type { LabelTable } from './label-file';
import {
  targetKey,
  type ExistingLabel,
  type ImageRef,
  type ImportTarget,
  type LabelLookup,
  type PlannedWrite,
} from '../db/label-import-repo';

export interface PlanOptions {
  key?: LabelKeyKind | undefined;
  keyColumn?: string | undefined;
  labelColumn?: string | undefined;
  lateralityColumn?: string | undefined;
  viewColumn?: string | undefined;
  map?: string | undefined;
  onConflict: 'keep' | 'replace';
  annotator?: string | undefined;
}
export type PlanReport = Omit<LabelImportReport, 'dryRun' | 'blocked' | 'written' | 'importId' | 'counts'> & {
  counts: Omit<LabelImportReport['counts'], 'applied'>;
};

/** Header names compare without case, spaces, '_' and '-'. */
const norm = (h: string) => h.toLowerCase().replace(/[\s_-]/g, '');

const KEY_NAMES: Record<LabelKeyKind, string[]> = {
  sop: ['SOPInstanceUID', 'sop_uid', 'sop_instance_uid'],
  study: ['StudyInstanceUID', 'study_uid', 'study_instance_uid'],
  accession: ['AccessionNumber', 'accession', 'acc_anon', 'accession_number'],
  patient: ['PatientID', 'empi_anon', 'patient_id', 'patient'],
};
/** Most specific first: a row with several keys uses the first one it fills. */
const KEY_ORDER: LabelKeyKind[] = ['sop', 'study', 'accession', 'patient'];
const KEY_WORD: Record<LabelKeyKind, string> = {
  sop: 'SOPInstanceUID',
  study: 'StudyInstanceUID',
  accession: 'accession',
  patient: 'PatientID',
};
const LABEL_NAMES = ['class', 'label', 'class_name', 'category', 'density', 'tissueden', 'tissue_density', 'birads', 'asses'];
const LATERALITY_NAMES = ['laterality', 'side', 'ImageLaterality'];
const VIEW_NAMES = ['view', 'ViewPosition'];
const ANNOTATOR_NAMES = ['annotator'];
const TIME_NAMES = ['time', 'created_at'];

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** Parses --map "1=A,2=B": each value must be a class of the task. */
export function parseLabelMap(text: string | undefined, task: Task): Map<string, string> {
  const map = new Map<string, string>();
  if (!text?.trim()) return map;
  const classes = new Set(task.classes.map((c) => c.name));
  for (const part of text.split(',')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    const from = eq < 0 ? '' : part.slice(0, eq).trim();
    const to = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!from || !to) throw new CleftError('invalid_input', `--map: "${part.trim()}" is not VALUE=CLASS (e.g. --map "1=A,2=B,3=C,4=D")`);
    if (!classes.has(to))
      throw new CleftError('invalid_input', `--map: ${from}=${to}: "${to}" is not a class of ${task.name} (${[...classes].join(', ')})`);
    if (map.has(from) && map.get(from) !== to) throw new CleftError('invalid_input', `--map: "${from}" is mapped twice`);
    map.set(from, to);
  }
  return map;
}

interface Columns {
  keys: { key: LabelKeyKind; index: number; name: string }[];
  label: number;
  laterality: number;
  view: number;
  annotator: number;
  time: number;
}

function resolveColumns(table: LabelTable, opts: PlanOptions): Columns {
  const header = table.header;
  const normed = header.map(norm);
  const has = `the header (line 1) has ${header.map((h) => JSON.stringify(h)).join(', ')}`;
  const fail = (m: string) => new CleftError('invalid_input', `${table.file}: ${m}; ${has}`);
  /** A column named by a flag: exactly, else by its normalised name; unknown names are an error. */
  const named = (name: string, flag: string): number => {
    const exact = header.indexOf(name);
    if (exact >= 0) return exact;
    const i = normed.indexOf(norm(name));
    if (i < 0) throw fail(`${flag} "${name}": no such column`);
    return i;
  };
  /** The first of the usual names present, or -1. */
  const usual = (names: string[]): number => {
    for (const n of names) {
      const i = normed.indexOf(norm(n));
      if (i >= 0) return i;
    }
    return -1;
  };
  const keys: Columns['keys'] = [];
  if (opts.keyColumn !== undefined) {
    const index = named(opts.keyColumn, '--key-column');
    const kind = opts.key ?? KEY_ORDER.find((k) => KEY_NAMES[k].map(norm).includes(normed[index]!));
    if (!kind) throw fail(`--key-column "${opts.keyColumn}": say which key it holds with --key accession|study|sop|patient`);
    keys.push({ key: kind, index, name: header[index]! });
  } else if (opts.key !== undefined) {
    const index = usual(KEY_NAMES[opts.key]);
    if (index < 0) throw fail(`--key ${opts.key}: no ${KEY_NAMES[opts.key].join(' / ')} column (name it with --key-column)`);
    keys.push({ key: opts.key, index, name: header[index]! });
  } else {
    for (const k of KEY_ORDER) {
      const index = usual(KEY_NAMES[k]);
      if (index >= 0) keys.push({ key: k, index, name: header[index]! });
    }
    if (!keys.length)
      throw fail(
        `no key column (${KEY_ORDER.map((k) => KEY_NAMES[k][0]).join(', ')} or acc_anon / empi_anon); name it with --key-column and --key`,
      );
  }
  const label = opts.labelColumn !== undefined ? named(opts.labelColumn, '--label-column') : usual(LABEL_NAMES);
  if (label < 0) throw fail(`no label column (${LABEL_NAMES.join(', ')}); name it with --label-column`);
  const laterality = opts.lateralityColumn !== undefined ? named(opts.lateralityColumn, '--laterality-column') : usual(LATERALITY_NAMES);
  const view = opts.viewColumn !== undefined ? named(opts.viewColumn, '--view-column') : usual(VIEW_NAMES);
  const used = new Set([...keys.map((k) => k.index), label, laterality, view]);
  const extra = (names: string[]) => {
    const i = usual(names);
    return used.has(i) ? -1 : i;
  };
  return { keys, label, laterality, view, annotator: extra(ANNOTATOR_NAMES), time: extra(TIME_NAMES) };
}

type Side = 'L' | 'R' | 'B';
function parseSide(v: string): Side | null | undefined {
  const s = v.trim().toUpperCase();
  if (s === '') return null;
  if (s === 'L' || s === 'LEFT') return 'L';
  if (s === 'R' || s === 'RIGHT') return 'R';
  if (s === 'B' || s === 'BOTH' || s === 'BILATERAL') return 'B';
  return undefined;
}

interface RowPlan {
  line: number;
  targets: ImportTarget[];
  className: string;
  annotator: string;
  createdAt: string | null;
  labelValue: string;
  labelColumn: string;
}

/** Plans the import of `table` into `task`; throws only for file-level problems (columns, --map). */
export function planLabelImport(
  table: LabelTable,
  task: Task,
  opts: PlanOptions,
  lookup: LabelLookup,
  existing: ReadonlyMap<string, ExistingLabel>,
  defaultAnnotator: string,
): { report: PlanReport; writes: PlannedWrite[] } {
  const cols = resolveColumns(table, opts);
  const map = parseLabelMap(opts.map, task);
  const classes = new Set(task.classes.map((c) => c.name));
  const colName = (i: number) => (i >= 0 ? table.header[i]! : '');
  const refused: LabelImportRow[] = [];
  const unmapped = new Map<string, number>();
  const notes: string[] = [];
  const plans: RowPlan[] = [];
  const imagesCache = new Map<number, ImageRef[]>();
  const imagesOf = (studyId: number) => {
    let v = imagesCache.get(studyId);
    if (!v) imagesCache.set(studyId, (v = lookup.imagesOf(studyId)));
    return v;
  };
  let patientRows = 0;

  for (const row of table.rows) {
    const cell = (i: number) => (i >= 0 ? (row.cells[i] ?? '').trim() : '');
    const refuse = (column: number | string, value: string, reason: string) =>
      refused.push({ line: row.line, column: typeof column === 'string' ? column : colName(column), value, reason });

    // a row wider than the header: its cells cannot be told apart (an unquoted delimiter in a field?)
    const width = table.header.length;
    if (row.cells.length > width && row.cells.slice(width).some((c) => c !== '')) {
      const sep = table.delimiter === '\t' ? 'tab' : table.delimiter === ';' ? 'semicolon' : 'comma';
      refuse(
        '',
        row.cells.slice(width).join(' '),
        `${row.cells.length} cells but the header has ${width} (an unquoted ${sep} in a field?)`,
      );
      continue;
    }
    // the label
    const raw = cell(cols.label);
    if (raw === '') {
      refuse(cols.label, '', 'no label (the cell is empty)');
      continue;
    }
    const className = map.get(raw) ?? (classes.has(raw) ? raw : undefined);
    if (className === undefined) {
      unmapped.set(raw, (unmapped.get(raw) ?? 0) + 1);
      refuse(
        cols.label,
        raw,
        `unknown class: "${raw}" is not a class of ${task.name} (${[...classes].join(', ')})` +
          (map.size ? ' and not in --map' : '; translate it with --map'),
      );
      continue;
    }
    // the key: the most specific one the row fills
    const key = cols.keys.find((k) => cell(k.index) !== '');
    if (!key) {
      refuse(cols.keys[0]!.index, '', `no key (${cols.keys.map((k) => k.name).join(' / ')} empty)`);
      continue;
    }
    const keyValue = cell(key.index);
    const sideRaw = cell(cols.laterality);
    const side = parseSide(sideRaw);
    if (side === undefined) {
      refuse(cols.laterality, sideRaw, 'laterality must be L, R, B or bilateral (or empty for the exam)');
      continue;
    }
    const view = cell(cols.view).toUpperCase();
    let annotator = opts.annotator ?? (cell(cols.annotator) || defaultAnnotator);
    if (annotator.length > 100) annotator = annotator.slice(0, 100);
    const time = cell(cols.time);
    if (time !== '' && !ISO_TIME.test(time)) {
      refuse(cols.time, time, 'the time must be ISO 8601 UTC, as exported (e.g. 2024-01-05T10:20:30.000Z)');
      continue;
    }

    const targets: ImportTarget[] = [];
    let why: { column: number; reason: string } | null = null;
    if (key.key === 'sop') {
      const img = lookup.image(keyValue);
      if (!img) why = { column: key.index, reason: `matches nothing: no image with SOPInstanceUID ${keyValue} in the library` };
      else if (side === 'B') why = { column: cols.laterality, reason: 'one image cannot be both breasts (B)' };
      else if (side && img.laterality && img.laterality.toUpperCase() !== side)
        why = { column: cols.laterality, reason: `contradicts the image: SOPInstanceUID ${keyValue} is a ${img.laterality} image` };
      else if (view && img.view && img.view.toUpperCase() !== view)
        why = { column: cols.view, reason: `contradicts the image: SOPInstanceUID ${keyValue} is a ${img.view} view` };
      else targets.push({ studyId: img.studyId, scope: 'image', instanceId: img.id, laterality: null });
    } else {
      const studies = lookup.studies(key.key, keyValue);
      if (key.key === 'patient') patientRows++;
      if (studies.length === 0)
        why = { column: key.index, reason: `matches nothing: no study with ${KEY_WORD[key.key]} ${keyValue} in the library` };
      else if (studies.length > 1 && key.key !== 'patient')
        why = {
          column: key.index,
          reason: `ambiguous: ${KEY_WORD[key.key]} ${keyValue} belongs to ${studies.length} studies (${studies
            .slice(0, 3)
            .map((s) => s.studyUid)
            .join(', ')}); use a StudyInstanceUID column`,
        };
      else
        for (const study of studies) {
          if (view) {
            for (const s of side === 'B' ? (['L', 'R'] as const) : [side]) {
              const imgs = imagesOf(study.id).filter(
                (i) => (i.view ?? '').toUpperCase() === view && (s === null || (i.laterality ?? '').toUpperCase() === s),
              );
              const what = `${s ?? ''}${view}`;
              if (imgs.length === 0) why = { column: cols.view, reason: `matches nothing: study ${study.studyUid} has no ${what} image` };
              else if (imgs.length > 1)
                why = { column: cols.view, reason: `ambiguous: study ${study.studyUid} has ${imgs.length} ${what} images` };
              else targets.push({ studyId: study.id, scope: 'image', instanceId: imgs[0]!.id, laterality: null });
              if (why) break;
            }
          } else if (side === 'B') {
            targets.push({ studyId: study.id, scope: 'breast', instanceId: null, laterality: 'L' });
            targets.push({ studyId: study.id, scope: 'breast', instanceId: null, laterality: 'R' });
          } else if (side) targets.push({ studyId: study.id, scope: 'breast', instanceId: null, laterality: side });
          else targets.push({ studyId: study.id, scope: 'exam', instanceId: null, laterality: null });
          if (why) break;
        }
    }
    if (why) {
      refuse(why.column, why.column === key.index ? keyValue : cell(why.column), why.reason);
      continue;
    }
    plans.push({
      line: row.line,
      targets,
      className,
      annotator,
      createdAt: time || null,
      labelValue: raw,
      labelColumn: colName(cols.label),
    });
  }
  if (patientRows > 0)
    notes.push(
      `${patientRows} row(s) keyed by PatientID label every study of that patient in the library (exam or breast labels per study)`,
    );

  // Rows giving one target different classes: all of them are refused (nothing is guessed).
  const byTarget = new Map<string, RowPlan[]>();
  for (const p of plans)
    for (const t of p.targets) {
      const k = targetKey(t);
      const list = byTarget.get(k);
      if (!list) byTarget.set(k, [p]);
      else if (list.at(-1) !== p) list.push(p);
    }
  const contradicted = new Map<RowPlan, RowPlan>();
  for (const list of byTarget.values()) {
    if (list.length < 2) continue;
    for (const p of list) {
      const other = list.find((q) => q !== p && q.className !== p.className);
      if (other && !contradicted.has(p)) contradicted.set(p, other);
    }
  }
  const good = plans.filter((p) => {
    const other = contradicted.get(p);
    if (!other) return true;
    refused.push({
      line: p.line,
      column: p.labelColumn,
      value: p.labelValue,
      reason: `contradicts line ${other.line}: same target, class ${p.className} here and ${other.className} there`,
    });
    return false;
  });
  refused.sort((a, b) => a.line - b.line);

  // Against the library: created, replaced, unchanged or kept (first row of a repeated target wins).
  const writes: PlannedWrite[] = [];
  const kept: LabelImportRow[] = [];
  const seen = new Set<string>();
  let unchanged = 0;
  for (const p of good)
    for (const t of p.targets) {
      const k = targetKey(t);
      if (seen.has(k)) continue;
      seen.add(k);
      const now = existing.get(k);
      if (now && now.className === p.className) unchanged++;
      else if (now && opts.onConflict === 'keep')
        kept.push({
          line: p.line,
          column: p.labelColumn,
          value: p.labelValue,
          reason: `kept the existing label ${now.className} (by ${now.annotator}) of the ${describe(t)}; --on-conflict replace writes ${p.className}`,
        });
      else writes.push({ target: t, className: p.className, annotator: p.annotator, createdAt: p.createdAt, replaces: now ?? null });
    }
  const replaced = writes.filter((w) => w.replaces).length;
  return {
    writes,
    report: {
      file: table.file,
      format: table.format,
      delimiter: table.delimiter,
      sheet: table.sheet,
      task: task.name,
      columns: {
        keys: cols.keys.map((k) => ({ key: k.key, column: k.name })),
        label: colName(cols.label),
        laterality: cols.laterality >= 0 ? colName(cols.laterality) : null,
        view: cols.view >= 0 ? colName(cols.view) : null,
        annotator: cols.annotator >= 0 ? colName(cols.annotator) : null,
        time: cols.time >= 0 ? colName(cols.time) : null,
      },
      counts: {
        rows: table.rows.length,
        created: writes.length - replaced,
        replaced,
        unchanged,
        kept: kept.length,
        refused: new Set(refused.map((r) => r.line)).size,
        ready: writes.length,
      },
      refused,
      kept,
      unmapped: [...unmapped].map(([value, rows]) => ({ value, rows })).sort((a, b) => b.rows - a.rows),
      notes,
    },
  };
}

function describe(t: ImportTarget): string {
  if (t.scope === 'image') return `image ${t.instanceId}`;
  if (t.scope === 'breast') return `${t.laterality === 'L' ? 'left' : 'right'} breast`;
  return 'exam';
}
