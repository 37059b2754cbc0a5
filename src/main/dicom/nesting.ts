// How deep sequences nest, found without recursion. dicom-parser parses sequences recursively
// (about five stack frames per level), so a file with sequences nested 10,000 deep overflows the
// stack, and where it overflows depends on who called it. This walk follows the same structural
// decisions as dicom-parser (explicit SQ, implicit sequences found by peeking at the next tag,
// UN of undefined length read as implicit, encapsulated pixel data, item delimiters) with an
// explicit stack, so parse.ts can refuse a file over the configured depth before handing it over.
// Anything the walk cannot follow (an overrun, a missing item tag) ends it: dicom-parser then
// reports that problem itself.

const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQ_END = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
const UNDEFINED = 0xffffffff;
const LONG_VRS = new Set(['OB', 'OD', 'OL', 'OW', 'SQ', 'OF', 'UC', 'UR', 'UT', 'UN']);

export interface NestingOptions {
  explicit: boolean;
  bigEndian: boolean;
  /** Stop at this top-level tag (as dicom-parser's untilTag). */
  untilTag?: number;
  /** Walk only the file meta group (stop at the first top-level element of another group). */
  metaOnly?: boolean;
}

interface Frame {
  items: boolean; // a sequence's items (true) or a dataset's elements (false)
  end: number; // Infinity: undefined length, ends at a delimiter
  implicit: boolean;
}

/**
 * The deepest sequence nesting in `b` from `start`, or the first depth found above `limit` (the
 * walk stops there). Returns also where the top-level walk ended (for the meta group: its end).
 */
export function sequenceNesting(b: Uint8Array, start: number, opts: NestingOptions, limit: number): { depth: number; end: number } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const le = !opts.bigEndian;
  const len = b.length;
  const stack: Frame[] = [{ items: false, end: len, implicit: !opts.explicit }];
  let depth = 0;
  let deepest = 0;
  let pos = start;
  const tagAt = (p: number): number => ((dv.getUint16(p, le) << 16) | dv.getUint16(p + 2, le)) >>> 0;

  while (stack.length > 0) {
    const f = stack[stack.length - 1]!;
    if (f.items) {
      if (f.end !== Infinity) {
        if (pos >= f.end) {
          stack.pop();
          depth--;
          continue;
        }
      } else {
        if (pos + 4 > len) break;
        if (tagAt(pos) === SEQ_END) {
          pos += 8;
          stack.pop();
          depth--;
          continue;
        }
      }
      if (pos + 8 > len || tagAt(pos) !== ITEM) break;
      const itemLength = dv.getUint32(pos + 4, le);
      pos += 8;
      if (itemLength === UNDEFINED) stack.push({ items: false, end: Infinity, implicit: f.implicit });
      else {
        if (pos + itemLength > len) break;
        stack.push({ items: false, end: pos + itemLength, implicit: f.implicit });
      }
      continue;
    }

    // A dataset's elements.
    if (pos >= f.end || pos >= len) {
      if (stack.length === 1) break;
      stack.pop();
      continue;
    }
    if (pos + 8 > len) break;
    const tag = tagAt(pos);
    const topLevel = stack.length === 1;
    if (topLevel && opts.metaOnly && tag >>> 16 !== 0x0002) break;
    let vr: string | undefined;
    let length: number;
    let header: number;
    if (!f.implicit) {
      vr = String.fromCharCode(b[pos + 4]!, b[pos + 5]!);
      if (LONG_VRS.has(vr)) {
        if (pos + 12 > len) break;
        length = dv.getUint32(pos + 8, le);
        header = 12;
      } else {
        length = dv.getUint16(pos + 6, le);
        header = 8;
      }
    } else {
      length = dv.getUint32(pos + 4, le);
      header = 8;
    }
    if (topLevel && tag === opts.untilTag) break;
    if (f.end === Infinity && tag === ITEM_END) {
      pos += header + (length === UNDEFINED ? 0 : length);
      stack.pop();
      continue;
    }
    pos += header;
    const undefinedLength = length === UNDEFINED;
    let sequence: boolean;
    if (!f.implicit) sequence = vr === 'SQ';
    else {
      const next = pos + 4 <= len ? tagAt(pos) : 0;
      const isPrivate = ((tag >>> 16) & 1) === 1;
      sequence = (next === ITEM || next === SEQ_END) && (!isPrivate || undefinedLength);
    }
    const unAsImplicit = !f.implicit && !sequence && undefinedLength && tag !== PIXEL_DATA && vr === 'UN';
    if (sequence || unAsImplicit) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return { depth: deepest, end: pos };
      stack.push({ items: true, end: undefinedLength ? Infinity : pos + length, implicit: f.implicit || unAsImplicit });
      continue;
    }
    if (!undefinedLength) {
      pos += length;
      continue;
    }
    if (!f.implicit && tag === PIXEL_DATA) {
      // Encapsulated pixel data: fragments up to the sequence delimiter, never nested.
      while (pos + 8 <= len) {
        const t = tagAt(pos);
        const l = dv.getUint32(pos + 4, le);
        pos += 8 + l;
        if (t !== ITEM) break;
      }
      continue;
    }
    // Any other undefined length: dicom-parser scans for the item delimiter.
    let found = false;
    while (pos + 8 <= len) {
      const group = dv.getUint16(pos, le);
      pos += 2;
      if (group !== 0xfffe) continue;
      const element = dv.getUint16(pos, le);
      pos += 2;
      if (element === 0xe00d) {
        pos += 4;
        found = true;
        break;
      }
    }
    if (!found) pos = len;
  }
  return { depth: deepest, end: pos };
}
