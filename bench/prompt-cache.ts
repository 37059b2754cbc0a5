// One-click classification with a cold vs a warm class-embedding cache (the library's
// class_embeddings table, src/main/features/class-embeddings.ts):
//
//   npx tsx bench/prompt-cache.ts [--exams 2] [--repeats 5] [--write]
//
// A library in a temp folder (the app's back end, jobs on worker threads as in the app) with a
// bundle of a random-weight GPT-2 small shape (768 wide, 12 layers; the real GPT-2 tokenizer) and a
// small ViT (224, patch 16, 192 wide, 2 layers), N small four-view phantom exams imported. One
// untimed classification fills both caches (image features and class embeddings); then cold and warm
// runs alternate: cold = the class embeddings forgotten before the run (the text encoder encodes the
// Breast density templates), warm = read from the cache (the text encoder does not run). Image
// features are cached in both, so the difference is the text side. Each run is `classify.start` →
// job done (wall) and the job's own `seconds`; every run's predictions are checked equal to the first.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { MethodInput, MethodName, MethodOutput } from '../src/common/contract';
import type { ClassifyResult } from '../src/common/jobs';
import { createBackend } from '../src/main/api/backend';
import { dispatch } from '../src/main/api/dispatch';
import { ClassEmbeddingsRepo } from '../src/main/db/class-embeddings-repo';
import { generatePhantoms } from '../src/main/dicom/phantom/index';
import { launchThreadWorker } from '../src/main/workers/thread-launcher';
import { defaultTokenizerDir } from '../src/native/cleft/demo';
import { writeTinyModels, type TinySizes } from '../src/native/cleft/tiny-models';
import { fmt, loadAvg1, machine, summarize, writeResultsSection, type Stats } from './harness';

const { values } = parseArgs({
  options: {
    exams: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '5' },
    write: { type: 'boolean', default: false },
  },
});
const exams = Number(values.exams);
const repeats = Number(values.repeats);
const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'out', 'prompt-cache');

const SIZES: TinySizes = {
  textDim: 768,
  textLayers: 12,
  textHeads: 12,
  positions: 1024,
  imageSize: 224,
  patch: 16,
  imageDim: 192,
  imageLayers: 2,
  imageHeads: 3,
  projDim: 512,
};

function models(): ReturnType<typeof writeTinyModels> {
  const dir = path.join(OUT, 'models');
  const done = path.join(dir, 'done');
  if (!fs.existsSync(done)) {
    fs.rmSync(dir, { recursive: true, force: true });
    writeTinyModels(dir, SIZES, 3);
    fs.writeFileSync(done, '');
  }
  return { text: path.join(dir, 'text'), image: path.join(dir, 'image'), heads: path.join(dir, 'heads.safetensors') };
}

async function phantoms(): Promise<string> {
  const dir = path.join(OUT, `phantoms-${exams}`);
  if (!fs.existsSync(path.join(dir, 'done'))) {
    fs.rmSync(dir, { recursive: true, force: true });
    await generatePhantoms({ outDir: dir, exams, seed: 4, size: 'small', syntaxes: ['explicit-le'] });
    fs.writeFileSync(path.join(dir, 'done'), '');
  }
  return dir;
}

const before = machine();
const parts = models();
const source = await phantoms();
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cleft-bench-prompt-cache-'));
const b = createBackend({ dataDir, launchWorker: launchThreadWorker, host: 'web', version: 'bench' });
async function call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>> {
  const res = await dispatch(b.handlers, method, input);
  if (!res.ok) throw new Error(`${method}: ${res.error.message}`);
  return res.value as MethodOutput<M>;
}
try {
  const made = await call('models.createBundle', {
    output: path.join(dataDir, 'bundle'),
    name: 'gpt2-small-shape',
    textModel: parts.text,
    imageModel: parts.image,
    heads: parts.heads,
    tokenizer: defaultTokenizerDir(),
  });
  const imported = await b.jobs.waitFor((await call('library.import', { paths: [source] })).id);
  if (imported.error) throw new Error(`import failed: ${imported.error}`);
  const studies = await call('library.studies', { sort: { key: 'accession', dir: 'asc' } });
  const studyIds = studies.rows.map((s) => s.id);
  const tasks = await call('tasks.list', {});
  const density = tasks.find((t) => t.name === 'Breast density')!;
  const templates = density.classes.reduce((a, c) => a + c.prompts.length, 0);
  const cache = new ClassEmbeddingsRepo(b.db);

  let reference: string | null = null;
  const classify = async (): Promise<{ wallMs: number; result: ClassifyResult }> => {
    const t0 = performance.now();
    const job = await b.jobs.waitFor((await call('classify.start', { modelId: made.model!.id, taskId: density.id, studyIds })).id);
    const wallMs = performance.now() - t0;
    if (job.error) throw new Error(`classify failed: ${job.error}`);
    const result = job.result as ClassifyResult;
    const preds = await call('runs.predictions', {
      runId: result.runId,
      limit: 1000,
    });
    const probs = JSON.stringify(preds.rows.map((p) => p.probabilities));
    reference ??= probs;
    if (probs !== reference) throw new Error('a run gave other probabilities than the first');
    return { wallMs, result };
  };

  await classify(); // fills the image feature cache and the class embedding cache (untimed)
  const cold: { wall: number[]; job: number[] } = { wall: [], job: [] };
  const warm: { wall: number[]; job: number[] } = { wall: [], job: [] };
  let images = 0;
  for (let i = 0; i < repeats; i++) {
    cache.deleteAll();
    const c = await classify();
    if (c.result.classEmbeddings !== 'computed') throw new Error(`cold run: class embeddings ${c.result.classEmbeddings}`);
    cold.wall.push(c.wallMs);
    cold.job.push(c.result.seconds * 1000);
    const w = await classify();
    if (w.result.classEmbeddings !== 'cache') throw new Error(`warm run: class embeddings ${w.result.classEmbeddings}`);
    if (w.result.featureCacheHits !== w.result.images) throw new Error('warm run: image features not all cached');
    warm.wall.push(w.wallMs);
    warm.job.push(w.result.seconds * 1000);
    images = w.result.images;
  }
  const after = loadAvg1();
  const s = (n: string, xs: number[]): Stats => summarize(n, xs);
  const line = (what: string, wall: Stats, job: Stats) =>
    `| ${what} | ${fmt(wall.medianMs / 1000, 2)} | ${fmt(wall.q1Ms / 1000, 2)}–${fmt(wall.q3Ms / 1000, 2)} | ${fmt(job.medianMs / 1000, 2)} | ${fmt(job.q1Ms / 1000, 2)}–${fmt(job.q3Ms / 1000, 2)} | ${wall.n} |`;
  const rows = [
    line('cold: class embeddings encoded (text encoder runs)', s('cold wall', cold.wall), s('cold job', cold.job)),
    line('warm: class embeddings from the library cache (no text encoder)', s('warm wall', warm.wall), s('warm job', warm.job)),
  ];
  const md = `## One-click classification: class-embedding cache cold vs warm

Command: \`npx tsx bench/prompt-cache.ts --exams ${exams} --repeats ${repeats}${values.write ? ' --write' : ''}\`
Machine: ${before.cpu}, ${before.logicalCores} logical cores, ${before.platform}, Node ${before.node}; 1-min load average ${before.loadAvg1} before, ${after} after.
Date: ${new Date().toISOString().slice(0, 10)}. \`classify.start\` of ${studyIds.length} phantom exams (${images} images, 512×416) on the app's back end (the job on a worker thread, as in the app), Breast density (4 classes, ${templates} templates); bundle: random-weight GPT-2 small shape (768 wide, 12 layers, real tokenizer) + ViT 224/16 192 wide 2 layers. Image features cached in every run; cold runs forget the class embeddings first. Median (IQR) of ${repeats} alternating cold/warm runs; every run's predictions equal the first's.

| run | wall s (start → done) | IQR s | job s | IQR s | n |
|---|---|---|---|---|---|
${rows.join('\n')}
`;
  console.log(md);
  if (values.write) {
    writeResultsSection('prompt-cache', md);
    console.log('wrote bench/RESULTS.md (section prompt-cache)');
  }
} finally {
  b.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
