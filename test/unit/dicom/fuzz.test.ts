// Fuzz test of the DICOM reader and of the import job (issue #16, items 10 and 12): a seeded,
// deterministic set of mutated files (fuzz-corpus.ts) is decoded as `cleft dicom pixels` decodes,
// in a child process with a small heap, so an unbounded allocation shows up as a crash of that
// child rather than of vitest. Every mutant must decode or be refused with a DicomError naming
// the file in the reason vocabulary; then the same folder goes through the import job, twice.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/main/api/backend';
import { REASON_PHRASE } from '../../../src/main/dicom/errors';
import type { ImportResult } from '../../../src/common/jobs';
import { callApi } from '../../helpers/api';
import { testBackend } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { requireTools } from './corpus';
import { type Mutant, buildFuzzSet } from './fuzz-corpus';

const ROOT = path.resolve(__dirname, '../../..');
const RUNNER = path.join(ROOT, 'test/helpers/dicom-fuzz-runner.ts');
/** Engine and parser internals that must never reach a user. */
const RAW =
  /Maximum call stack|Invalid array length|Invalid typed array length|maxPosition|truncated: truncated|dicomParser|RangeError|TypeError|undefined is not|Cannot read prop|parameter '|byteArray/i;
const PHRASES = Object.values(REASON_PHRASE);

interface Outcome {
  i: number;
  ok: boolean;
  header?: string;
  message?: string;
  reason?: string;
  shape?: number[];
}

interface RunResult {
  outcomes: Map<number, Outcome>;
  crashed: { file: string; how: string }[];
  maxRssMb: number[];
}

/** Runs the child over files[from..]; a crash or hang names the file and the next child goes on. */
async function decodeAll(files: string[], listFile: string): Promise<RunResult> {
  fs.writeFileSync(listFile, JSON.stringify(files));
  const result: RunResult = { outcomes: new Map(), crashed: [], maxRssMb: [] };
  let from = 0;
  while (from < files.length) {
    let current = -1;
    let done = false;
    const how = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', RUNNER, listFile, String(from)], {
        cwd: ROOT,
        // Lower limits than the defaults so every allocation a mutant may ask for stays small.
        env: { ...process.env, CLEFT_DICOM_MAX_FRAME_MB: '64', CLEFT_DICOM_MAX_DECODED_MB: '128' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let buf = '';
      let stderr = '';
      // A hang is a failure to detect, not a timing the test waits for: only a stuck child trips it.
      let watchdog = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = JSON.parse(buf.slice(0, nl)) as Outcome & { start?: boolean; done?: boolean; maxRssMb?: number };
          buf = buf.slice(nl + 1);
          clearTimeout(watchdog);
          watchdog = setTimeout(() => child.kill('SIGKILL'), 60_000);
          if (line.done) {
            done = true;
            result.maxRssMb.push(line.maxRssMb!);
          } else if (line.start) current = line.i;
          else {
            result.outcomes.set(line.i, line);
            current = -1;
          }
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(watchdog);
        resolve(done ? '' : `exit ${code ?? ''} ${signal ?? ''}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
      });
    });
    if (done) break;
    const at = current >= 0 ? current : from;
    result.crashed.push({ file: files[at]!, how });
    from = at + 1;
  }
  return result;
}

let dir: string;
let mutants: Mutant[];
let decoded: RunResult | undefined;

beforeAll(async () => {
  requireTools();
  dir = tmpDir('cleft-fuzz-');
  mutants = await buildFuzzSet(path.join(dir, 'mutants'), path.join(dir, 'work'));
  mutants.sort((a, b) => (a.file < b.file ? -1 : 1));
}, 120_000);
afterAll(removeTmpDirs);

const open: Backend[] = [];
afterEach(() => {
  for (const b of open.splice(0)) b.close();
});

const byKind = (kind: string): Mutant[] => mutants.filter((m) => m.kind === kind);

describe('DICOM fuzz', () => {
  it(
    'every mutant decodes or is refused with a DicomError naming the file and a plain reason; no crash, no hang',
    { timeout: 240_000 },
    async () => {
      expect(mutants.length).toBeGreaterThan(300);
      decoded = await decodeAll(
        mutants.map((m) => m.file),
        path.join(dir, 'list.json'),
      );
      const run = decoded;
      expect(run.crashed).toEqual([]);
      const bad: string[] = [];
      for (const [i, m] of mutants.entries()) {
        const o = run.outcomes.get(i);
        if (!o) {
          bad.push(`${m.file}: no outcome`);
          continue;
        }
        if (o.header?.startsWith('RAW|')) bad.push(`${m.file}: header read threw a non-DicomError: ${o.header}`);
        if (o.header && RAW.test(o.header)) bad.push(`${m.file}: header message exposes internals: ${o.header}`);
        if (o.ok) continue;
        const msg = o.message ?? '';
        const rest = msg.startsWith(`${m.file}: `) ? msg.slice(m.file.length + 2) : undefined;
        if (rest === undefined) bad.push(`${m.file}: message does not start with the file: ${msg}`);
        else if (!PHRASES.some((p) => rest === p || rest.startsWith(`${p}: `))) bad.push(`${m.file}: not in the reason vocabulary: ${msg}`);
        if (RAW.test(msg)) bad.push(`${m.file}: message exposes internals: ${msg}`);
      }
      expect(bad).toEqual([]);
      // The child never needed much memory: every size was bounded before allocating.
      expect(Math.max(...run.maxRssMb)).toBeLessThan(1024);

      const outcome = (m: Mutant): Outcome => run.outcomes.get(mutants.indexOf(m))!;
      // The seeds themselves decode, and sequences nested 40 deep are fine.
      for (const m of [...byKind('original'), ...byKind('deep40')]) expect(outcome(m), m.file).toMatchObject({ ok: true });
      // What the issue saw crash or slip through, refused by name.
      const refused = (kind: string, reason: string): void => {
        const ms = byKind(kind);
        expect(ms.length, kind).toBeGreaterThan(0);
        for (const m of ms) expect(outcome(m), m.file).toMatchObject({ ok: false, reason });
      };
      refused('deep10000', 'too_large');
      refused('deep10000-defined', 'too_large');
      refused('deep65', 'too_large');
      refused('deep10000-implicit', 'too_large');
      refused('deep10000-implicit-defined', 'too_large');
      for (const m of byKind('deep40-implicit')) expect(outcome(m), m.file).toMatchObject({ ok: true });
      for (const v of ['abc', '-1', '0', '1e9', '3.5']) refused(`frames${v}`, 'corrupt');
      for (const v of ['1000000000', '2147483648', '4294967296', '99']) refused(`frames${v}`, 'corrupt');
      refused('size65500', 'too_large');
      refused('rows65535', 'corrupt');
      refused('bits1', 'corrupt'); // 16-bit data read as 1-bit: the data holds 16x the declared frame
      refused('bits64', 'unsupported');
      refused('bits0', 'corrupt');
      refused('bits65535', 'corrupt');
      for (const m of byKind('codestream-65500')) expect(outcome(m), m.file).toMatchObject({ ok: false, reason: 'corrupt' });
      const counts = { ok: 0, refused: 0 };
      for (const o of run.outcomes.values()) counts[o.ok ? 'ok' : 'refused']++;
      console.log(
        `fuzz: ${mutants.length} files, ${counts.ok} decoded, ${counts.refused} refused, peak RSS ${Math.max(...run.maxRssMb)} MB`,
      );
    },
  );

  it(
    'the import job survives every mutant, lists each refused file with its reason, keeps decodable copies, and re-imports identically',
    { timeout: 240_000 },
    async () => {
      const b = testBackend();
      open.push(b);
      const run = async (): Promise<{ result: ImportResult; problems: string[]; indexed: string[] }> => {
        const job = b.jobs.enqueue({ kind: 'import', params: { paths: [path.join(dir, 'mutants')] } });
        const final = await b.jobs.waitFor(job.id);
        expect(final.error).toBeNull();
        expect(final.status).toBe('done');
        const problems = (await callApi(b, 'library.problems', { jobId: job.id, limit: 1000 })).rows.map(
          (p) => `${path.basename(p.filePath)} ${p.kind}: ${p.reason}`,
        );
        const indexed = (b.db.prepare('SELECT file_path FROM instances ORDER BY file_path').all() as { file_path: string }[]).map((r) =>
          path.basename(r.file_path),
        );
        return { result: final.result as ImportResult, problems: problems.sort(), indexed };
      };
      const first = await run();
      // Every file is accounted for: indexed, or listed with a reason.
      const listed = new Set(first.problems.map((p) => p.slice(0, p.indexOf(' '))));
      for (const m of mutants) {
        const name = path.basename(m.file);
        expect(first.indexed.includes(name) || listed.has(name), name).toBe(true);
      }
      for (const p of first.problems) {
        expect(p, p).not.toMatch(RAW);
        expect(p).toMatch(/ (skipped|refused): \S/);
      }
      // Nothing indexed is a file `dicom pixels` refuses for its header or size (codestream noise can only be seen by decoding).
      decoded ??= await decodeAll(
        mutants.map((m) => m.file),
        path.join(dir, 'list.json'),
      );
      const run1 = decoded;
      const outcome = new Map(mutants.map((m, i) => [path.basename(m.file), run1.outcomes.get(i)!]));
      const slipped = first.indexed.filter((f) => {
        const o = outcome.get(f)!;
        return !o.ok && o.reason !== 'corrupt';
      });
      expect(slipped).toEqual([]);
      for (const kind of ['frames0', 'frames-1', 'framesabc', 'frames1000000000', 'bits1', 'rows65535', 'deep10000', 'cut0']) {
        for (const m of byKind(kind)) {
          const name = path.basename(m.file);
          expect(first.indexed, name).not.toContain(name);
          expect(
            first.problems.some((p) => p.startsWith(`${name} refused: `)),
            name,
          ).toBe(true);
        }
      }
      // Broken copies sort before their seed's original: the original is still the copy kept.
      for (const m of byKind('original').filter((o) => o.seed.startsWith('w-'))) {
        const name = path.basename(m.file);
        const dup = first.problems.find((p) => p.startsWith(`${name} `));
        if (dup) expect(dup, name).toMatch(/duplicate of .* that file was kept/);
        else expect(first.indexed).toContain(name);
      }
      expect(first.problems.filter((p) => p.includes('duplicate of')).every((p) => /that file was kept/.test(p))).toBe(true);

      const second = await run();
      expect(second.problems).toEqual(first.problems);
      expect(second.indexed).toEqual(first.indexed);
      // Unchanged files are not re-read (nor counted as new, nor their studies as touched).
      const same = (r: ImportResult): object => ({ ...r, seconds: 0, filesPerSecond: 0, imported: 0, unchanged: 0, studies: 0 });
      expect(same(second.result)).toEqual(same(first.result));
      expect(second.result.unchanged).toBe(first.result.imported);
      fs.writeFileSync(path.join(dir, 'import-problems.txt'), first.problems.join('\n'));
      console.log(
        `import: ${first.result.imported} imported, ${first.result.duplicates} duplicates, ${first.result.refused} refused, ${first.result.skipped} skipped of ${first.result.scanned}`,
      );
    },
  );
});
