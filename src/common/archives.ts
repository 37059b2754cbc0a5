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
