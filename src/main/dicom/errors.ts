// Every failure in the DICOM layer names the file and the reason, so an import can list refused
// files and go on, and a CLI user knows which file broke and why.
import { CleftError } from '../../common/errors';

export type DicomErrorReason =
  | 'not_dicom' // no DICM preamble and not parseable as a raw dataset
  | 'truncated' // the file ends before the data it announces
  | 'corrupt' // structurally invalid (bad lengths, bad tags, codec stream errors)
  | 'unsupported' // valid DICOM we deliberately do not decode (transfer syntax, layout)
  | 'no_pixels' // no Pixel Data element
  | 'for_processing' // refused by the pipeline unless explicitly allowed
  | 'invalid_frame' // a frame index outside the image
  | 'io'; // the file could not be read

export class DicomError extends CleftError {
  readonly file: string;
  readonly reason: DicomErrorReason;

  constructor(file: string, reason: DicomErrorReason, detail: string) {
    super(reason === 'unsupported' || reason === 'for_processing' ? 'unsupported' : 'invalid_input', `${file}: ${detail}`);
    this.name = 'DicomError';
    this.file = file;
    this.reason = reason;
  }
}

/** dicom-parser throws strings, Errors, and {exception, dataSet} objects; make one sentence of it. */
export function describeThrown(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'exception' in err) return describeThrown((err as { exception: unknown }).exception);
  return String(err);
}

/** Wraps any throw from a parser or codec into a DicomError for `file` (keeping DicomErrors). */
export function asDicomError(file: string, err: unknown, fallback: DicomErrorReason = 'corrupt'): DicomError {
  if (err instanceof DicomError) return err;
  const msg = describeThrown(err);
  const reason: DicomErrorReason = /overrun|beyond|end of (buffer|file)|truncat|unexpected end/i.test(msg) ? 'truncated' : fallback;
  return new DicomError(file, reason, `${reason === 'truncated' ? 'truncated: ' : ''}${msg}`);
}
