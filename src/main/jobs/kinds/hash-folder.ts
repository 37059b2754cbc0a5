// Hashes every file under a folder (sha256), with a manifest and one digest over all of them.
// Small, real, and resumable: it proves the job path (worker, progress, cancel, checkpoint, resume).
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { HashFolderParams, HashFolderResult } from '../../../common/jobs';
import { throwIfCancelled, writeFileAtomic, type JobRunner } from '../job-context';

interface HashedFile {
  path: string; // relative to the folder, '/' separated
  size: number;
  sha256: string;
}

interface Checkpoint {
  done: HashedFile[];
}

/** A checkpoint at least this often, and every CHECKPOINT_EVERY_FILES files on fast storage. */
const CHECKPOINT_EVERY_MS = 500;
const CHECKPOINT_EVERY_FILES = 25;

export const hashFolder: JobRunner<HashFolderParams, HashFolderResult> = async (ctx) => {
  const root = path.resolve(ctx.params.folder);
  const stat = fs.statSync(root, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) throw new Error(`${root} is not a folder`);

  const files = listFiles(root);
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
  const done: HashedFile[] = (ctx.checkpoint as Checkpoint | null)?.done ?? [];
  const already = new Set(done.map((d) => d.path));
  let bytesDone = done.reduce((sum, d) => sum + d.size, 0);
  let lastCheckpoint = Date.now();

  for (const file of files) {
    if (already.has(file.rel)) continue;
    throwIfCancelled(ctx.signal);
    const sha256 = await hashFile(path.join(root, file.rel), ctx.signal);
    done.push({ path: file.rel, size: file.size, sha256 });
    bytesDone += file.size;
    ctx.progress(totalBytes === 0 ? 1 : bytesDone / totalBytes, `Hashed ${done.length} of ${files.length} files`);
    if (Date.now() - lastCheckpoint > CHECKPOINT_EVERY_MS || done.length % CHECKPOINT_EVERY_FILES === 0) {
      ctx.saveCheckpoint({ done } satisfies Checkpoint);
      lastCheckpoint = Date.now();
    }
  }

  done.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const manifest = done.map((d) => `${d.sha256}  ${d.size}  ${d.path}\n`).join('');
  const manifestPath = path.join(ctx.jobDir, 'manifest.txt');
  writeFileAtomic(manifestPath, manifest);
  const result: HashFolderResult = {
    folder: root,
    files: done.length,
    bytes: bytesDone,
    digest: crypto.createHash('sha256').update(manifest).digest('hex'),
    manifestPath,
  };
  return result;
};

function listFiles(root: string): { rel: string; size: number }[] {
  const out: { rel: string; size: number }[] = [];
  const walk = (dir: string): void => {
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) walk(abs);
      else if (e.isFile()) out.push({ rel: path.relative(root, abs).split(path.sep).join('/'), size: fs.statSync(abs).size });
    }
  };
  walk(root);
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

async function hashFile(file: string, signal: AbortSignal): Promise<string> {
  const hash = crypto.createHash('sha256');
  const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  for await (const chunk of stream) {
    if (signal.aborted) {
      stream.destroy();
      throwIfCancelled(signal);
    }
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
