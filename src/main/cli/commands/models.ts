// `cleft models import|list|inspect|delete` and `cleft bundle create|verify|export`: the model
// registry and CLEFT bundles from the command line, calling what the app calls.
import { type Command, Option } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { resolveDataDir } from '../../data-dir';
import { DB_FILE_NAME, openDatabase, type Db } from '../../db/database';
import { APP_VERSION } from '../../version';
import { importModel, listModels, inspectModel, deleteModel, createModelBundle, type ModelRecord } from '../../models/registry';
import { type HashProgress } from '../../../native/io/hash';
import { openBundle, exportBundle, BundleError } from '../../../native/bundle/index';
import {
  inspectModelFolder,
  describeBundle,
  type ModelInspection,
  type ArchitectureSummary,
  type AdapterSummary,
} from '../../../native/bundle/inspect';
import { ModelFormatError } from '../../../native/formats/hf-folder';
import { ProgressPrinter, renderBar } from '../progress-bar';

const DATA_DIR_HELP = 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)';

function withDb<T>(dataDirFlag: string | undefined, fn: (db: Db, dataDir: string) => Promise<T>): Promise<T> {
  const dataDir = resolveDataDir(dataDirFlag);
  const db = openDatabase(path.join(dataDir, DB_FILE_NAME));
  return fn(db, dataDir).finally(() => db.close());
}

export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

function fmtCount(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}

function hashProgress(label: string): { onProgress: (p: HashProgress & { phase?: string }) => void; done: () => void } {
  const printer = new ProgressPrinter();
  return {
    onProgress: (p) => {
      if (p.bytesTotal < 64 << 20) return; // small models: no progress noise
      const f = p.bytesTotal ? p.bytesDone / p.bytesTotal : 1;
      printer.update(`${renderBar(f)} ${(f * 100).toFixed(1).padStart(5)}%  ${p.phase ?? label} ${p.file}`);
    },
    done: () => printer.done(),
  };
}

function archLines(a: ArchitectureSummary, indent = '  '): string[] {
  const lines = [
    `${indent}family: ${a.family}${a.architectures.length ? ` (${a.architectures.join(', ')})` : ''}`,
    `${indent}layers: ${a.layers}, hidden size: ${a.hiddenSize}, attention heads: ${a.attentionHeads}, MLP: ${a.mlpSize} (${a.activation}), eps ${a.layerNormEps}`,
  ];
  if (a.modality === 'text') lines.push(`${indent}vocabulary: ${a.vocabSize}, positions: ${a.positions}, EOS id: ${a.eosTokenId}`);
  else
    lines.push(
      `${indent}image: ${a.imageSize!.join('x')}, patch: ${a.patchSize!.join('x')} (${a.numPatches} patches), registers: ${a.registerTokens}, channels: ${a.channels}`,
    );
  lines.push(
    `${indent}parameters: ${fmtCount(a.parameters)} (${a.parameters}), dtypes: ${a.dtypes.join(', ')}, weights: ${formatBytes(a.weightBytes)}${a.sharded ? ', sharded' : ''}`,
  );
  return lines;
}

function adapterLines(a: AdapterSummary, indent = '  '): string[] {
  const targets = typeof a.targetModules === 'string' ? a.targetModules : a.targetModules.join(', ');
  return [
    `${indent}LoRA r=${a.r}, alpha=${a.alpha} (scale ${a.scale}${a.useRslora ? ', rsLoRA' : ''}), dropout ${a.dropout}, targets: ${targets}`,
    `${indent}${a.modules} modules, ${fmtCount(a.parameters)} parameters, dtypes: ${a.dtypes.join(', ')}${a.modality ? `, ${a.modality} encoder` : ''}`,
    `${indent}base: ${a.baseModel ?? '(not named)'}${a.checkedAgainst ? `, checked against ${a.checkedAgainst}` : ''}`,
  ];
}

export function printInspection(i: ModelInspection, record?: ModelRecord): void {
  const out: string[] = [];
  if (record) out.push(`#${record.id} ${record.name} (${record.kind}${record.copied ? ', copy in the library' : ', registered in place'})`);
  out.push(`${i.path}`, `kind: ${i.kind ?? 'unknown'}`);
  if (i.architecture) out.push('architecture:', ...archLines(i.architecture));
  if (i.adapter) out.push('adapter:', ...adapterLines(i.adapter));
  if (i.bundle) {
    const b = i.bundle;
    out.push(`bundle: ${b.name}${b.description ? ` - ${b.description}` : ''} (created ${b.createdAt})`);
    out.push('  text encoder:', ...archLines(b.text, '    '));
    if (b.textAdapter) out.push('  text adapter:', ...adapterLines(b.textAdapter, '    '));
    out.push('  image encoder:', ...archLines(b.image, '    '));
    if (b.imageAdapter) out.push('  image adapter:', ...adapterLines(b.imageAdapter, '    '));
    out.push(
      `  heads: ${b.heads.textDim} -> ${b.heads.projDim} <- ${b.heads.imageDim}, logit_scale ${b.heads.logitScale.toFixed(4)} (x${Math.exp(b.heads.logitScale).toFixed(2)})`,
      `  pooling: image ${b.imagePooling}, text ${b.textPooling}; max text length ${b.maxTextLength}; tokenizer: ${b.tokenizer ?? 'none (token ids only)'}`,
      `  preprocessing: ${b.preprocessing ? `${b.preprocessing.sha256.slice(0, 12)} ${JSON.stringify(b.preprocessing.spec)}` : 'not recorded'}`,
    );
    for (const p of b.promptSets) {
      const m = (r: Record<string, number> | null) =>
        r
          ? Object.entries(r)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')
          : '-';
      out.push(
        `  prompt set "${p.name}": ${p.task}, ${p.classNames.length} classes, n_ctx ${p.nCtx}; before: ${m(p.metrics.before)}; after: ${m(p.metrics.after)}`,
      );
    }
    out.push(`  embedding identity: text ${b.embeddingIdentity.text.slice(0, 12)}, image ${b.embeddingIdentity.image.slice(0, 12)}`);
  }
  out.push(
    `parameters: ${fmtCount(i.parameters)} (${i.parameters}), dtypes: ${i.dtypes.join(', ') || '-'}, size: ${formatBytes(i.byteSize)}`,
  );
  out.push(`sha256: ${i.sha256 ?? '(not computed)'}`);
  if (i.files.length) {
    out.push('files:');
    for (const f of i.files)
      out.push(`  ${f.sha256 ? f.sha256.slice(0, 16) : '-'.repeat(16)}  ${formatBytes(f.size).padStart(10)}  ${f.path}`);
  }
  for (const w of i.warnings) out.push(`warning: ${w}`);
  for (const p of i.problems) out.push(`problem: ${p}`);
  if (i.problems.length === 0) out.push('ok');
  console.log(out.join('\n'));
}

function parsePositiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${v}"`);
    return n;
  };
}

interface CreateOpts {
  textModel: string;
  imageModel: string;
  textAdapter?: string;
  imageAdapter?: string;
  heads: string;
  pool: 'cls' | 'prenorm-mean';
  output: string;
  tokenizer?: string;
  maxLength?: number;
  preset: 'cleft' | 'voi' | 'none';
  preprocessSpec?: string;
  imageSize?: number;
  name?: string;
  description?: string;
  force?: boolean;
  hardlink?: boolean;
  json?: boolean;
}

async function bundleCreate(opts: CreateOpts): Promise<void> {
  const progress = hashProgress('hashing');
  let created: Awaited<ReturnType<typeof createModelBundle>>;
  try {
    created = await createModelBundle(null, '', {
      output: opts.output,
      ...(opts.name ? { name: opts.name } : {}),
      ...(opts.description ? { description: opts.description } : {}),
      textModel: opts.textModel,
      imageModel: opts.imageModel,
      ...(opts.textAdapter ? { textAdapter: opts.textAdapter } : {}),
      ...(opts.imageAdapter ? { imageAdapter: opts.imageAdapter } : {}),
      heads: opts.heads,
      ...(opts.tokenizer ? { tokenizer: opts.tokenizer } : {}),
      imagePooling: opts.pool,
      ...(opts.maxLength ? { maxTextLength: opts.maxLength } : {}),
      // a full PreprocessSpec (defaults filled), so the manifest's sha256 is the pipeline's specHash
      ...(opts.preprocessSpec
        ? { preprocessSpec: JSON.parse(fs.readFileSync(opts.preprocessSpec, 'utf8')) as unknown }
        : { preset: opts.preset }),
      ...(opts.imageSize ? { imageSize: opts.imageSize } : {}),
      overwrite: opts.force ?? false,
      link: opts.hardlink ? 'hardlink' : 'copy',
      register: false,
      createdBy: `CLEFT Studio ${APP_VERSION}`,
      onProgress: progress.onProgress,
    });
  } finally {
    progress.done();
  }
  const bundle = await openBundle(created.dir, { verify: 'sizes' });
  if (opts.json)
    console.log(
      JSON.stringify({ dir: bundle.dir, sha256: bundle.sha256, summary: describeBundle(bundle), warnings: bundle.warnings }, null, 2),
    );
  else {
    console.log(`${bundle.dir}: CLEFT bundle "${bundle.manifest.name}", ${bundle.files.length} files, ${formatBytes(bundle.byteSize)}`);
    console.log(`sha256: ${bundle.sha256}`);
    for (const w of bundle.warnings) console.log(`warning: ${w}`);
  }
}

async function bundleVerify(dir: string, opts: { sizes?: boolean; json?: boolean }): Promise<void> {
  const progress = hashProgress('verifying');
  try {
    const b = await openBundle(dir, { verify: opts.sizes ? 'sizes' : 'full', onProgress: progress.onProgress });
    progress.done();
    if (opts.json)
      console.log(
        JSON.stringify(
          { ok: true, dir: b.dir, sha256: b.sha256, verified: b.verified, files: b.files.length, problems: [], warnings: b.warnings },
          null,
          2,
        ),
      );
    else {
      console.log(
        `${b.dir}: ok (${b.files.length} files, ${formatBytes(b.byteSize)}, ${b.verified === 'full' ? 'sha256 checked' : 'sizes checked'})`,
      );
      console.log(`sha256: ${b.sha256}`);
      for (const w of b.warnings) console.log(`warning: ${w}`);
    }
  } catch (e) {
    progress.done();
    if (!(e instanceof ModelFormatError)) throw e;
    const problems =
      e instanceof BundleError
        ? e.problems.map((p) => `${p.file}${p.tensor !== undefined ? `: tensor "${p.tensor}"` : ''}: ${p.problem}`)
        : [e.message];
    if (opts.json) console.log(JSON.stringify({ ok: false, dir: path.resolve(dir), problems }, null, 2));
    else for (const p of problems) console.error(`problem: ${p}`);
    process.exitCode = 1;
  }
}

export function register(program: Command): void {
  const models = program.command('models').description('The model registry: import, list, inspect and delete models');

  models
    .command('import')
    .description('Validate a model folder (CLEFT bundle, Hugging Face GPT-2/ViT/DINOv2, PEFT adapter) and register it')
    .argument('<dir>')
    .option('--name <name>', 'name in the registry (default: the bundle name or the folder name)')
    .option('--no-copy', 'register the folder where it is instead of copying it into the library')
    .option('--adapter-base <dir>', 'PEFT adapters: the base model folder to check it against (default: its parent folder)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print the record as JSON')
    .action(async (dir: string, opts: { name?: string; copy: boolean; adapterBase?: string; dataDir?: string; json?: boolean }) => {
      await withDb(opts.dataDir, async (db, dataDir) => {
        const progress = hashProgress('hashing');
        let rec: ModelRecord;
        try {
          rec = await importModel(db, dataDir, dir, {
            copy: opts.copy,
            ...(opts.name ? { name: opts.name } : {}),
            ...(opts.adapterBase ? { adapterBase: opts.adapterBase } : {}),
            onProgress: progress.onProgress,
          });
        } finally {
          progress.done();
        }
        if (opts.json) console.log(JSON.stringify(rec, null, 2));
        else console.log(`#${rec.id} ${rec.name} (${rec.kind}): ${rec.summary.description}\n  ${rec.path}\n  sha256 ${rec.sha256}`);
      });
    });

  models
    .command('list')
    .description('List registered models')
    .addOption(new Option('--kind <kind>', 'only this kind').choices(['bundle', 'hf-text', 'hf-image', 'peft-adapter']))
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print JSON')
    .action(async (opts: { kind?: ModelRecord['kind']; dataDir?: string; json?: boolean }) => {
      await withDb(opts.dataDir, async (db) => {
        const rows = listModels(db, opts.kind ? { kind: opts.kind } : {});
        if (opts.json) console.log(JSON.stringify(rows, null, 2));
        else if (rows.length === 0) console.log('No models registered (cleft models import DIR).');
        else
          for (const r of rows)
            console.log(
              `#${String(r.id).padEnd(4)} ${r.name.padEnd(24)} ${r.kind.padEnd(12)} ${formatBytes(r.summary.byteSize).padStart(10)}  ${r.summary.description}\n      ${r.path}`,
            );
      });
    });

  models
    .command('inspect')
    .description(
      'Architecture, parameters, dtypes, files with hashes and problems of a registered model (ID) or any model folder (DIR, no library needed)',
    )
    .argument('<id-or-dir>')
    .option('--no-hash', 'skip hashing the files (sizes only)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print JSON')
    .action(async (target: string, opts: { hash: boolean; dataDir?: string; json?: boolean }) => {
      const isId = /^\d+$/.test(target) && !fs.existsSync(target);
      const progress = hashProgress('hashing');
      let inspection: ModelInspection;
      let record: ModelRecord | undefined;
      try {
        if (isId) {
          const details = await withDb(opts.dataDir, (db) => inspectModel(db, Number(target), { hash: opts.hash }));
          inspection = details.inspection;
          record = details.model;
        } else inspection = await inspectModelFolder(target, { hash: opts.hash, onProgress: progress.onProgress });
      } finally {
        progress.done();
      }
      if (opts.json) console.log(JSON.stringify(record ? { model: record, ...inspection } : inspection, null, 2));
      else printInspection(inspection, record);
      if (inspection.problems.length) process.exitCode = 1;
    });

  models
    .command('delete')
    .alias('remove')
    .description('Remove a model from the registry (its folder is deleted only if it is the library copy)')
    .argument('<id>')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (id: string, opts: { dataDir?: string }) => {
      if (!/^\d+$/.test(id)) throw new Error(`model id must be a number, got "${id}"`);
      await withDb(opts.dataDir, async (db, dataDir) => {
        const r = deleteModel(db, dataDir, Number(id));
        console.log(`deleted #${r.deleted}${r.removedFolder ? `, removed ${r.removedFolder}` : ' (its folder was left where it is)'}`);
      });
    });

  const bundle = program
    .command('bundle')
    .description('CLEFT model bundles: encoders, adapters, heads, pooling, preprocessing, prompt sets, hashes');

  bundle
    .command('create')
    .description('Assemble a bundle folder from its parts (validated first; written atomically)')
    .requiredOption('--text-model <dir>', 'Hugging Face GPT-2-family folder')
    .requiredOption('--image-model <dir>', 'Hugging Face ViT / DINOv2 / DINOv2-with-registers folder')
    .option('--text-adapter <dir>', 'PEFT LoRA adapter of the text encoder')
    .option('--image-adapter <dir>', 'PEFT LoRA adapter of the image encoder')
    .requiredOption('--heads <file>', 'heads .safetensors (text_projection.weight, visual_projection.weight, logit_scale)')
    .addOption(new Option('--pool <pooling>', 'image pooling').choices(['cls', 'prenorm-mean']).default('cls'))
    .requiredOption('-o, --output <dir>', 'the bundle folder to write')
    .option('--tokenizer <dir>', 'tokenizer folder (default: the text model folder when it has tokenizer files)')
    .option('--max-length <n>', 'max text length in tokens (default: the text model n_positions)', parsePositiveInt('--max-length'))
    .addOption(
      new Option('--preset <name>', 'image preprocessing recorded in the bundle').choices(['cleft', 'voi', 'none']).default('cleft'),
    )
    .option('--preprocess-spec <file>', 'preprocessing spec JSON (instead of --preset)')
    .option('--image-size <n>', 'preprocessing output size (default: the image model image_size)', parsePositiveInt('--image-size'))
    .option('--name <name>', 'bundle name (default: the output folder name)')
    .option('--description <text>', 'free text')
    .option('--force', 'replace an existing bundle at --output')
    .option('--hardlink', 'hard-link the parts instead of copying (same file system)')
    .option('--json', 'print JSON')
    .action(bundleCreate);

  bundle
    .command('verify')
    .description('Check a bundle: manifest, every file and its sha256, encoders, adapters, heads, tokenizer, prompt sets')
    .argument('<dir>')
    .option('--sizes', 'check sizes only, not sha256 (fast)')
    .option('--json', 'print JSON')
    .action(bundleVerify);

  bundle
    .command('export')
    .description('Copy a bundle whole to another folder and verify the copy')
    .argument('<dir>')
    .requiredOption('-o, --output <dir>', 'destination folder')
    .option('--force', 'replace an existing bundle at --output')
    .action(async (dir: string, opts: { output: string; force?: boolean }) => {
      const progress = hashProgress('verifying');
      try {
        const b = await exportBundle(dir, opts.output, { overwrite: opts.force ?? false, onProgress: progress.onProgress });
        progress.done();
        console.log(`${b.dir}: ok, sha256 ${b.sha256}`);
      } finally {
        progress.done();
      }
    });
}
