// Splits Pixel Data into frames. Native data: fixed-size slices. Encapsulated data: the Extended
// Offset Table, else the Basic Offset Table, else one fragment per frame, else a scan for codestream
// start markers (JPEG SOI, J2K SOC): writers that spread a frame over several fragments and leave the
// BOT empty are common, and the marker heuristic is what decoders in the field do too.
import type { DataSet, Element } from 'dicom-parser';

export interface FragmentRef {
  /** Absolute position of the fragment value in the dataset bytes. */
  position: number;
  length: number;
}

function fragmentsOf(ds: DataSet, el: Element): FragmentRef[] {
  const frags = (el.fragments ?? []).map((f) => ({ position: f.position, length: f.length }));
  const len = ds.byteArray.length;
  for (const f of frags) {
    if (f.position + f.length > len)
      throw new Error(`truncated: pixel data fragment ends at ${f.position + f.length}, file has ${len} bytes`);
  }
  return frags;
}

function concat(ds: DataSet, frags: FragmentRef[]): Uint8Array {
  if (frags.length === 1) return ds.byteArray.subarray(frags[0]!.position, frags[0]!.position + frags[0]!.length);
  const total = frags.reduce((a, f) => a + f.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const f of frags) {
    out.set(ds.byteArray.subarray(f.position, f.position + f.length), o);
    o += f.length;
  }
  return out;
}

function startsCodestream(b: Uint8Array, pos: number): boolean {
  // JPEG family SOI (FFD8 FF..) or J2K SOC+SIZ (FF4F FF51) or a JP2 signature box.
  if (b[pos] === 0xff && b[pos + 1] === 0xd8 && b[pos + 2] === 0xff) return true;
  if (b[pos] === 0xff && b[pos + 1] === 0x4f && b[pos + 2] === 0xff && b[pos + 3] === 0x51) return true;
  return b[pos + 4] === 0x6a && b[pos + 5] === 0x50 && b[pos + 6] === 0x20 && b[pos + 7] === 0x20;
}

/** Offsets (relative to the first fragment's item tag) of the Extended Offset Table, if any. */
function extendedOffsets(ds: DataSet): number[] | undefined {
  const el = ds.elements.x7fe00001;
  if (!el || el.length < 8) return undefined;
  const dv = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + el.dataOffset, el.length);
  const out: number[] = [];
  for (let i = 0; i + 8 <= el.length; i += 8) out.push(Number(dv.getBigUint64(i, true)));
  return out;
}

/** Groups fragments into frames; returns one fragment list per frame. */
export function groupFragments(ds: DataSet, el: Element, numberOfFrames: number, codec: string): FragmentRef[][] {
  const frags = fragmentsOf(ds, el);
  const raw = el.fragments ?? [];
  if (frags.length === 0) throw new Error(`encapsulated pixel data has no fragments`);
  if (numberOfFrames <= 1) return [frags];
  const offsets = extendedOffsets(ds) ?? (el.basicOffsetTable && el.basicOffsetTable.length > 0 ? el.basicOffsetTable : undefined);
  if (offsets && offsets.length === numberOfFrames) {
    // Offsets point at fragment item tags, relative to the first fragment: map to fragment indices.
    const index = new Map(raw.map((f, i) => [f.offset, i]));
    const starts = offsets.map((o) => index.get(o));
    if (starts.every((s) => s !== undefined)) {
      return starts.map((s, i) => frags.slice(s!, i + 1 < starts.length ? starts[i + 1]! : frags.length));
    }
  }
  if (frags.length === numberOfFrames) return frags.map((f) => [f]);
  if (codec !== 'rle') {
    const groups: FragmentRef[][] = [];
    for (const f of frags) {
      if (groups.length === 0 || startsCodestream(ds.byteArray, f.position)) groups.push([f]);
      else groups[groups.length - 1]!.push(f);
    }
    if (groups.length === numberOfFrames) return groups;
  }
  throw new Error(`cannot split ${frags.length} fragments into ${numberOfFrames} frames (no usable offset table)`);
}

export function encapsulatedFrame(ds: DataSet, frames: FragmentRef[][], index: number): Uint8Array {
  return concat(ds, frames[index]!);
}
