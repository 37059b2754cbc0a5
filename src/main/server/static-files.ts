// Serves the built renderer (out/renderer) with the right types and no path escapes: neither by
// `..` in the address nor by a symbolic link inside the folder that points outside it.
import fs from 'node:fs';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

export function resolveStaticFile(root: string, urlPath: string): { file: string; type: string } | null {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (rel === '/' || rel === '') rel = '/index.html';
  if (rel.includes('\0')) return null;
  const file = path.resolve(root, `.${path.posix.normalize(rel)}`);
  if (!inside(root, file)) return null;
  let real: string;
  try {
    real = fs.realpathSync(file);
    if (!inside(fs.realpathSync(root), real) || !fs.statSync(real).isFile()) return null;
  } catch {
    return null; // missing, a dangling link, or unreadable
  }
  return { file: real, type: TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream' };
}

function inside(root: string, file: string): boolean {
  return file === root || file.startsWith(root + path.sep);
}
