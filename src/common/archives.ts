// Saved DICOMweb archive connections as the UI and the CLI see them. Secrets (password, token) are
// write-only: they go in with `ArchiveAddInput` and never come back out in any of these shapes.
import { z } from 'zod';

export const ArchiveName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)");

export const ArchiveAuthKind = z.enum(['none', 'basic', 'bearer']);
export type ArchiveAuthKind = z.infer<typeof ArchiveAuthKind>;

/** A saved connection without its secret. */
export const ArchiveInfo = z.object({
  name: z.string(),
  /** The DICOMweb base URL (no trailing slash); nothing outside it is ever requested. */
  url: z.string(),
  auth: ArchiveAuthKind,
  /** The basic-auth user name (null for none/bearer). */
  user: z.string().nullable(),
  /** Whether a password or token is stored for it (never the secret itself). */
  hasSecret: z.boolean(),
  createdAt: z.string(),
});
export type ArchiveInfo = z.infer<typeof ArchiveInfo>;

export const ArchiveAddInput = z
  .object({
    name: ArchiveName,
    url: z.string().min(1).max(2048),
    auth: ArchiveAuthKind.default('none'),
    user: z.string().min(1).max(256).optional(),
    /** The basic-auth password or the bearer token; stored outside the database, never returned. */
    secret: z.string().min(1).max(16384).optional(),
  })
  .strict();
export type ArchiveAddInput = z.input<typeof ArchiveAddInput>;

/** One DICOMweb service as `pacs test` found it: answers (true), does not (false), or could not tell (null). */
export const ArchiveServiceCheck = z.object({
  answers: z.boolean().nullable(),
  /** What was asked and what came back, e.g. "GET /studies?limit=1: HTTP 200, 1 study". */
  detail: z.string(),
});
export type ArchiveServiceCheck = z.infer<typeof ArchiveServiceCheck>;

export const ArchiveTestResult = z.object({
  name: z.string(),
  url: z.string(),
  /** An HTTP answer came back (any status); false for refused, unknown host, timeout, TLS failure. */
  reachable: z.boolean(),
  /** Why it is not reachable, or that the credentials were refused; null when all is well. */
  problem: z.string().nullable(),
  services: z.object({ qido: ArchiveServiceCheck, wado: ArchiveServiceCheck, stow: ArchiveServiceCheck }),
});
export type ArchiveTestResult = z.infer<typeof ArchiveTestResult>;

const DicomDate = z.string().regex(/^\d{8}$/, 'a date as YYYYMMDD');

/** A QIDO-RS study search; every field is optional (no field: the archive's most recent studies up to `limit`). */
export const ArchiveQuery = z
  .object({
    patientId: z.string().min(1).max(64).optional(),
    accession: z.string().min(1).max(64).optional(),
    /** Inclusive range; either end may be open. */
    studyDateFrom: DicomDate.optional(),
    studyDateTo: DicomDate.optional(),
    modality: z
      .string()
      .regex(/^[A-Z0-9_]{1,16}$/, 'a modality code such as MG')
      .optional(),
    limit: z.number().int().min(1).max(10000).default(100),
  })
  .strict();
export type ArchiveQuery = z.input<typeof ArchiveQuery>;

export const ArchiveStudy = z.object({
  studyUid: z.string(),
  patientId: z.string().nullable(),
  patientName: z.string().nullable(),
  /** YYYYMMDD as the archive sent it. */
  studyDate: z.string().nullable(),
  accession: z.string().nullable(),
  description: z.string().nullable(),
  modalities: z.array(z.string()),
  series: z.number().int().nullable(),
  /** NumberOfStudyRelatedInstances, null when the archive does not say. */
  images: z.number().int().nullable(),
  /** The library holds this StudyInstanceUID (libraryImages of its instances). */
  inLibrary: z.boolean(),
  libraryImages: z.number().int(),
});
export type ArchiveStudy = z.infer<typeof ArchiveStudy>;

export const ArchiveSeries = z.object({
  seriesUid: z.string(),
  modality: z.string().nullable(),
  seriesNumber: z.number().int().nullable(),
  description: z.string().nullable(),
  images: z.number().int().nullable(),
});
export type ArchiveSeries = z.infer<typeof ArchiveSeries>;

export const ArchiveInstance = z.object({
  sopInstanceUid: z.string(),
  sopClassUid: z.string().nullable(),
  seriesUid: z.string().nullable(),
  instanceNumber: z.number().int().nullable(),
});
export type ArchiveInstance = z.infer<typeof ArchiveInstance>;

/** One file of `pacs store`: stored, or refused (by the archive, or before sending) with the reason. */
export const ArchiveStoreResult = z.object({
  file: z.string(),
  sopInstanceUid: z.string().nullable(),
  status: z.enum(['stored', 'refused']),
  /** The refusal's reason, or the archive's warning for a stored file; null otherwise. */
  reason: z.string().nullable(),
});
export type ArchiveStoreResult = z.infer<typeof ArchiveStoreResult>;

/** One study of `sr.send`: its SR stored in the archive, refused by it (or not sent), or not made at all. */
export const SrSendStudy = z.object({
  studyUid: z.string(),
  status: z.enum(['stored', 'refused', 'failed']),
  /** The SR's SOP Instance UID (null when no report could be made). */
  sopInstanceUid: z.string().nullable(),
  /** Why it was refused or not made, or the archive's warning for a stored one; null otherwise. */
  reason: z.string().nullable(),
});
export type SrSendStudy = z.infer<typeof SrSendStudy>;

export const SrSendResult = z.object({
  runId: z.number().int(),
  archive: z.string(),
  studies: z.array(SrSendStudy),
  /** Reports made with less than usual (as in sr.export). */
  warnings: z.array(z.object({ studyUid: z.string(), message: z.string() })),
});
export type SrSendResult = z.infer<typeof SrSendResult>;
