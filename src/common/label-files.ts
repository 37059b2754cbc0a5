// Label spreadsheets in and out (issue #12): the options of an import, its report (also the
// preview's), and the export. Shared by the contract, the CLI and the Labels page.
import { z } from 'zod';

export const LabelKeyKind = z.enum(['accession', 'study', 'sop', 'patient']);
export type LabelKeyKind = z.infer<typeof LabelKeyKind>;

/** Where the file comes from: a path on this machine (CLI, desktop) or its bytes (a browser upload). */
/**
 * The most base64 a label file sent as bytes may take: the web host takes request bodies up to
 * 4 MiB, and the rest of the request (options, JSON) needs a little of that.
 */
export const LABEL_UPLOAD_MAX_BASE64 = (4 << 20) - (64 << 10);

const mib = (bytes: number) => `${(bytes / (1 << 20)).toFixed(1)} MiB`;

/** Why a file's bytes cannot be sent (too large after gzip and base64), naming the file and the limit; null when they can. */
export function labelUploadProblem(fileName: string, base64Length: number): string | null {
  if (base64Length <= LABEL_UPLOAD_MAX_BASE64) return null;
  return (
    `"${fileName}" is ${mib(base64Length)} once compressed and encoded, more than the ${mib(LABEL_UPLOAD_MAX_BASE64)} ` +
    'one request can carry: import it from the command line (cleft labels import FILE --task NAME), or split it into smaller files'
  );
}

export const LabelFileSource = z.union([
  z.object({ path: z.string().min(1, 'path is required').max(4096) }).strict(),
  z
    .object({
      fileName: z.string().min(1).max(255),
      /** The file's bytes, base64; gzip-compressed first when `gzip` (the web host takes 4 MiB bodies). */
      dataBase64: z
        .string()
        .max(
          LABEL_UPLOAD_MAX_BASE64,
          `the file is more than ${mib(LABEL_UPLOAD_MAX_BASE64)} once compressed and encoded: import it from the command line (cleft labels import FILE --task NAME)`,
        ),
      gzip: z.boolean().default(false),
    })
    .strict(),
]);
export type LabelFileSource = z.infer<typeof LabelFileSource>;

export const LabelImportOptions = z
  .object({
    taskId: z.number().int().positive(),
    /** The key every row uses; left out, each row uses its most specific non-empty key column. */
    key: LabelKeyKind.optional(),
    keyColumn: z.string().min(1).max(200).optional(),
    labelColumn: z.string().min(1).max(200).optional(),
    lateralityColumn: z.string().min(1).max(200).optional(),
    viewColumn: z.string().min(1).max(200).optional(),
    /** Value translations "1=A,2=B" (values that already are class names pass unmapped). */
    map: z.string().max(10_000).optional(),
    /** An existing label of another class: keep it (reported as kept) or replace it. */
    onConflict: z.enum(['keep', 'replace']).default('keep'),
    /** Stored with every label (default: the file's annotator column, else Settings' annotator). */
    annotator: z.string().trim().min(1).max(100).optional(),
    /** Apply the good rows even when some are refused (default: refused rows block the import). */
    skipBadRows: z.boolean().default(false),
    /** XLSX: the sheet to read (default: the first). */
    sheet: z.string().min(1).max(200).optional(),
  })
  .strict();
export type LabelImportOptions = z.input<typeof LabelImportOptions>;

export const LabelImportRow = z.object({
  /** 1-based line of the file where the row starts (the header is line 1); XLSX: the sheet's row. */
  line: z.number().int().positive(),
  /** The column the reason is about ('' when it is about the whole row). */
  column: z.string(),
  value: z.string(),
  reason: z.string(),
});
export type LabelImportRow = z.infer<typeof LabelImportRow>;

export const LabelImportReport = z.object({
  file: z.string(),
  format: z.enum(['csv', 'tsv', 'xlsx']),
  /** CSV: the delimiter found in the header line; XLSX: the sheet read. */
  delimiter: z.string().nullable(),
  sheet: z.string().nullable(),
  task: z.string(),
  /** The columns used, by role (null: not in the file). */
  columns: z.object({
    keys: z.array(z.object({ key: LabelKeyKind, column: z.string() })),
    label: z.string(),
    laterality: z.string().nullable(),
    view: z.string().nullable(),
    annotator: z.string().nullable(),
    time: z.string().nullable(),
  }),
  /**
   * rows: data rows read; refused: rows refused. The others count labels (a "B" row is two breast
   * labels, a patient row one per study): applied = written (created + replaced), unchanged =
   * already so, kept = an existing label of another class kept (--on-conflict keep). applied is 0
   * when refused rows block the import; ready is what it writes once they are fixed or skipped.
   */
  counts: z.object({
    rows: z.number().int(),
    applied: z.number().int(),
    created: z.number().int(),
    replaced: z.number().int(),
    unchanged: z.number().int(),
    kept: z.number().int(),
    refused: z.number().int(),
    ready: z.number().int(),
  }),
  refused: z.array(LabelImportRow),
  /** Existing labels kept under --on-conflict keep (not errors). */
  kept: z.array(LabelImportRow),
  /** Label values that are neither a class of the task nor in --map, with how many rows hold them. */
  unmapped: z.array(z.object({ value: z.string(), rows: z.number().int() })),
  dryRun: z.boolean(),
  /** Refused rows and no skipBadRows: nothing was (or would be) written. */
  blocked: z.boolean(),
  /** Whether this call changed the library. */
  written: z.boolean(),
  /** The import to undo (labels.importUndo); null when nothing was written. */
  importId: z.number().int().nullable(),
  notes: z.array(z.string()),
});
export type LabelImportReport = z.infer<typeof LabelImportReport>;

export const LabelImportUndoResult = z.object({
  importId: z.number().int(),
  /** Labels the import created, now removed. */
  removed: z.number().int(),
  /** Labels the import replaced, now back as they were (class, annotator, time, id). */
  restored: z.number().int(),
});
export type LabelImportUndoResult = z.infer<typeof LabelImportUndoResult>;

/** The columns of a label export, in order (an import reads them back). */
export const LABEL_EXPORT_COLUMNS = [
  'StudyInstanceUID',
  'AccessionNumber',
  'PatientID',
  'SOPInstanceUID',
  'laterality',
  'view',
  'class',
  'annotator',
  'time',
] as const;
