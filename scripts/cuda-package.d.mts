// Types of scripts/cuda-package.mjs for the tests (the scripts are plain ESM run by node).
export interface PackagePin {
  id: string;
  size: number | null;
  sha256: string | null;
}
export const PINNED_PACKAGES: Record<string, Record<string, PackagePin>>;
export const INSTALL_RECORD: string;
export function pinFor(ortVersion: string, platform: string): PackagePin | null;
export interface Digests {
  size: number;
  sha256: string;
  sha512Base64: string;
}
export function fileDigests(file: string): Promise<Digests>;
export function verifyPackage(
  file: string,
  expected: { size?: number | null; sha256?: string | null; sha512Base64?: string | null },
): Promise<Digests>;
export interface InstallRecord {
  files: Record<string, { size: number; sha256: string }>;
  installedAt: string;
  [key: string]: unknown;
}
export function extractProviderFiles(
  nupkg: string,
  entries: { file: string; pathInPackage: string }[],
  binDir: string,
  identity: Record<string, unknown>,
): InstallRecord;
export function readInstallRecord(binDir: string): InstallRecord | null;
