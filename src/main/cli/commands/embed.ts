// `cleft embed text|image`: text and image embeddings from Hugging Face folders (+ PEFT adapters),
// computed in an engine worker. Inputs and outputs are safetensors files (prepared tensors), so
// results can be checked exactly against other tools.
//
//   cleft embed text  --model DIR [--adapter DIR] (--input FILE | --text "..." ...) --output FILE [--weights float32|int8]
//   cleft embed image --model DIR [--adapter DIR] [--pool cls|prenorm-mean] (--input FILE | --dicom FILE...) --output FILE
import { type Command, Option } from 'commander';
import * as path from 'node:path';
import { resolveDataDir } from '../../data-dir';
import { prepareFiles } from '../../dicom/pipeline/prepare';
import { presetSpec } from '../../dicom/pipeline/spec';
import { embedImages, embedText, inProcessEngine, type EmbedCommonOptions, type EmbedResult } from '../../../native/models/embed';
import { loadHfFolder } from '../../../native/models/hf-model';
import { ModelFormatError } from '../../../native/formats/hf-folder';
import { Gpt2Tokenizer } from '../../../native/formats/tokenizer';
import { readSafetensorsHeader, readTensor, toFloat32, writeSafetensors, SafetensorsError } from '../../../native/formats/safetensors';
import { IMAGE_POOLINGS, type ImagePooling } from '../../../native/models/vit';
import { parseProviderChoice, providerLabel } from '../../../native/runtime/providers';
import { EngineWorker } from '../../../native/runtime/engine-worker';
import { DeviceRecorder } from '../../../native/runtime/device-recorder';
import type { DeviceRecord } from '../../../native/runtime/device-record';
import { WEIGHT_PRECISIONS, weightsNote, type WeightPrecision } from '../../../common/precision';

interface CommonFlags {
  model: string;
  adapter?: string;
  output: string;
  threads?: string;
  device: string;
  batchSize: string;
  cacheDir?: string;
  dataDir?: string;
  inProcess?: boolean;
  weights: WeightPrecision;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function positiveInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got "${v}"`);
  return n;
}

function common(cmd: Command): Command {
  return cmd
    .requiredOption('-m, --model <dir>', 'Hugging Face model folder (config.json + model.safetensors)')
    .option('-a, --adapter <dir>', 'PEFT LoRA adapter folder (merged into the weights)')
    .requiredOption('-o, --output <file>', 'output .safetensors')
    .option('--threads <n>', 'intra-op threads (default: physical cores)')
    .option('--device <device>', 'auto | cpu | webgpu | cuda:N', 'auto')
    .option('--batch-size <n>', 'rows per run', '8')
    .addOption(
      new Option('--weights <precision>', 'float32 (exact) | int8 (weight-only int8 matmuls, CPU; docs/engine.md#int8-weights)')
        .choices([...WEIGHT_PRECISIONS])
        .default('float32'),
    )
    .option('--cache-dir <dir>', 'ONNX cache (default: <data dir>/cache/onnx)')
    .option('--data-dir <dir>', 'library folder (default: $CLEFT_DATA_DIR or the app user-data folder)')
    .addOption(new Option('--in-process', 'run ORT in this thread instead of an engine worker').hideHelp());
}

/** Runs `fn` on the engine the flags ask for; the device record names `graph` (text_encoder, image_encoder). */
async function withEngine<T>(
  flags: CommonFlags,
  graph: string,
  fn: (o: EmbedCommonOptions) => Promise<T>,
): Promise<{ result: T; device: DeviceRecord | null }> {
  const device = parseProviderChoice(flags.device);
  const threads = positiveInt(flags.threads, '--threads');
  const batchSize = positiveInt(flags.batchSize, '--batch-size');
  const cacheDir = path.resolve(flags.cacheDir ?? path.join(resolveDataDir(flags.dataDir), 'cache', 'onnx'));
  const engine = flags.inProcess ? undefined : EngineWorker.start();
  const recorder = new DeviceRecorder(async () => engine ?? (await inProcessEngine()));
  try {
    const o: EmbedCommonOptions = {
      modelDir: flags.model,
      cacheDir,
      device,
      onWarning: (m) => console.error(`warning: ${m}`),
      ...(flags.adapter ? { adapterDir: flags.adapter } : {}),
      ...(threads !== undefined ? { threads } : {}),
      ...(batchSize !== undefined ? { batchSize } : {}),
      weights: flags.weights,
      engine: recorder.engine(graph),
    };
    const result = await fn(o);
    return { result, device: recorder.record() };
  } finally {
    await engine?.close();
  }
}

/** A tensor of a prepared input file, with the file and tensor named in every error. */
function inputTensor(file: string, name: string) {
  let header;
  try {
    header = readSafetensorsHeader(path.resolve(file));
  } catch (e) {
    if (e instanceof SafetensorsError) throw new ModelFormatError(e.file, e.problem, e.tensor);
    throw e;
  }
  if (!header.tensors.has(name)) {
    const names = [...header.tensors.keys()];
    const have = names.length ? names.slice(0, 8).join(', ') + (names.length > 8 ? `, ... (${names.length} tensors)` : '') : 'none';
    throw new ModelFormatError(header.path, `missing tensor (the file has: ${have})`, name);
  }
  return readTensor(header, name);
}

function int64Of(file: string, name: string, rank: number): { data: BigInt64Array; shape: number[] } {
  const t = inputTensor(file, name);
  if (t.shape.length !== rank) throw new ModelFormatError(file, `expected rank ${rank}, got shape [${t.shape.join(', ')}]`, name);
  if (t.dtype === 'I64') return { data: t.data as BigInt64Array, shape: t.shape };
  if (t.dtype === 'I32') return { data: BigInt64Array.from(t.data as Int32Array, (v) => BigInt(v)), shape: t.shape };
  throw new ModelFormatError(file, `expected int64 (I64), got ${t.dtype}`, name);
}

function writeOutput(file: string, tensors: Record<string, { shape: number[]; data: Float32Array }>, meta: Record<string, string>): void {
  const out: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const [k, v] of Object.entries(tensors)) out[k] = { dtype: 'F32', ...v };
  writeSafetensors(path.resolve(file), out, { format: 'pt', ...meta });
}

function summary(kind: string, r: EmbedResult, batch: number, file: string, weights: WeightPrecision): string {
  const p =
    providerLabel(r.provider) +
    (r.provider.name !== 'cuda' && r.provider.fallbackReason ? `; ${r.provider.fallbackReason}` : '') +
    weightsNote(weights);
  return `${kind}: ${batch} x ${r.dim} -> ${file} (${p}, onnx ${r.artifact.sha256.slice(0, 12)}${r.artifact.cacheHit ? ' cached' : ''})`;
}

export function register(program: Command): void {
  const embed = program.command('embed').description('Text and image embeddings from Hugging Face models (+ LoRA adapters)');

  common(embed.command('text').description('GPT-2 family text embeddings: the final state at the last real token (and last_hidden)'))
    .option('-i, --input <file>', 'safetensors with input_ids (B,T) int64 and lengths (B) int64, right padded')
    .option('-t, --text <text>', 'a text to embed (repeatable); tokenized with the model folder tokenizer, EOS appended', collect)
    .option('--no-last-hidden', 'do not write last_hidden')
    .action(async (flags: CommonFlags & { input?: string; text?: string[]; lastHidden: boolean }) => {
      if (!!flags.input === !!flags.text?.length) throw new Error('give either --input FILE or one or more --text "..."');
      let inputIds: BigInt64Array;
      let lengths: BigInt64Array;
      let meta: Record<string, string> = {};
      if (flags.input) {
        const ids = int64Of(flags.input, 'input_ids', 2);
        const len = int64Of(flags.input, 'lengths', 1);
        if (len.shape[0] !== ids.shape[0])
          throw new ModelFormatError(flags.input, `has ${len.shape[0]} rows, input_ids has ${ids.shape[0]}`, 'lengths');
        inputIds = ids.data;
        lengths = len.data;
      } else {
        const model = loadHfFolder(flags.model);
        if (model.config.family !== 'gpt2')
          throw new ModelFormatError(model.configFile, `not a GPT-2 family model (${model.config.family})`);
        const tok = Gpt2Tokenizer.fromFolder(flags.model);
        const enc = tok.encodeBatch(flags.text!, { maxLength: model.config.nPositions, onWarning: (m) => console.error(`warning: ${m}`) });
        inputIds = enc.inputIds;
        lengths = enc.lengths;
        meta = { texts: JSON.stringify(flags.text) };
      }
      const batch = lengths.length;
      const seq = inputIds.length / batch;
      const { result: r, device } = await withEngine(flags, 'text_encoder', (o) =>
        embedText({ ...o, inputIds, lengths, lastHidden: flags.lastHidden }),
      );
      const tensors: Record<string, { shape: number[]; data: Float32Array }> = { embedding: { shape: [batch, r.dim], data: r.embedding } };
      if (r.lastHidden) tensors.last_hidden = { shape: [batch, seq, r.dim], data: r.lastHidden };
      writeOutput(flags.output, tensors, {
        model: path.resolve(flags.model),
        adapter: flags.adapter ? path.resolve(flags.adapter) : '',
        ...meta,
        device: JSON.stringify(device),
        weights: flags.weights,
      });
      console.log(summary('text', r, batch, flags.output, flags.weights));
    });

  common(embed.command('image').description('ViT / DINOv2 image embeddings (CLS or mean of all tokens before the final norm)'))
    .addOption(new Option('--pool <pool>', 'cls | prenorm-mean').choices([...IMAGE_POOLINGS]).default('cls'))
    .option('-i, --input <file>', 'safetensors with pixel_values (B,3,H,W) float32, already normalised')
    .option('--dicom <file...>', 'DICOM files, prepared with the DICOM pipeline')
    .option('--preset <name>', 'DICOM preprocessing preset (cleft | voi)', 'cleft')
    .action(async (flags: CommonFlags & { pool: ImagePooling; input?: string; dicom?: string[]; preset: string }) => {
      if (!!flags.input === !!flags.dicom?.length) throw new Error('give either --input FILE or --dicom FILE...');
      let pixelValues: Float32Array;
      let shape: [number, number, number, number];
      let meta: Record<string, string> = {};
      if (flags.input) {
        const t = inputTensor(flags.input, 'pixel_values');
        if (t.shape.length !== 4)
          throw new ModelFormatError(flags.input, `expected (B,C,H,W), got [${t.shape.join(', ')}]`, 'pixel_values');
        if (!['F32', 'F16', 'BF16', 'F64'].includes(t.dtype))
          throw new ModelFormatError(flags.input, `expected float32, got ${t.dtype}`, 'pixel_values');
        pixelValues = toFloat32(t);
        shape = t.shape as [number, number, number, number];
      } else {
        const model = loadHfFolder(flags.model);
        if (model.config.family === 'gpt2') throw new ModelFormatError(model.configFile, 'not an image model (gpt2)');
        const size = model.config.imageSize[0];
        const base = presetSpec(flags.preset);
        const padLongSide = base.padLongSide === null ? null : Math.max(base.padLongSide, Math.round((size * 256) / 224));
        const prepared = await prepareFiles(flags.dicom!, { ...base, size, padLongSide });
        pixelValues = prepared.pixelValues;
        shape = prepared.shape;
        meta = {
          preprocessing: JSON.stringify(prepared.spec),
          preprocessing_sha256: prepared.specHash,
          files: JSON.stringify(flags.dicom),
        };
      }
      const { result: r, device } = await withEngine(flags, 'image_encoder', (o) =>
        embedImages({ ...o, pixelValues, shape, pool: flags.pool }),
      );
      writeOutput(
        flags.output,
        { embedding: { shape: [shape[0], r.dim], data: r.embedding } },
        {
          model: path.resolve(flags.model),
          adapter: flags.adapter ? path.resolve(flags.adapter) : '',
          pool: flags.pool,
          ...meta,
          device: JSON.stringify(device),
          weights: flags.weights,
        },
      );
      console.log(summary('image', r, shape[0], flags.output, flags.weights));
    });
}
