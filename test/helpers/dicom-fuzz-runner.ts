// Child process of the DICOM fuzz test: decodes each file exactly as `cleft dicom pixels` does
// (and reads its header as `cleft dicom info` does) and prints one JSON line per file, before and
// after, so the parent sees which file was running if this process crashes or hangs. Run with a
// small heap (node --max-old-space-size) so an unbounded allocation is a detected crash, not a
// vitest worker killed.
import fs from 'node:fs';
import { decodePixels } from '../../src/main/cli/commands/dicom';
import { DicomError } from '../../src/main/dicom/errors';
import { readDicomHeader } from '../../src/main/dicom/header';

const say = (o: object): void => void fs.writeSync(1, JSON.stringify(o) + '\n');

async function main(): Promise<void> {
  const files = JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8')) as string[];
  const from = Number(process.argv[3] ?? 0);
  for (let i = from; i < files.length; i++) {
    const file = files[i]!;
    say({ i, start: true });
    const outcome: { i: number; ok: boolean; header?: string; message?: string; reason?: string; shape?: number[] } = { i, ok: false };
    try {
      await readDicomHeader(file);
    } catch (err) {
      outcome.header = err instanceof DicomError ? `${err.reason}|${err.message}` : `RAW|${String(err)}`;
    }
    try {
      const r = await decodePixels(file, { stage: 'stored' });
      outcome.ok = true;
      outcome.shape = r.shape;
    } catch (err) {
      if (err instanceof DicomError) {
        outcome.message = err.message;
        outcome.reason = err.reason;
      } else outcome.message = `RAW ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
    }
    say(outcome);
  }
  say({ done: true, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) });
}

main().catch((err: unknown) => {
  say({ fatal: String(err) });
  process.exit(2);
});
