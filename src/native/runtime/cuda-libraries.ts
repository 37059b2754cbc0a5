// What the CUDA execution provider needs on this machine, checked file by file before ORT is asked
// to load it (a failed load only says "Failed to load shared library"; its dlopen error goes to
// ORT's stderr): the EP libraries from `npm run gpu:install` beside the binding, as the install
// recorded them (size), and the CUDA 12 / cuDNN 9 libraries the EP links against, on the paths the
// dynamic loader searches. Linux only: the CUDA EP has no other download (scripts/install-cuda.mjs).
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';

/** The libraries libonnxruntime_providers_cuda.so (1.30, CUDA 12 build) links against (its DT_NEEDED). */
export const CUDA_SYSTEM_LIBRARIES = [
  'libcudart.so.12',
  'libcublas.so.12',
  'libcublasLt.so.12',
  'libcufft.so.11',
  'libcurand.so.10',
  'libcudnn.so.9',
] as const;

/** The EP's own files, copied beside the binding by `npm run gpu:install`. */
export const CUDA_EP_FILES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'] as const;

/** What `npm run gpu:install` writes beside the files it installed (scripts/install-cuda.mjs). */
export const CUDA_INSTALL_RECORD = 'cleft-cuda-install.json';

export interface CudaSearch {
  /** Where the EP libraries must be (the binding's directory). */
  epDir: string;
  /** Folders searched for the CUDA libraries, in order (LD_LIBRARY_PATH, then the usual CUDA folders). */
  dirs: string[];
  /** The loader cache: soname -> path (from `ldconfig -p`). */
  ldCache: Map<string, string>;
}

/** One file's problem, in words a user can act on. */
export interface CudaFileProblem {
  file: string;
  problem: string;
}

export interface CudaLibraryReport {
  problems: CudaFileProblem[];
  /** Where the system libraries were looked for. */
  searched: string[];
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** Why `file` cannot be a shared library, or null when it can (exists, not empty, starts as ELF). */
function notALibrary(file: string): string | null {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) return `${file} is not a file`;
    size = st.size;
  } catch {
    return `${file} cannot be read (a broken link?)`;
  }
  if (size === 0) return `${file} is empty (0 bytes), not a shared library`;
  const head = Buffer.alloc(4);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return head.equals(ELF_MAGIC) ? null : `${file} is not an ELF shared library (${size} bytes)`;
}

/** The sizes `npm run gpu:install` recorded for the files it installed, if it ran. */
function installedSizes(epDir: string): Map<string, number> | null {
  const file = path.join(epDir, CUDA_INSTALL_RECORD);
  if (!existsSync(file)) return null;
  try {
    const rec = JSON.parse(readFileSync(file, 'utf8')) as { files?: Record<string, { size?: unknown }> };
    return new Map(
      Object.entries(rec.files ?? {}).flatMap(([name, f]) => (typeof f.size === 'number' ? [[name, f.size] as [string, number]] : [])),
    );
  } catch {
    return null;
  }
}

/** Every problem with the EP files and the CUDA libraries, and where the libraries were searched. */
export function checkCudaLibraries(search: CudaSearch): CudaLibraryReport {
  const problems: CudaFileProblem[] = [];
  const sizes = installedSizes(search.epDir);
  for (const name of CUDA_EP_FILES) {
    const file = path.join(search.epDir, name);
    if (!existsSync(file)) {
      problems.push({ file: name, problem: `${name} missing in ${search.epDir}` });
      continue;
    }
    const bad = notALibrary(file);
    if (bad) {
      problems.push({ file: name, problem: bad });
      continue;
    }
    const expected = sizes?.get(name);
    const actual = statSync(file).size;
    if (expected !== undefined && expected !== actual)
      problems.push({
        file: name,
        problem: `${file} is ${actual} bytes, the install recorded ${expected} (damaged: run \`npm run gpu:install\` again)`,
      });
  }
  for (const name of CUDA_SYSTEM_LIBRARIES) {
    const candidates = [...search.dirs.map((d) => path.join(d, name)), ...(search.ldCache.has(name) ? [search.ldCache.get(name)!] : [])];
    const found = candidates.filter((f) => existsSync(f));
    if (found.length === 0) {
      problems.push({ file: name, problem: `${name} not found` });
      continue;
    }
    // The loader takes the first it finds; a fake or truncated one there fails the load.
    const bad = notALibrary(found[0]!);
    if (bad) problems.push({ file: name, problem: bad });
  }
  return { problems, searched: [...search.dirs, ...(search.ldCache.size > 0 ? ['the ldconfig cache'] : [])] };
}

/** One sentence naming every missing or broken file and where the CUDA libraries were searched; undefined when all are there. */
export function cudaLibrariesReason(search: CudaSearch): string | undefined {
  const r = checkCudaLibraries(search);
  if (r.problems.length === 0) return undefined;
  const ep = r.problems.filter((p) => (CUDA_EP_FILES as readonly string[]).includes(p.file));
  const sys = r.problems.filter((p) => !(CUDA_EP_FILES as readonly string[]).includes(p.file));
  const parts: string[] = [];
  if (ep.length) parts.push(`CUDA EP files: ${ep.map((p) => p.problem).join('; ')} (run \`npm run gpu:install\`)`);
  if (sys.length)
    parts.push(
      `CUDA 12 / cuDNN 9 libraries: ${sys.map((p) => p.problem).join('; ')} (searched ${r.searched.join(', ') || 'nowhere: no LD_LIBRARY_PATH and no ldconfig'}; install CUDA 12 and cuDNN 9 or add their lib folder to LD_LIBRARY_PATH)`,
    );
  return parts.join('; ');
}

/** The loader cache as soname -> path (empty when ldconfig is missing). */
function ldconfigCache(): Map<string, string> {
  const out = new Map<string, string>();
  let text = '';
  for (const cmd of ['ldconfig', '/sbin/ldconfig']) {
    try {
      text = execFileSync(cmd, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      break;
    } catch {
      /* try the next */
    }
  }
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+) \(([^)]*)\) => (.+)$/.exec(line);
    if (m && m[2]!.includes('x86-64') && !out.has(m[1]!)) out.set(m[1]!, m[3]!.trim());
  }
  return out;
}

/** Where the dynamic loader looks on this machine: LD_LIBRARY_PATH, the usual CUDA folders, the ldconfig cache. */
export function defaultCudaSearch(epDir: string): CudaSearch {
  const env = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d.length > 0);
  const usual = ['/usr/local/cuda/lib64', '/usr/local/cuda-12/lib64', '/usr/lib/x86_64-linux-gnu'].filter((d) => existsSync(d));
  return { epDir, dirs: [...new Set([...env, ...usual])], ldCache: ldconfigCache() };
}
