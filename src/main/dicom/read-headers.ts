// Headers of many files, read a few at a time: one outcome per file, in order, a DicomError in
// place of a file that cannot be read (never thrown), so one bad file costs only itself.
import { asDicomError, type DicomError } from './errors';
import { readDicomHeader, type DicomHeader } from './header';

/** Reads in flight at once: enough to hide file-system latency, few enough not to flood it. */
const CONCURRENCY = 16;

export async function readHeaders(files: readonly string[]): Promise<(DicomHeader | DicomError)[]> {
  const out: (DicomHeader | DicomError)[] = new Array(files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      try {
        // Geometry checked against the data present: a file `dicom pixels` would refuse is refused
        // here too, so it never becomes the kept copy of a SOP instance a good file also holds.
        out[i] = await readDicomHeader(files[i]!, { checkPixelData: true });
      } catch (err) {
        out[i] = asDicomError(files[i]!, err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, files.length) }, worker));
  return out;
}
