// `cleft demo`: the embedded default, offline. Phantom exams + reports, a small ViT + GPT-2 (real GPT-2
// tokenizer) trained from scratch on them, a CLEFT bundle, zero-shot density and prompt learning on
// held-out phantoms with metrics before/after (src/native/cleft/demo.ts).
import type { Command } from 'commander';
import * as path from 'node:path';
import { runDemo, type DemoMetrics } from '../../../native/cleft/demo';
import { demoDeps } from '../../demo/demo-deps';
import { formatDuration, ProgressPrinter, renderBar } from '../progress-bar';
import { addSample, etaSeconds, type ProgressSample } from '../../../common/progress';
import { num } from './train';
import { parseProviderChoice } from '../../../native/runtime/providers';

const pct = (x: number | null) => (x === null ? '  -  ' : `${(100 * x).toFixed(1)}%`);
const line = (label: string, m: DemoMetrics) =>
  `  ${label.padEnd(26)} accuracy ${pct(m.accuracy)}  balanced ${pct(m.balancedAccuracy)}  macro AUC ${m.macroAuc === null ? '-' : m.macroAuc.toFixed(3)} (95% CI ${m.macroAucLow?.toFixed(3) ?? '-'}-${m.macroAucHigh?.toFixed(3) ?? '-'})  n ${m.n}`;

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'Offline demo: phantom exams -> small CLEFT model trained from scratch -> zero-shot density -> prompt learning, with metrics',
    )
    .option('--output <dir>', 'output folder (phantoms/, bundle/, demo-report.json)', 'cleft-demo')
    .option('--exams <n>', 'phantom exams, balanced over densities A-D (default 120; quick 24)')
    .option('--seed <s>', 'seed', '1')
    .option('--steps <n>', 'contrastive training updates (default 400; quick 60)')
    .option('--prompt-steps <n>', 'prompt-learning updates (default 150; quick 40)')
    .option('--threads <n>', 'intra-op threads (default: physical cores)')
    .option('--device <device>', 'auto | cpu | webgpu | cuda:N (auto: CUDA, else a hardware WebGPU adapter, else CPU)', 'auto')
    .option('--quick', 'tiny sizes for tests (well under a minute)')
    .option('--json', 'print the result as JSON')
    .action(
      async (f: {
        output: string;
        exams?: string;
        seed: string;
        steps?: string;
        promptSteps?: string;
        threads?: string;
        device: string;
        quick?: boolean;
        json?: boolean;
      }) => {
        const pp = new ProgressPrinter();
        const samples: ProgressSample[] = [];
        const ac = new AbortController();
        process.once('SIGINT', () => ac.abort());
        const exams = num(f.exams, '--exams', { int: true, min: 8 });
        const steps = num(f.steps, '--steps', { int: true, min: 1 });
        const promptSteps = num(f.promptSteps, '--prompt-steps', { int: true, min: 1 });
        const threads = num(f.threads, '--threads', { int: true, min: 1 });
        const r = await runDemo(
          {
            outputDir: path.resolve(f.output),
            seed: num(f.seed, '--seed', { int: true })!,
            quick: Boolean(f.quick),
            device: parseProviderChoice(f.device),
            signal: ac.signal,
            ...(exams !== undefined ? { exams } : {}),
            ...(steps !== undefined ? { steps } : {}),
            ...(promptSteps !== undefined ? { promptSteps } : {}),
            ...(threads !== undefined ? { threads } : {}),
            onProgress: (p) => {
              if (f.json) return;
              addSample(samples, { t: Date.now(), fraction: p.fraction });
              const eta = etaSeconds([...samples, { t: Date.now(), fraction: p.fraction }]) ?? NaN;
              pp.update(`${renderBar(p.fraction)} ${(100 * p.fraction).toFixed(0).padStart(3)}%  ${p.message}  ETA ${formatDuration(eta)}`);
            },
          },
          demoDeps,
        );
        pp.done();
        if (f.json) {
          console.log(
            JSON.stringify(
              {
                ...r,
                zeroShot: { image: r.zeroShot.image, exam: r.zeroShot.exam },
                promptLearned: { image: r.promptLearned.image, exam: r.promptLearned.exam },
              },
              null,
              2,
            ),
          );
          return;
        }
        console.log(
          `CLEFT demo (${f.quick ? 'quick' : 'full'}): ${r.exams.train + r.exams.promptTrain + r.exams.test} phantom exams, balanced over densities A-D`,
        );
        console.log(
          `  contrastive training (small ViT + GPT-2 from scratch, all weights): ${r.images.train} image-caption pairs from ${r.exams.train} exams, ${r.contrastive.steps} updates, loss ${r.contrastive.firstLoss.toFixed(3)} -> ${r.contrastive.lastLoss.toFixed(3)}`,
        );
        console.log(
          `  prompt learning on ${r.images.promptTrain} images of ${r.exams.promptTrain} other exams; everything evaluated on ${r.images.test} images of ${r.exams.test} unseen test exams (chance 25%):`,
        );
        console.log(line('zero-shot, per image', r.zeroShot.image));
        console.log(line('zero-shot, per exam', r.zeroShot.exam));
        console.log(line('prompt-learned, per image', r.promptLearned.image));
        console.log(line('prompt-learned, per exam', r.promptLearned.exam));
        for (const n of r.notes) console.log(`  note: ${n}`);
        const dev = r.device.contrastive;
        if (dev) console.log(`  device: ${dev.provider} (${dev.reason})`);
        console.log(`  bundle: ${r.bundleDir} (prompt set "${r.promptSet}")`);
        console.log(
          `  ${r.seconds.toFixed(1)} s (${Object.entries(r.stages)
            .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
            .join(', ')})`,
        );
      },
    );
}
