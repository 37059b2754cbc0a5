// `cleft dicom info|pixels|prepare` and `cleft phantom`: the DICOM library from the command line,
// calling exactly what the app and the engine call.
import { type Command, Option } from 'commander';
import path from 'node:path';
import { openDicomFile, decodeFrame } from '../../dicom/decode';
import { asDicomError } from '../../dicom/errors';
import { readDicomHeader } from '../../dicom/header';
import { checkDecodedTotal } from '../../dicom/limits';
import { toStage, prepareFiles, type Stage } from '../../dicom/pipeline/prepare';
import { PreprocessSpec, canonicalSpecJson, presetSpec } from '../../dicom/pipeline/spec';
import { PHANTOM_SIZES, PHANTOM_SYNTAXES, type PhantomSize, type PhantomSyntax, generatePhantoms } from '../../dicom/phantom/index';
import { writeSafetensors } from '../../../native/formats/safetensors';

function parseIntOpt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${v}"`);
    return n;
  };
}

export interface PixelsOptions {
  frame?: number;
  stage: Stage;
  level?: number;
}

/** What `cleft dicom pixels` decodes: every frame (or one) at a stage, in one array. Throws DicomError. */
export async function decodePixels(file: string, opts: PixelsOptions) {
  const img = await openDicomFile(file);
  const { rows, columns, samplesPerPixel } = img.layout;
  // Every frame goes into one array: bound it before decoding anything.
  try {
    checkDecodedTotal(opts.frame !== undefined ? 1 : img.header.numberOfFrames, rows, columns, samplesPerPixel);
  } catch (err) {
    throw asDicomError(file, err);
  }
  const frames = opts.frame !== undefined ? [opts.frame] : [...Array(img.header.numberOfFrames).keys()];
  const decoded = [];
  for (const f of frames) decoded.push(await decodeFrame(img, f, { level: opts.level ?? 0 }));
  const first = decoded[0]!;
  const perFrame = first.rows * first.columns * first.samples;
  const values = decoded.map((d) => toStage(img, d, opts.stage));
  const isU32 = values.every((v) => v instanceof Uint32Array);
  const isInt = isU32 || values.every((v) => v instanceof Int32Array);
  const dtype = isU32 ? ('U32' as const) : isInt ? ('I32' as const) : ('F32' as const);
  const size = perFrame * decoded.length;
  const data = isU32 ? new Uint32Array(size) : isInt ? new Int32Array(size) : new Float32Array(size);
  values.forEach((v, i) => data.set(v, i * perFrame));
  const shape =
    first.samples === 1 ? [decoded.length, first.rows, first.columns] : [decoded.length, first.rows, first.columns, first.samples];
  return { img, frames, first, isU32, isInt, dtype, data, shape };
}

async function pixelsCommand(file: string, opts: PixelsOptions & { output: string }): Promise<void> {
  const { img, frames, first, isU32, isInt, dtype, data, shape } = await decodePixels(file, opts);
  writeSafetensors(
    opts.output,
    { pixels: { dtype, shape, data } },
    {
      file: path.resolve(file),
      stage: opts.stage,
      frames: frames.join(','),
      photometric: first.photometric,
      transferSyntaxUID: img.header.transferSyntaxUID,
      reduction: String(first.reduction),
    },
  );
  for (const w of first.warnings ?? []) console.error(`${file}: warning: ${w}`);
  console.log(
    `${opts.output}: pixels ${isU32 ? 'uint32' : isInt ? 'int32' : 'float32'} [${shape.join(', ')}] (${opts.stage}, ${first.photometric})`,
  );
}

export function register(program: Command): void {
  const dicom = program.command('dicom').description('Read, decode and prepare DICOM images');

  dicom
    .command('info')
    .description('Print the header attributes (read up to the pixel data only)')
    .argument('<file>')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const h = await readDicomHeader(file);
      if (opts.json) console.log(JSON.stringify(h, null, 2));
      else for (const [k, v] of Object.entries(h)) console.log(`${k}: ${Array.isArray(v) ? v.join('\\') : String(v)}`);
    });

  dicom
    .command('pixels')
    .description('Decode pixel data to a safetensors file (tensor "pixels", frames x rows x columns [x samples])')
    .argument('<file>')
    .requiredOption('-o, --output <file>', 'output .safetensors')
    .option('--frame <n>', 'only this frame (0-based)', parseIntOpt('--frame'))
    .addOption(
      new Option('--stage <stage>', 'stored values (int32), modality LUT or VOI LUT output (float32)')
        .choices(['stored', 'modality', 'voi'])
        .default('stored'),
    )
    .option('--level <n>', 'JPEG 2000 only: decode at 1/2^n resolution', parseIntOpt('--level'))
    .action(pixelsCommand);

  dicom
    .command('prepare')
    .description('Prepare model inputs: tensor "pixel_values" (B, 3, H, W) float32')
    .argument('<files...>')
    .requiredOption('-o, --output <file>', 'output .safetensors')
    .addOption(new Option('--preset <name>', 'preprocessing preset').choices(['cleft', 'voi']).default('cleft'))
    .addOption(new Option('--flip <side>', 'mirror so the chest wall is on this side').choices(['none', 'left', 'right']).default('none'))
    .option('--size <n>', 'output side in pixels', parseIntOpt('--size'))
    .option('--full-decode', 'never decode JPEG 2000 at reduced resolution')
    .option('--allow-for-processing', 'accept FOR PROCESSING images')
    .action(
      async (
        files: string[],
        opts: { output: string; preset: string; flip: string; size?: number; fullDecode?: boolean; allowForProcessing?: boolean },
      ) => {
        const spec = PreprocessSpec.parse({
          ...presetSpec(opts.preset),
          flip: opts.flip === 'none' ? 'none' : `chest-wall-${opts.flip}`,
          ...(opts.size ? { size: opts.size } : {}),
          ...(opts.fullDecode ? { decodeReduction: 'none' } : {}),
          ...(opts.allowForProcessing ? { allowForProcessing: true } : {}),
        });
        const batch = await prepareFiles(files, spec);
        writeSafetensors(
          opts.output,
          { pixel_values: { dtype: 'F32', shape: batch.shape, data: batch.pixelValues } },
          {
            preset: opts.preset,
            spec: canonicalSpecJson(spec),
            specHash: batch.specHash,
            files: JSON.stringify(batch.images.map((i) => path.resolve(i.file))),
            images: JSON.stringify(batch.images.map(({ pixelValues: _p, ...rest }) => rest)),
          },
        );
        console.log(
          `${opts.output}: pixel_values float32 [${batch.shape.join(', ')}] preset ${opts.preset} spec ${batch.specHash.slice(0, 12)}`,
        );
      },
    );

  program
    .command('phantom')
    .alias('phantoms')
    .description('Write synthetic 4-view mammography exams (DICOM + report.txt + labels.json)')
    .option('-o, --output <dir>', 'output folder')
    .option('--out <dir>', 'same as --output')
    .option('--exams <n>', 'number of exams', parseIntOpt('--exams'), 4)
    .option('--seed <s>', 'random seed', parseIntOpt('--seed'), 1)
    .addOption(new Option('--size <size>', 'image size').choices(Object.keys(PHANTOM_SIZES)).default('small'))
    .option('--syntaxes <list>', `comma-separated, cycled per exam: ${Object.keys(PHANTOM_SYNTAXES).join(', ')}`)
    .option('--monochrome1', 'write MONOCHROME1 (inverted) images')
    .action(
      async (opts: {
        output?: string;
        out?: string;
        exams: number;
        seed: number;
        size: PhantomSize;
        syntaxes?: string;
        monochrome1?: boolean;
      }) => {
        const outDir = opts.output ?? opts.out;
        if (!outDir) throw new Error('phantom: --output DIR is required');
        const syntaxes = opts.syntaxes?.split(',').map((s) => s.trim()) ?? [];
        for (const s of syntaxes)
          if (!(s in PHANTOM_SYNTAXES)) throw new Error(`unknown syntax "${s}" (known: ${Object.keys(PHANTOM_SYNTAXES).join(', ')})`);
        const exams = await generatePhantoms({
          outDir,
          exams: opts.exams,
          seed: opts.seed,
          size: opts.size,
          syntaxes: syntaxes as PhantomSyntax[],
          monochrome1: opts.monochrome1,
        });
        for (const e of exams) console.log(`${e.dir}: density ${e.density}, ${e.findings.length} finding(s), ${e.images.length} images`);
      },
    );
}
