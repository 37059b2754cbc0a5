// `cleft train-lora`, `cleft prompt-learn`, `cleft train-adaptor`: the CLEFT training workflows on
// prepared safetensors files, with the same code the app's jobs run (src/native/cleft).
//
// One "step" is one optimizer update over one batch of --batch-size examples (times --accumulation
// micro-batches, default 1). With --no-shuffle batches are taken in file order (the remainder that
// does not fill a batch is skipped each epoch). Optimizers follow torch.optim exactly: AdamW(betas
// (0.9, 0.999), eps 1e-8, weight_decay 0.01 on every trainable tensor, bias-corrected), SGD(momentum
// 0, dampening 0, weight_decay 0 added to the gradient as L2). Constant learning rate unless
// --schedule cosine. No gradient clipping unless --max-grad-norm.
import { WEIGHT_PRECISIONS, weightsNote, type WeightPrecision } from '../../../common/precision';
import { type Command, Option } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readHeads } from '../../../native/models/heads';
import { loadHfFolder } from '../../../native/models/hf-model';
import { Gpt2Tokenizer } from '../../../native/formats/tokenizer';
import { writeSafetensors, readTensorF32, readSafetensorsHeader } from '../../../native/formats/safetensors';
import { writeFileAtomic } from '../../../native/io/atomic-write';
import { IMAGE_POOLINGS, type ImagePooling } from '../../../native/models/vit';
import { DataFile } from '../../../native/cleft/data';
import { exportContrastive, lastBlocksTraining, trainContrastive, type EncoderTraining } from '../../../native/cleft/contrastive';
import { learnPromptContext, type CtxInit } from '../../../native/cleft/prompt-learning';
import { imageFeatures, textFeatures } from '../../../native/cleft/features';
import { trainAdaptor, exportAdaptor } from '../../../native/cleft/adaptor';
import { takeRows } from '../../../native/cleft/math';
import type { OptimizerOptions, RunOptions } from '../../../native/cleft/common';
import type { WorkflowProgress } from '../../../native/cleft/loop';
import { DEFAULT_INIT_PHRASE } from '../../../native/cleft/tasks';
import { classNameIds } from '../../../native/cleft/zero-shot';
import { parseProviderChoice, providerLabel, type ResolvedProvider } from '../../../native/runtime/providers';
import { graphRecord, type DeviceRecord } from '../../../native/runtime/device-record';
import { formatDuration, ProgressPrinter, renderBar } from '../progress-bar';
import { DB_FILE_NAME, openDatabase } from '../../db/database';
import { resolveDataDir } from '../../data-dir';
import { namedSplitRows, splitSha256 } from '../../library/splits';

export function num(v: string | undefined, flag: string, opts: { int?: boolean; min?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (opts.int && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min))
    throw new Error(
      `${flag} must be ${opts.int ? 'an integer' : 'a number'}${opts.min !== undefined ? ` >= ${opts.min}` : ''}, got "${v}"`,
    );
  return n;
}

/** A progress bar with ETA on stderr (plain lines when not a terminal). */
export function progressPrinter(quiet = false): { hook: (p: WorkflowProgress) => void; done: (line?: string) => void } {
  const pp = new ProgressPrinter();
  const t0 = Date.now();
  return {
    hook: (p) => {
      if (quiet) return;
      const f = p.totalSteps ? p.step / p.totalSteps : 0;
      const eta = f > 0 ? ((Date.now() - t0) / 1000) * ((1 - f) / f) : NaN;
      const val = p.valMetrics
        ? `  val ${Object.entries(p.valMetrics)
            .map(([k, v]) => `${k} ${v.toFixed(3)}`)
            .join(' ')}`
        : '';
      pp.update(
        `${renderBar(f)} ${p.step}/${p.totalSteps} loss ${Number.isFinite(p.loss) ? p.loss.toFixed(4) : '-'} lr ${p.lr.toExponential(2)}${val}  ETA ${formatDuration(eta)}`,
      );
    },
    done: (line) => pp.done(line),
  };
}

interface OptFlags {
  optimizer: 'adamw' | 'sgd';
  lr: string;
  momentum?: string;
  weightDecay?: string;
  steps: string;
  batchSize: string;
  accumulation: string;
  shuffle: boolean;
  seed: string;
  schedule: 'constant' | 'cosine';
  warmup: string;
  maxGradNorm?: string;
  betas: string;
  eps: string;
  nesterov?: boolean;
  threads?: string;
  device: string;
  workDir?: string;
  checkpointDir?: string;
  checkpointEvery?: string;
  json?: boolean;
}

export function optimizerFlags(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--optimizer <kind>', 'torch.optim semantics: AdamW (betas 0.9, 0.999, eps 1e-8, bias-corrected) or SGD')
        .choices(['adamw', 'sgd'])
        .default('adamw'),
    )
    .option('--betas <b1,b2>', 'AdamW betas', '0.9,0.999')
    .option('--eps <x>', 'AdamW eps', '1e-8')
    .option('--nesterov', 'SGD Nesterov momentum')
    .requiredOption('--lr <x>', 'learning rate')
    .option('--momentum <x>', 'SGD momentum (default 0, as torch.optim.SGD)')
    .option(
      '--weight-decay <x>',
      'AdamW: decoupled decay on every trainable tensor (default 0.01, as torch); SGD: L2 added to the gradient (default 0)',
    )
    .requiredOption('--steps <n>', 'optimizer updates (one update = one batch of --batch-size x --accumulation)')
    .requiredOption('--batch-size <n>', 'examples per batch')
    .option('--accumulation <n>', 'micro-batches per update, gradients averaged', '1')
    .option('--no-shuffle', 'take batches in file order (default: a seeded shuffle each epoch)')
    .option('--seed <s>', 'seed: data order, dropout masks, new adapter init, splits', '0')
    .addOption(new Option('--schedule <kind>', 'learning-rate schedule').choices(['constant', 'cosine']).default('constant'))
    .option('--warmup <n>', 'linear warmup updates for --schedule cosine', '0')
    .option('--max-grad-norm <x>', 'global gradient-norm clipping (default none)')
    .option('--threads <n>', 'intra-op threads (default: physical cores)')
    .option('--device <device>', 'auto | cpu | webgpu | cuda:N (auto: CUDA, else WebGPU, else CPU)', 'auto')
    .option('--work-dir <dir>', 'folder for the training graphs (default: a temporary folder in --output, removed at the end)')
    .option('--checkpoint-dir <dir>', 'write checkpoints here and resume from it when it holds one')
    .option('--checkpoint-every <n>', 'updates between checkpoints (default: only when interrupted and at the end)')
    .option('--json', 'print the result as JSON');
}

export function runOptions(f: OptFlags, output: string): { run: RunOptions; cleanup: () => void; device: () => DeviceRecord | null } {
  const threads = num(f.threads, '--threads', { int: true, min: 1 });
  const device = parseProviderChoice(f.device);
  let record: DeviceRecord | null = null;
  const optimizer: OptimizerOptions = {
    kind: f.optimizer,
    lr: num(f.lr, '--lr')!,
    ...(f.momentum !== undefined ? { momentum: num(f.momentum, '--momentum', { min: 0 })! } : {}),
    ...(f.weightDecay !== undefined ? { weightDecay: num(f.weightDecay, '--weight-decay', { min: 0 })! } : {}),
    ...(f.maxGradNorm !== undefined ? { maxGradNorm: num(f.maxGradNorm, '--max-grad-norm', { min: 0 })! } : {}),
    beta1: num(f.betas.split(',')[0], '--betas', { min: 0 })!,
    beta2: num(f.betas.split(',')[1] ?? '0.999', '--betas', { min: 0 })!,
    eps: num(f.eps, '--eps', { min: 0 })!,
    ...(f.nesterov ? { nesterov: true } : {}),
    schedule:
      f.schedule === 'cosine' ? { kind: 'cosine', warmupSteps: num(f.warmup, '--warmup', { int: true, min: 0 })! } : { kind: 'constant' },
  };
  const workDir = path.resolve(f.workDir ?? path.join(output, `.cleft-work-${process.pid}`));
  const temp = !f.workDir;
  const ac = new AbortController();
  const onSig = () => {
    console.error('\ninterrupted: stopping after this update (a checkpoint is written when --checkpoint-dir is set)');
    ac.abort();
  };
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  return {
    run: {
      optimizer,
      steps: num(f.steps, '--steps', { int: true, min: 0 })!,
      batchSize: num(f.batchSize, '--batch-size', { int: true, min: 1 })!,
      accumulation: num(f.accumulation, '--accumulation', { int: true, min: 1 })!,
      shuffle: f.shuffle,
      seed: num(f.seed, '--seed', { int: true })!,
      workDir,
      signal: ac.signal,
      device,
      // The first trainer's record (prompt-learn's validation reopens the same graphs).
      onDevice: (r) => void (record ??= r),
      ...(threads !== undefined ? { session: { intraOpNumThreads: threads } } : {}),
      ...(f.checkpointDir
        ? {
            checkpoint: {
              dir: path.resolve(f.checkpointDir),
              every: num(f.checkpointEvery, '--checkpoint-every', { int: true, min: 0 }) ?? 0,
            },
          }
        : {}),
    },
    device: () => record,
    cleanup: () => {
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
      if (temp) fs.rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** The training record plus the encoders that computed cached features (no node placement known there). */
function withFeatures(record: DeviceRecord | null, encoders: Record<string, ResolvedProvider>): DeviceRecord | null {
  if (!record) return null;
  const graphs = { ...record.graphs };
  for (const [k, p] of Object.entries(encoders))
    graphs[k] = graphRecord({ provider: providerLabel(p), allNodesOnProvider: p.name === 'cpu' ? true : null });
  return { ...record, graphs };
}

const fmt = (m: Record<string, number> | null | undefined) =>
  m
    ? Object.entries(m)
        .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`)
        .join(', ')
    : '-';

/**
 * How a command on a prepared data file splits its rows. `--split NAME` (with --data-dir): the
 * library's named split, matched by the file's `study_uids` metadata (one StudyInstanceUID per row);
 * its test part is never used. Otherwise rows are grouped by the file's `patient_ids` metadata
 * (else `study_uids`), so one patient's images stay on one side; a file with neither has no way to
 * know them, and each image is its own group (said on stderr).
 */
export function dataSplit(
  data: DataFile,
  rows: number,
  f: { split?: string; dataDir?: string },
): { groups: string[] | null; named: { train: number[]; val: number[] } | null; record: Record<string, unknown> } {
  const studyUids = data.rowStrings('study_uids', rows);
  if (f.split) {
    if (!studyUids)
      throw new Error(`--split ${f.split}: ${data.file} has no study_uids metadata (a JSON list of each row's StudyInstanceUID)`);
    const db = openDatabase(path.join(resolveDataDir(f.dataDir), DB_FILE_NAME));
    try {
      const r = namedSplitRows(db, f.split, studyUids);
      for (const n of r.record.notes) console.error(`note: ${n}`);
      return { groups: null, named: { train: r.train, val: r.val }, record: r.record };
    } finally {
      db.close();
    }
  }
  const patients = data.rowStrings('patient_ids', rows);
  const groups = patients ?? studyUids;
  if (!groups)
    console.error(
      `warning: ${data.file} has no patient_ids or study_uids metadata: each image is its own group, so images of one patient ` +
        'may sit on both sides of the validation split (add patient_ids, or use --split NAME with study_uids)',
    );
  return {
    groups,
    named: null,
    record: {
      name: null,
      by: patients ? 'patient' : studyUids ? 'study' : 'image',
      ...(studyUids ? { studies: splitSha256({ train: studyUids }) } : {}),
    },
  };
}

/** Puts the studies of each part into the split record of a command's metrics.json. */
function splitRecord(base: Record<string, unknown>, studyUids: string[] | null, split: { train: number[]; val: number[] }) {
  if (base.name !== null && base.name !== undefined) return base;
  const uids = (idx: number[]) => (studyUids ? [...new Set(idx.map((i) => studyUids[i]!))].sort() : null);
  const trainStudies = uids(split.train);
  const valStudies = uids(split.val);
  return {
    name: null,
    by: base.by,
    ...(trainStudies && valStudies ? { sha256: splitSha256({ train: trainStudies, val: valStudies }), trainStudies, valStudies } : {}),
    train: split.train.length,
    val: split.val.length,
  };
}

const SPLIT_HELP =
  "a named split of the library (--data-dir): train on its train part, validate on its val part, never its test part; rows are matched by the data file's study_uids metadata";

export function register(program: Command): void {
  optimizerFlags(
    program
      .command('train-lora')
      .description(
        'CLEFT stage 1: contrastive training (symmetric InfoNCE) with LoRA on the text and image encoders, trainable projections and logit scale, ' +
          "on a prepared data file (on the library's image-report pairs: cleft reports import FILE, then cleft jobs start train-lora --params JSON)",
      )
      .requiredOption('--text-model <dir>', 'GPT-2 family Hugging Face folder')
      .option(
        '--text-adapter <dir>',
        'PEFT adapter to continue training (keeps its rank, alpha and targets); default: a new one (r 8, alpha 32, c_attn)',
      )
      .requiredOption('--image-model <dir>', 'ViT / DINOv2 Hugging Face folder')
      .option('--image-adapter <dir>', 'PEFT adapter for the image encoder; default: a new one (r 8, alpha 32, query,value)')
      .option('--freeze-image', 'no LoRA on the image encoder (frozen)')
      .option(
        '--image-blocks <n>',
        'instead of image LoRA, train the last N blocks of the image encoder (+ final layer norm); exported as image/',
      )
      .addOption(new Option('--pool <pool>', 'image pooling').choices([...IMAGE_POOLINGS]).default('cls'))
      .requiredOption('--heads <file>', 'heads.safetensors (text_projection.weight, visual_projection.weight, logit_scale)')
      .requiredOption('--data <file>', 'safetensors with pixel_values (B,3,H,W), input_ids (B,T), lengths (B)')
      .option('--lora-dropout <x>', "LoRA dropout (default: the input adapter's lora_dropout, else 0.1)")
      .option('--lora-r <n>', 'rank of new adapters', '8')
      .option('--lora-alpha <n>', 'alpha of new adapters', '32')
      .option('--text-targets <list>', 'target modules of a new text adapter', 'c_attn')
      .option('--image-targets <list>', 'target modules of a new image adapter', 'query,value')
      .option('--no-train-heads', 'keep the projections and logit scale frozen')
      .option(
        '--val-fraction <x>',
        'patients (study_uids / patient_ids metadata) held out for validation loss and recall@1/5 (default 0)',
        '0',
      )
      .option('--split <name>', SPLIT_HELP)
      .option('--data-dir <dir>', 'library folder holding --split (default: $CLEFT_DATA_DIR or the app user-data folder)')
      .addOption(
        new Option('--weights <precision>', 'frozen encoders: float32 (exact) | int8 (weight-only int8, CPU; docs/engine.md#int8-weights)')
          .choices([...WEIGHT_PRECISIONS])
          .default('float32'),
      )
      .requiredOption('--output <dir>', 'output folder: text-adapter/, image-adapter/, heads.safetensors, metrics.json'),
  ).action(async (f: OptFlags & Record<string, string | boolean | undefined>) => {
    const weights = f.weights as WeightPrecision;
    const output = path.resolve(f.output as string);
    fs.mkdirSync(output, { recursive: true });
    const data = new DataFile(f.data as string);
    const px = data.pixels();
    const tok = data.tokens();
    if (tok.batch !== px.shape[0]) throw new Error(`${f.data}: ${px.shape[0]} images but ${tok.batch} texts`);
    const dropout = num(f.loraDropout as string | undefined, '--lora-dropout', { min: 0 });
    const lora = (adapter: unknown, targets: string): EncoderTraining => ({
      mode: 'lora',
      adapterDir: (adapter as string | undefined) ?? null,
      r: num(f.loraR as string, '--lora-r', { int: true, min: 1 })!,
      alpha: num(f.loraAlpha as string, '--lora-alpha', { min: 0 })!,
      targets: targets
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      ...(dropout !== undefined ? { dropout } : {}),
    });
    const imageBlocks = num(f.imageBlocks as string | undefined, '--image-blocks', { int: true, min: 1 });
    if (imageBlocks !== undefined && (f.freezeImage || f.imageAdapter))
      throw new Error('--image-blocks trains the last image blocks instead of LoRA: leave out --freeze-image and --image-adapter');
    const imageModel = loadHfFolder(f.imageModel as string);
    const sp = dataSplit(data, tok.batch, f as { split?: string; dataDir?: string });
    const { run, cleanup, device } = runOptions(f, output);
    const bar = progressPrinter(Boolean(f.json));
    const heads = readHeads(f.heads as string);
    const t0 = Date.now();
    try {
      const r = await trainContrastive({
        ...run,
        onProgress: bar.hook,
        text: { modelDir: f.textModel as string, training: lora(f.textAdapter, f.textTargets as string) },
        image: {
          modelDir: f.imageModel as string,
          pool: f.pool as ImagePooling,
          training:
            imageBlocks !== undefined
              ? lastBlocksTraining(imageModel, imageBlocks)
              : f.freezeImage
                ? { mode: 'frozen' }
                : lora(f.imageAdapter, f.imageTargets as string),
        },
        heads,
        trainHeads: f.trainHeads !== false,
        data: { pixelValues: px.data, pixelShape: px.shape, inputIds: tok.inputIds, lengths: tok.lengths },
        weights,
        ...(sp.named
          ? { split: sp.named }
          : { valFraction: num(f.valFraction as string, '--val-fraction', { min: 0 })!, ...(sp.groups ? { groups: sp.groups } : {}) }),
      });
      bar.done();
      const written = exportContrastive(output, r, {
        text: loadHfFolder(f.textModel as string),
        image: imageModel,
        fullImage: imageBlocks !== undefined,
      });
      const summary = {
        command: 'train-lora',
        output,
        written,
        steps: r.loop.steps,
        stopped: r.loop.stopped,
        losses: r.loop.losses,
        validation: r.validation,
        device: device(),
        weights,
        split: splitRecord(sp.record, data.rowStrings('study_uids', tok.batch), r.split),
        seconds: (Date.now() - t0) / 1000,
      };
      writeFileAtomic(path.join(output, 'metrics.json'), JSON.stringify(summary, null, 2) + '\n');
      if (f.json) console.log(JSON.stringify(summary, null, 2));
      else {
        console.log(
          `train-lora: ${r.loop.steps} updates (${r.loop.stopped}), loss ${r.loop.losses[0]?.toFixed(4) ?? '-'} -> ${r.loop.losses.at(-1)?.toFixed(4) ?? '-'}${weightsNote(weights)}`,
        );
        if (r.validation) console.log(`validation: ${fmt(r.validation)}`);
        console.log(`wrote ${written.join(', ')} to ${output}`);
      }
      if (r.loop.stopped === 'aborted') process.exitCode = 130;
    } finally {
      cleanup();
    }
  });

  optimizerFlags(
    program
      .command('prompt-learn')
      .description('CLEFT stage 2: learn n_ctx context vectors before the class names (encoders, heads and logit scale frozen)')
      .requiredOption('--text-model <dir>', 'GPT-2 family Hugging Face folder')
      .option('--text-adapter <dir>', 'PEFT adapter merged into the (frozen) text encoder')
      .requiredOption('--image-model <dir>', 'ViT / DINOv2 Hugging Face folder')
      .option('--image-adapter <dir>', 'PEFT adapter merged into the (frozen) image encoder')
      .addOption(new Option('--pool <pool>', 'image pooling').choices([...IMAGE_POOLINGS]).default('cls'))
      .requiredOption('--heads <file>', 'heads.safetensors')
      .requiredOption(
        '--data <file>',
        'safetensors with pixel_values, labels (B) int64 and class_ids.<c> int64 (or class names: metadata class_names / --classes)',
      )
      .option('--classes <names>', 'class names separated by "|" (tokenized, EOS appended)')
      .option('--tokenizer <dir>', 'tokenizer folder (default: the text model folder)')
      .option('--init-ctx <file>', 'safetensors with ctx (n_ctx, d) [or (classes, n_ctx, d)] to start from')
      .option(
        '--init-phrase <text>',
        `phrase whose token embeddings initialise ctx (default "${DEFAULT_INIT_PHRASE}" when a tokenizer is available, else N(0, 0.02))`,
      )
      .option('--n-ctx <n>', 'number of context vectors (default 16, or the --init-ctx rows)')
      .option('--class-specific', 'one context per class')
      .option(
        '--val-fraction <x>',
        "fraction of each class's patients (patient_ids / study_uids metadata) held out for early stopping (default 0)",
        '0',
      )
      .option('--split <name>', SPLIT_HELP)
      .option('--data-dir <dir>', 'library folder holding --split (default: $CLEFT_DATA_DIR or the app user-data folder)')
      .option('--patience <n>', 'validations without improvement before stopping')
      .option('--eval-every <n>', 'updates between validations (default steps/10)')
      .addOption(
        new Option('--weights <precision>', 'frozen encoders: float32 (exact) | int8 (weight-only int8, CPU; docs/engine.md#int8-weights)')
          .choices([...WEIGHT_PRECISIONS])
          .default('float32'),
      )
      .requiredOption('--output <dir>', 'output folder: prompt.safetensors (ctx), metrics.json'),
  ).action(async (f: OptFlags & Record<string, string | boolean | undefined>) => {
    const weights = f.weights as WeightPrecision;
    const output = path.resolve(f.output as string);
    fs.mkdirSync(output, { recursive: true });
    const data = new DataFile(f.data as string);
    const px = data.pixels();
    const labels = data.labels();
    if (labels.length !== px.shape[0]) throw new Error(`${f.data}: ${px.shape[0]} images but ${labels.length} labels`);
    let tokenizer: Gpt2Tokenizer | null = null;
    const tokDir = (f.tokenizer as string | undefined) ?? (f.textModel as string);
    const getTok = () => (tokenizer ??= Gpt2Tokenizer.fromFolder(tokDir));
    let classIds = data.classIds();
    let classNames = (f.classes as string | undefined)?.split('|').map((s) => s.trim()) ?? data.classNames();
    if (!classIds) {
      if (!classNames) throw new Error(`${f.data}: no class_ids.<c> tensors and no class names (metadata class_names or --classes)`);
      classIds = classNameIds(getTok(), classNames);
    }
    classNames ??= classIds.map((_, i) => `class ${i}`);
    const sp = dataSplit(data, labels.length, f as { split?: string; dataDir?: string });
    const nCtxFlag = num(f.nCtx as string | undefined, '--n-ctx', { int: true, min: 1 });
    let init: CtxInit;
    if (f.initCtx) {
      const h = readSafetensorsHeader(path.resolve(f.initCtx as string));
      const t = h.tensors.get('ctx');
      if (!t) throw new Error(`${f.initCtx}: no tensor "ctx"`);
      if (nCtxFlag !== undefined && t.shape.at(-2) !== nCtxFlag)
        throw new Error(`--n-ctx ${nCtxFlag} but ${f.initCtx} holds ${t.shape.at(-2)} context vectors`);
      init = { kind: 'values', ctx: readTensorF32(h, 'ctx'), shape: [...t.shape] };
    } else {
      let tok: Gpt2Tokenizer | null = null;
      try {
        tok = getTok();
      } catch {
        tok = null;
      }
      init = tok
        ? { kind: 'phrase', phrase: (f.initPhrase as string | undefined) ?? DEFAULT_INIT_PHRASE, tokenizer: tok }
        : { kind: 'random' };
    }
    const { run, cleanup, device } = runOptions(f, output);
    const bar = progressPrinter(Boolean(f.json));
    const t0 = Date.now();
    try {
      const cacheDir = path.join(run.workDir, 'cache');
      const feats = await imageFeatures(
        { modelDir: f.imageModel as string, adapterDir: (f.imageAdapter as string | undefined) ?? null, pool: f.pool as ImagePooling },
        px.data,
        px.shape,
        {
          cacheDir,
          device: run.device ?? 'auto',
          onWarning: (m) => console.error(`warning: ${m}`),
          ...(run.session?.intraOpNumThreads ? { threads: run.session.intraOpNumThreads } : {}),
          weights,
        },
      );
      const patience = num(f.patience as string | undefined, '--patience', { int: true, min: 1 });
      const evalEvery = num(f.evalEvery as string | undefined, '--eval-every', { int: true, min: 1 });
      const r = await learnPromptContext({
        ...run,
        onProgress: bar.hook,
        text: { modelDir: f.textModel as string, adapterDir: (f.textAdapter as string | undefined) ?? null },
        heads: readHeads(f.heads as string),
        imageFeatures: feats.features,
        labels,
        classIds,
        classNames,
        ...(nCtxFlag !== undefined ? { nCtx: nCtxFlag } : {}),
        classSpecific: Boolean(f.classSpecific),
        init,
        ...(sp.named
          ? { split: sp.named }
          : { valFraction: num(f.valFraction as string, '--val-fraction', { min: 0 })!, ...(sp.groups ? { groups: sp.groups } : {}) }),
        ...(patience !== undefined ? { patience } : {}),
        ...(evalEvery !== undefined ? { evalEvery } : {}),
        weights,
      });
      bar.done();
      writeSafetensors(
        path.join(output, 'prompt.safetensors'),
        { ctx: { dtype: 'F32', shape: r.shape, data: r.ctx } },
        { format: 'pt', class_names: JSON.stringify(classNames), init: init.kind === 'phrase' ? init.phrase : init.kind },
      );
      const summary = {
        command: 'prompt-learn',
        output,
        shape: r.shape,
        classNames,
        steps: r.loop.steps,
        stopped: r.loop.stopped,
        bestStep: r.loop.bestStep,
        losses: r.loop.losses,
        metrics: r.metrics,
        split: {
          train: r.split.train.length,
          val: r.split.val.length,
          ...splitRecord(sp.record, data.rowStrings('study_uids', labels.length), r.split),
        },
        device: withFeatures(device(), { image_features: feats.provider }),
        weights,
        seconds: (Date.now() - t0) / 1000,
      };
      writeFileAtomic(path.join(output, 'metrics.json'), JSON.stringify(summary, null, 2) + '\n');
      if (f.json) console.log(JSON.stringify(summary, null, 2));
      else {
        console.log(`prompt-learn: ${r.loop.steps} updates (${r.loop.stopped}), ctx [${r.shape.join(', ')}]${weightsNote(weights)}`);
        console.log(`${r.split.val.length ? 'validation' : 'training set'} before: ${fmt(r.metrics.before)}`);
        console.log(`${r.split.val.length ? 'validation' : 'training set'} after:  ${fmt(r.metrics.after)}`);
        console.log(`wrote prompt.safetensors to ${output}`);
      }
      if (r.loop.stopped === 'aborted') process.exitCode = 130;
    } finally {
      cleanup();
    }
  });

  optimizerFlags(
    program
      .command('train-adaptor')
      .description(
        'Frozen backbones (Qin et al., ICASSP 2024): an adaptor on cached features with the CLIP loss, then a linear probe on labels',
      )
      .requiredOption('--text-model <dir>', 'GPT-2 family Hugging Face folder')
      .option('--text-adapter <dir>', 'PEFT adapter merged into the text encoder')
      .requiredOption('--image-model <dir>', 'ViT / DINOv2 Hugging Face folder')
      .option('--image-adapter <dir>', 'PEFT adapter merged into the image encoder')
      .addOption(new Option('--pool <pool>', 'image pooling').choices([...IMAGE_POOLINGS]).default('cls'))
      .requiredOption('--data <file>', 'safetensors with pixel_values, input_ids, lengths (pairs), optional labels (B) int64 for the probe')
      .option('--dim <n>', 'adaptor width', '128')
      .option('--layers <n>', 'transformer layers per modality', '2')
      .option('--probe-steps <n>', 'linear-probe optimisation steps', '300')
      .option(
        '--split <name>',
        `${SPLIT_HELP}; only its train and val rows are read: the Adaptor module and the probe train on train (as the job), the probe is measured on val`,
      )
      .option('--data-dir <dir>', 'library folder holding --split (default: $CLEFT_DATA_DIR or the app user-data folder)')
      .requiredOption('--output <dir>', 'output folder: adaptor.safetensors, probe.safetensors, metrics.json'),
  ).action(async (f: OptFlags & Record<string, string | boolean | undefined>) => {
    const output = path.resolve(f.output as string);
    fs.mkdirSync(output, { recursive: true });
    const data = new DataFile(f.data as string);
    const px = data.pixels();
    const tok = data.tokens();
    const allLabels = data.has('labels') ? data.labels() : null;
    const sp = dataSplit(data, tok.batch, f as { split?: string; dataDir?: string });
    // with a named split only its train and val rows are read; the Adaptor module and the probe
    // train on train (adaptorFitRows, as the job), the probe is measured on val
    const rows = sp.named ? [...sp.named.train, ...sp.named.val].sort((a, b) => a - b) : null;
    const labels = allLabels && rows ? rows.map((i) => allLabels[i]!) : allLabels;
    const probeSplit =
      sp.named && rows ? { train: sp.named.train.map((i) => rows.indexOf(i)), val: sp.named.val.map((i) => rows.indexOf(i)) } : null;
    const { run, cleanup, device } = runOptions(f, output);
    const bar = progressPrinter(Boolean(f.json));
    const t0 = Date.now();
    try {
      const cacheDir = path.join(run.workDir, 'cache');
      const e = { cacheDir, device: run.device ?? 'auto', onWarning: (m: string) => console.error(`warning: ${m}`) };
      const img = await imageFeatures(
        { modelDir: f.imageModel as string, adapterDir: (f.imageAdapter as string | undefined) ?? null, pool: f.pool as ImagePooling },
        px.data,
        px.shape,
        e,
      );
      const txt = await textFeatures(
        { modelDir: f.textModel as string, adapterDir: (f.textAdapter as string | undefined) ?? null },
        tok.inputIds,
        tok.lengths,
        e,
      );
      const r = await trainAdaptor({
        ...run,
        onProgress: bar.hook,
        imageFeatures: rows ? takeRows(img.features, img.dim, rows) : img.features,
        textFeatures: rows ? takeRows(txt.features, txt.dim, rows) : txt.features,
        ...(probeSplit ? { probeSplit } : sp.groups ? { groups: sp.groups } : {}),
        imageDim: img.dim,
        textDim: txt.dim,
        dim: num(f.dim as string, '--dim', { int: true, min: 4 })!,
        layers: num(f.layers as string, '--layers', { int: true, min: 0 })!,
        ...(labels ? { labels, probeSteps: num(f.probeSteps as string, '--probe-steps', { int: true, min: 1 })! } : {}),
      });
      bar.done();
      exportAdaptor(output, r);
      const summary = {
        command: 'train-adaptor',
        output,
        steps: r.loop.steps,
        losses: r.loop.losses,
        retrieval: r.retrieval,
        /** Rows the Adaptor module was fitted on (the split's training rows). */
        adaptorRows: r.fitRows.length,
        probe: r.probe?.metrics ?? null,
        device: withFeatures(device(), { image_features: img.provider, text_features: txt.provider }),
        split: sp.record,
        seconds: (Date.now() - t0) / 1000,
      };
      writeFileAtomic(path.join(output, 'metrics.json'), JSON.stringify(summary, null, 2) + '\n');
      if (f.json) console.log(JSON.stringify(summary, null, 2));
      else {
        console.log(
          `train-adaptor: ${r.loop.steps} updates in ${summary.seconds.toFixed(1)} s, loss ${r.loop.losses[0]?.toFixed(4)} -> ${r.loop.losses.at(-1)?.toFixed(4)}`,
        );
        console.log(`retrieval (training pairs): ${fmt(r.retrieval)}`);
        if (r.probe) console.log(`linear probe (training labels): ${fmt(r.probe.metrics)}`);
        console.log(`wrote adaptor.safetensors${r.probe ? ', probe.safetensors' : ''} to ${output}`);
      }
    } finally {
      cleanup();
    }
  });
}
