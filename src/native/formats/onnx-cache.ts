// Pruning the ONNX artifact cache (layout in embed.ts). A weight file under weights/ that is a hard
// link with no other name left (its model file was deleted) only keeps the deleted model's bytes on
// disk; every .onnx that points at such a file, or at a missing one, is stale; and a weights/ file
// no remaining .onnx points at (an orphaned conversion or link) is garbage. Removing those frees a
// deleted model's space while other models' artifacts stay.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface CachePruneResult {
  removedFiles: string[];
  freedBytes: number;
  /** What is left: .onnx files and weight files, and their bytes (hard-linked bytes counted once here). */
  remaining: { entries: number; bytes: number };
}

/** The `weights/<name>` locations an emitted .onnx file refers to (external-data strings in the protobuf). */
function referencedWeights(onnxFile: string): Set<string> {
  const text = fs.readFileSync(onnxFile).toString('latin1');
  const out = new Set<string>();
  // The extension is matched exactly: the protobuf byte after the string may be a letter too.
  for (const m of text.matchAll(/weights\/([0-9a-f]{16,64}\.(?:safetensors|bin))/g)) out.add(m[1]!);
  return out;
}

export function pruneOnnxCache(cacheDir: string): CachePruneResult {
  const removedFiles: string[] = [];
  let freedBytes = 0;
  const remove = (file: string, bytes: number): void => {
    fs.rmSync(file, { force: true });
    removedFiles.push(file);
    freedBytes += bytes;
  };
  if (!fs.existsSync(cacheDir)) return { removedFiles, freedBytes, remaining: { entries: 0, bytes: 0 } };
  const weightsDir = path.join(cacheDir, 'weights');
  const weights = new Map<string, fs.Stats>();
  if (fs.existsSync(weightsDir))
    for (const name of fs.readdirSync(weightsDir)) {
      if (name.endsWith('.tmp')) continue; // a link or conversion being written right now
      weights.set(name, fs.statSync(path.join(weightsDir, name)));
    }
  // Hard links to model files whose model is gone: the cache holds the last name of those bytes.
  const dead = new Set([...weights].filter(([name, st]) => name.endsWith('.safetensors') && st.nlink === 1).map(([name]) => name));

  const kept = new Set<string>();
  let entries = 0;
  let bytes = 0;
  for (const name of fs.readdirSync(cacheDir)) {
    if (!name.endsWith('.onnx')) continue;
    const file = path.join(cacheDir, name);
    const refs = referencedWeights(file);
    const size = fs.statSync(file).size;
    if ([...refs].some((r) => dead.has(r) || !weights.has(r))) remove(file, size);
    else {
      refs.forEach((r) => kept.add(r));
      entries++;
      bytes += size;
    }
  }
  for (const [name, st] of weights) {
    const file = path.join(weightsDir, name);
    // Only the last link of a file frees its bytes.
    if (!kept.has(name)) remove(file, st.nlink === 1 ? st.size : 0);
    else {
      entries++;
      bytes += st.size;
    }
  }
  return { removedFiles, freedBytes, remaining: { entries, bytes } };
}
