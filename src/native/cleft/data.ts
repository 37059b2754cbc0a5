// Prepared tensor files (safetensors) for reproducible research: `pixel_values` (B,3,H,W) float,
// `input_ids` (B,T) int64 (int32 accepted), `lengths` (B) int64, `labels` (B) int64, pre-tokenized
// class prompts `class_ids.<c>` int64 vectors, class names in the metadata (`class_names`: a JSON list or "a|b").
// Errors name the file and the tensor.
import * as path from 'node:path';
import { ModelFormatError } from '../formats/hf-folder';
import { readSafetensorsHeader, readTensor, SafetensorsError, toFloat32, type SafetensorsHeader } from '../formats/safetensors';

export class DataFile {
  readonly header: SafetensorsHeader;
  constructor(readonly file: string) {
    try {
      this.header = readSafetensorsHeader(path.resolve(file));
    } catch (e) {
      if (e instanceof SafetensorsError) throw new ModelFormatError(e.file, e.problem, e.tensor);
      throw e;
    }
  }

  has(name: string): boolean {
    return this.header.tensors.has(name);
  }

  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  metadata(key: string): string | null {
    return this.header.metadata?.[key] ?? null;
  }

  private get(name: string) {
    if (!this.has(name)) {
      const names = this.names();
      const have = names.length ? names.slice(0, 8).join(', ') + (names.length > 8 ? `, ... (${names.length} tensors)` : '') : 'none';
      throw new ModelFormatError(this.header.path, `missing tensor (the file has: ${have})`, name);
    }
    return readTensor(this.header, name);
  }

  float(name: string, rank?: number): { data: Float32Array; shape: number[] } {
    const t = this.get(name);
    if (rank !== undefined && t.shape.length !== rank)
      throw new ModelFormatError(this.header.path, `expected rank ${rank}, got shape [${t.shape.join(', ')}]`, name);
    if (!['F32', 'F16', 'BF16', 'F64'].includes(t.dtype))
      throw new ModelFormatError(this.header.path, `expected a float tensor, got ${t.dtype}`, name);
    return { data: toFloat32(t), shape: t.shape };
  }

  int64(name: string, rank?: number): { data: BigInt64Array; shape: number[] } {
    const t = this.get(name);
    if (rank !== undefined && t.shape.length !== rank)
      throw new ModelFormatError(this.header.path, `expected rank ${rank}, got shape [${t.shape.join(', ')}]`, name);
    if (t.dtype === 'I64') return { data: t.data as BigInt64Array, shape: t.shape };
    if (t.dtype === 'I32') return { data: BigInt64Array.from(t.data as Int32Array, (v) => BigInt(v)), shape: t.shape };
    throw new ModelFormatError(this.header.path, `expected int64 (I64), got ${t.dtype}`, name);
  }

  /** pixel_values (B,C,H,W). */
  pixels(): { data: Float32Array; shape: [number, number, number, number] } {
    const p = this.float('pixel_values', 4);
    return { data: p.data, shape: p.shape as [number, number, number, number] };
  }

  /** input_ids (B,T) + lengths (B), checked against each other. */
  tokens(): { inputIds: BigInt64Array; lengths: BigInt64Array; batch: number; seq: number } {
    const ids = this.int64('input_ids', 2);
    const len = this.int64('lengths', 1);
    const [b, t] = ids.shape as [number, number];
    if (len.shape[0] !== b) throw new ModelFormatError(this.header.path, `has ${len.shape[0]} rows, input_ids has ${b}`, 'lengths');
    len.data.forEach((l, i) => {
      if (l < 1n || l > BigInt(t)) throw new ModelFormatError(this.header.path, `lengths[${i}] = ${l} is outside 1..${t}`, 'lengths');
    });
    return { inputIds: ids.data, lengths: len.data, batch: b, seq: t };
  }

  labels(): number[] {
    return Array.from(this.int64('labels', 1).data, Number);
  }

  /** class_ids.0, class_ids.1, ... (consecutive from 0), or null when the file has none. */
  classIds(): number[][] | null {
    const out: number[][] = [];
    while (this.has(`class_ids.${out.length}`)) out.push(Array.from(this.int64(`class_ids.${out.length}`, 1).data, Number));
    return out.length ? out : null;
  }

  /**
   * Class names from the metadata (safetensors holds strings only there): `class_names` (or
   * `classnames` / `classes`, as other tools write it), a JSON list or names separated by "|" or
   * new lines, the same separators `--classes` takes.
   */
  classNames(): string[] | null {
    const key = ['class_names', 'classnames', 'classes'].find((k) => this.metadata(k) !== null);
    if (key === undefined) return null;
    const raw = this.metadata(key)!.trim();
    let names: unknown;
    if (raw.startsWith('[')) {
      try {
        names = JSON.parse(raw) as unknown;
      } catch (e) {
        throw new ModelFormatError(this.header.path, `metadata ${key} is not valid JSON: ${(e as Error).message}`);
      }
    } else names = raw.split(/\r?\n|\|/).map((n) => n.trim());
    if (!Array.isArray(names) || !names.every((x) => typeof x === 'string' && x.length > 0) || names.length < 2)
      throw new ModelFormatError(
        this.header.path,
        `metadata ${key} must list at least 2 non-empty class names (a JSON list, or separated by "|")`,
      );
    return names as string[];
  }

  /**
   * One string per row from a metadata JSON list (`patient_ids`, `study_uids`), null when the file
   * has none: how rows of a prepared file are grouped by patient and matched to a named split.
   */
  rowStrings(key: string, rows: number): string[] | null {
    const raw = this.metadata(key);
    if (raw === null) return null;
    let list: unknown;
    try {
      list = JSON.parse(raw) as unknown;
    } catch (e) {
      throw new ModelFormatError(this.header.path, `metadata ${key} is not valid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && x.length > 0) || list.length !== rows)
      throw new ModelFormatError(this.header.path, `metadata ${key} must be a JSON list of ${rows} non-empty strings (one per row)`);
    return list as string[];
  }
}
