// Hashing shared by the engine and the app: canonical JSON (stable across writers), sha256 of
// strings, streams and sets of files (the identities of bundles, folders and preprocessing specs).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** JSON with keys sorted at every level and no whitespace (stable across writers). */
export function canonicalJson(value: unknown): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(o)
          .filter((k) => o[k] !== undefined)
          .sort()
          .map((k) => [k, canon(o[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(canon(value));
}

export function sha256Hex(data: string | Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** Streams a file through sha256 (constant memory, any size). `onBytes` is called per chunk. */
export async function sha256File(file: string, onBytes?: (n: number) => void): Promise<string> {
  const h = crypto.createHash('sha256');
  const stream = fs.createReadStream(file, { highWaterMark: 4 << 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    h.update(chunk);
    onBytes?.(chunk.length);
  }
  return h.digest('hex');
}

export interface FileHash {
  /** Relative path, forward slashes. */
  path: string;
  size: number;
  sha256: string;
}

export interface HashProgress {
  file: string;
  bytesDone: number;
  bytesTotal: number;
}

/** Hashes files under `root` (relative paths), streaming, with overall progress. */
export async function hashFiles(root: string, relPaths: readonly string[], onProgress?: (p: HashProgress) => void): Promise<FileHash[]> {
  const sizes = relPaths.map((p) => fs.statSync(path.join(root, p)).size);
  const bytesTotal = sizes.reduce((a, b) => a + b, 0);
  let bytesDone = 0;
  const out: FileHash[] = [];
  for (let i = 0; i < relPaths.length; i++) {
    const rel = relPaths[i]!;
    const sha256 = await sha256File(path.join(root, rel), (n) => {
      bytesDone += n;
      onProgress?.({ file: rel, bytesDone, bytesTotal });
    });
    out.push({ path: rel, size: sizes[i]!, sha256 });
  }
  return out;
}

/** The identity of a set of files: sha256 of the canonical JSON {path: {size, sha256}}. */
export function filesSha256(files: readonly FileHash[]): string {
  return sha256Hex(canonicalJson(Object.fromEntries(files.map((f) => [f.path, { sha256: f.sha256, size: f.size }]))));
}
