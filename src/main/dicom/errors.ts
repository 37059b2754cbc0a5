// Every failure in the DICOM layer names the file and the reason, so an import can list refused
// files and go on, and a CLI user knows which file broke and why. One vocabulary: the message is
// "<file>: <reason phrase>: <short detail>", whatever parser, codec or engine limit failed.
import { CleftError } from '../../common/errors';
import { NOT_DICOM_PHRASE } from '../../common/import-problems';

export type DicomErrorReason =
  | 'not_dicom' // no DICM preamble and not parseable as a raw dataset
  | 'truncated' // the file ends before the data it announces
  | 'corrupt' // structurally invalid (bad lengths, bad tags, codec stream errors, header and data disagree)
  | 'unsupported' // valid DICOM we deliberately do not decode (transfer syntax, layout)
  | 'too_large' // over one of the configured limits (limits.ts): decoded size, sequence depth
  | 'no_pixels' // no Pixel Data element
  | 'for_processing' // refused by the pipeline unless explicitly allowed
  | 'invalid_frame' // a frame index outside the image
  | 'io'; // the file could not be read (missing, not a regular file, permissions)

/** The phrase each reason starts with, right after the file name. */
export const REASON_PHRASE: Record<DicomErrorReason, string> = {
  not_dicom: NOT_DICOM_PHRASE,
  truncated: 'truncated',
  corrupt: 'corrupt',
  unsupported: 'unsupported',
  too_large: 'over a limit',
  no_pixels: 'no pixel data',
  for_processing: 'FOR PROCESSING image',
  invalid_frame: 'no such frame',
  io: 'cannot read',
};

export class DicomError extends CleftError {
  readonly file: string;
  readonly reason: DicomErrorReason;
  /** "<reason phrase>: <detail>": the message without the file name (what an import lists beside the file). */
  readonly summary: string;

  constructor(file: string, reason: DicomErrorReason, detail: string) {
    const phrase = REASON_PHRASE[reason];
    // Callers and wrapped errors sometimes already start with the phrase: say it once.
    let d = detail.trim();
    while (d.toLowerCase().startsWith(phrase.toLowerCase())) {
      d = d.slice(phrase.length).trim();
      d = d.startsWith('(') && d.endsWith(')') ? d.slice(1, -1) : d.replace(/^[:,-]\s*/, '');
    }
    // Values quoted from a corrupt file may hold control characters or run on.
    d = [...d].map((c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? '?' : c)).join('');
    if (d.length > 300) d = `${d.slice(0, 300)}…`;
    const summary = d ? `${phrase}: ${d}` : phrase;
    super(reason === 'unsupported' || reason === 'for_processing' ? 'unsupported' : 'invalid_input', `${file}: ${summary}`);
    this.name = 'DicomError';
    this.file = file;
    this.reason = reason;
    this.summary = summary;
  }
}

/**
 * Thrown below the file level (codec checks, frame splitting, limits) when the reason is known but
 * the file is not: asDicomError adds the file and keeps the reason.
 */
export class DicomDataError extends Error {
  constructor(
    readonly reason: DicomErrorReason,
    detail: string,
  ) {
    super(detail);
    this.name = 'DicomDataError';
  }
}

/** dicom-parser throws strings, Errors, and {exception, dataSet} objects; make one sentence of it. */
export function describeThrown(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'exception' in err) return describeThrown((err as { exception: unknown }).exception);
  return String(err);
}

/**
 * Plain reasons for what parsers, codecs and the JS engine throw: a researcher reads "an element's
 * length runs past the end of the file", not "parseDicomDataSetImplicit: invalid value for parameter
 * 'maxPosition'". Unknown messages keep their text, minus library prefixes.
 */
const PLAIN: { test: RegExp; reason: DicomErrorReason; detail: (m: string) => string }[] = [
  { test: /maximum call stack/i, reason: 'too_large', detail: () => 'sequences nested too deeply to follow' },
  {
    test: /invalid (typed )?array length|array buffer allocation failed|allocation failed|out of memory|cannot allocate/i,
    reason: 'too_large',
    detail: () => 'the image would not fit in memory',
  },
  {
    test: /maxPosition|buffer overrun|buffer overread|beyond the end|seek to position/i,
    reason: 'truncated',
    detail: () => 'an element runs past the end of the file',
  },
  {
    test: /position' cannot be greater than or equal to 'byteArray' length/i,
    reason: 'truncated',
    detail: () => 'the file ends after its meta header',
  },
  { test: /item tag \(FFFE,E000\) not found/i, reason: 'corrupt', detail: () => 'a sequence item is malformed' },
  { test: /DICM prefix not found/i, reason: 'not_dicom', detail: () => 'no DICM preamble' },
  {
    test: /missing required meta header attribute 0002,0010/i,
    reason: 'corrupt',
    detail: () => 'the file meta header names no transfer syntax',
  },
  {
    test: /basic offset table not found/i,
    reason: 'corrupt',
    detail: () => 'encapsulated pixel data does not start with an offset table item',
  },
  {
    test: /read past end of buffer|unexpected end|end of (buffer|file|data)/i,
    reason: 'truncated',
    detail: () => 'the file ends inside an element',
  },
  { test: /truncat|overrun/i, reason: 'truncated', detail: (m) => m },
];

/** Removes library and function prefixes ("dicomParser.readTag: ", "Error: ") from a thrown message. */
function stripPrefixes(msg: string): string {
  return msg
    .replace(/^(Range|Type)?Error:\s*/, '')
    .replace(/^dicomParser[.:][\w.]*:?\s*/i, '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
}

/** Wraps any throw from a parser or codec into a DicomError for `file` (keeping DicomErrors). */
export function asDicomError(file: string, err: unknown, fallback: DicomErrorReason = 'corrupt'): DicomError {
  if (err instanceof DicomError) return err;
  if (err instanceof DicomDataError) return new DicomError(file, err.reason, err.message);
  const msg = describeThrown(err);
  for (const p of PLAIN) if (p.test.test(msg)) return new DicomError(file, p.reason, stripPrefixes(p.detail(msg)));
  return new DicomError(file, fallback, stripPrefixes(msg) || 'unreadable');
}
