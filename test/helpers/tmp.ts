import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';

const created: string[] = [];

export function tmpDir(prefix = 'cleft-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** Removes every folder tmpDir/makeFileTree made in this test file (call from afterAll). */
export function removeTmpDirs(): void {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** A folder of `count` files with deterministic pseudo-random content, some in subfolders. */
export function makeFileTree(count: number, bytesEach: number, seed = 1): string {
  const root = tmpDir('cleft-tree-');
  for (let i = 0; i < count; i++) {
    const sub = path.join(root, i % 3 === 0 ? 'a' : i % 3 === 1 ? 'b/c' : '.');
    fs.mkdirSync(sub, { recursive: true });
    const data = crypto.createHash('sha512').update(`${seed}:${i}`).digest();
    const buf = Buffer.alloc(bytesEach);
    for (let o = 0; o < bytesEach; o += data.length) data.copy(buf, o);
    buf.writeUInt32LE(i, 0);
    fs.writeFileSync(path.join(sub, `file-${String(i).padStart(4, '0')}.bin`), buf);
  }
  return root;
}

/**
 * A folder hash-folder cannot finish while a test looks at it: `count` small files (hashed and
 * checkpointed first) and, last in path order, a sparse file of 1 TiB (no disk used; minutes to
 * hash). `shrink()` cuts the big file to a few bytes, so a resumed job can then finish. This way a
 * test waits on the job's state, not on winning a race against its end.
 */
export function makeEndlessFileTree(count = 30): { root: string; shrink: () => void } {
  const root = makeFileTree(count, 1024);
  const big = path.join(root, 'zz-endless.bin');
  fs.writeFileSync(big, '');
  fs.truncateSync(big, 2 ** 40);
  return { root, shrink: () => fs.truncateSync(big, 7) };
}

/** The digest hash-folder must produce, computed independently here. */
export function expectedFolderDigest(root: string): { digest: string; files: number; bytes: number } {
  const lines: string[] = [];
  let bytes = 0;
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) walk(abs);
      else if (e.isFile()) {
        const data = fs.readFileSync(abs);
        bytes += data.length;
        lines.push(
          `${crypto.createHash('sha256').update(data).digest('hex')}  ${data.length}  ${path.relative(root, abs).split(path.sep).join('/')}`,
        );
      }
    }
  };
  walk(root);
  lines.sort((a, b) => {
    const pa = a.split('  ')[2]!;
    const pb = b.split('  ')[2]!;
    return pa < pb ? -1 : pa > pb ? 1 : 0;
  });
  return {
    digest: crypto
      .createHash('sha256')
      .update(lines.map((l) => `${l}\n`).join(''))
      .digest('hex'),
    files: lines.length,
    bytes,
  };
}
