/**
 * Training artifacts for one setup, written into one folder with a manifest:
 *
 *   forward.onnx     inference outputs; inputs: batch + trainable tensors
 *   train_step.onnx  loss + `grad.<name>` per trainable; inputs: batch + trainable tensors (+ dropout_seed)
 *   optimizer.onnx   AdamW or SGD(momentum) over the flat trainable vector, with global-norm clipping
 *   manifest.json    names, shapes, dtypes, the flat layout, sha256 of every file
 * and for WebGPU, where the trainer keeps its state on the device between runs:
 *   optimizer.device.onnx  the same update over per-tensor params/grads (optimizer.ts)
 *   readback.onnx          Identity of every trainable tensor and state vector, outputs on the host:
 *                          how device-resident state is read for a checkpoint or the parameters
 *
 * Frozen weights stay initializers (inline, or external data whose `location` must resolve inside this
 * folder: bind them with `bindWeights(refs, { cacheDir: dir })` of models/weights.ts). Sessions must be created
 * from the file paths (ORT cannot resolve external data of a model given as bytes).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dimsFromShapes, emitOnnx, grad, Graph, type Tensor } from '../graph/index';
import type { EmitTarget } from '../graph/op';
import { writeFileAtomic } from '../formats/safetensors';
import { buildDeviceOptimizerGraph, buildOptimizerGraph, resolveOptimizer, stateNames, type OptimizerConfig } from './optimizer';
import { DROPOUT_SEED, layoutOf, makeBuildContext, type DecayExclusion, type ParamLayout, type TrainingSetup } from './setup';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'cleft-training-artifacts';

export interface IoInfo {
  name: string;
  dtype: string;
  /** Numbers and symbolic dims ('batch', 'seq'). */
  shape: (number | string)[];
}

export interface ArtifactFile {
  file: string;
  sha256: string;
  bytes: number;
  nodes: number;
  inputs: IoInfo[];
  outputs: IoInfo[];
}

export interface TrainingManifest {
  format: typeof MANIFEST_FORMAT;
  version: 1;
  name: string;
  optimizer: ReturnType<typeof resolveOptimizer>;
  layout: ParamLayout;
  /** Inputs of train_step.onnx that are neither trainable tensors nor the dropout seed. */
  batchInputs: IoInfo[];
  /** Inputs of forward.onnx that are not trainable tensors. */
  forwardInputs: IoInfo[];
  dropoutSeed: boolean;
  files: {
    forward: ArtifactFile;
    train_step: ArtifactFile;
    optimizer: ArtifactFile;
    /** WebGPU artifacts only: the per-tensor optimizer and the read-back graph of device-resident state. */
    optimizer_device?: ArtifactFile;
    readback?: ArtifactFile;
  };
  /** External data files the graphs reference (relative to the folder). */
  externalData: string[];
}

export interface ArtifactOptions {
  /** Output folder (created). Frozen external weights must live inside it. */
  dir: string;
  optimizer: OptimizerConfig;
  /** Trainable tensors excluded from weight decay (e.g. NO_DECAY_BIAS_AND_NORM). */
  noDecay?: DecayExclusion;
  /** Provider the graphs are emitted for (default 'cpu'; see EmitTarget). */
  target?: EmitTarget;
  /**
   * Shapes of one micro-batch's inputs (name -> dims): the graphs are emitted with the symbolic dims
   * these give ('batch', 'seq') as static sizes. WebGPU needs it: it has no kernels for run-time shape
   * arithmetic (docs/engine.md#webgpu-coverage). Default: symbolic dims.
   */
  batchShapes?: Readonly<Record<string, readonly number[]>>;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const io = (v: { name: string; dataType: number; shape?: readonly (number | string)[] }): IoInfo => ({
  name: v.name,
  dtype: ONNX_NAMES[v.dataType] ?? String(v.dataType),
  shape: (v.shape ?? []).map((d) => (typeof d === 'number' ? d : String(d))),
});
const ONNX_NAMES: Record<number, string> = { 1: 'float32', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64' };

function externalLocations(g: Graph): string[] {
  const out = new Set<string>();
  for (const n of g.nodes) if (n.leaf?.value?.kind === 'external') out.add(n.leaf.value.location);
  return [...out];
}

/** Builds and writes the three graphs and the manifest; returns the manifest. */
export function emitTrainingArtifacts(setup: TrainingSetup, opts: ArtifactOptions): TrainingManifest {
  fs.mkdirSync(opts.dir, { recursive: true });
  const write = (file: string, bytes: Uint8Array) => writeFileAtomic(path.join(opts.dir, file), [bytes], false);

  // forward.onnx
  const fg = new Graph();
  const target = opts.target ?? 'cpu';
  const fctx = makeBuildContext(fg, false, target);
  const fm = setup.build(fctx);
  const dimsOf = (g: Graph) => (opts.batchShapes ? { dims: dimsFromShapes(g, opts.batchShapes) } : {});
  const fwd = emitOnnx(fg, { outputs: fm.outputs ?? { loss: fm.loss }, name: `${setup.name}.forward`, target, ...dimsOf(fg) });
  const fTrainables = new Set(fg.params({ trainable: true }).map((t) => t.node.leaf!.name!));

  // train_step.onnx
  const tg = new Graph();
  const tctx = makeBuildContext(tg, true, target);
  const tm = setup.build(tctx);
  const trainables = tg.params({ trainable: true });
  if (trainables.length === 0) throw new Error(`${setup.name}: no trainable parameters`);
  const layout = layoutOf(trainables, opts.noDecay);
  const grads = grad(tm.loss, trainables);
  const outs: Record<string, Tensor> = { loss: tm.loss };
  layout.entries.forEach((e, i) => (outs[`grad.${e.name}`] = grads[i]!));
  const step = emitOnnx(tg, { outputs: outs, name: `${setup.name}.train_step`, target, ...dimsOf(tg) });
  for (const n of fTrainables)
    if (!layout.entries.some((e) => e.name === n)) throw new Error(`${setup.name}: forward has trainable '${n}' the train step lacks`);

  // optimizer.onnx
  const og = buildOptimizerGraph(layout, opts.optimizer, target === 'webgpu' ? 'float32' : 'int64');
  const opt = emitOnnx(og.graph, { outputs: og.outputs, name: `${setup.name}.optimizer`, target });
  const models: [keyof TrainingManifest['files'], string, ReturnType<typeof emitOnnx>][] = [
    ['forward', 'forward.onnx', fwd],
    ['train_step', 'train_step.onnx', step],
    ['optimizer', 'optimizer.onnx', opt],
  ];
  if (target === 'webgpu') {
    const dg = buildDeviceOptimizerGraph(layout, opts.optimizer, 'float32');
    models.push([
      'optimizer_device',
      'optimizer.device.onnx',
      emitOnnx(dg.graph, { outputs: dg.outputs, name: `${setup.name}.optimizer.device`, target }),
    ]);
    const rg = readbackGraph(layout, stateNames(opts.optimizer));
    models.push(['readback', 'readback.onnx', emitOnnx(rg.graph, { outputs: rg.outputs, name: `${setup.name}.readback`, target })]);
  }

  const files = {} as TrainingManifest['files'];
  for (const [key, file, model] of models) {
    write(file, model.bytes);
    files[key] = {
      file,
      sha256: sha256Hex(model.bytes),
      bytes: model.bytes.length,
      nodes: model.nodeCount,
      inputs: model.inputs.map(io),
      outputs: model.outputs.map(io),
    };
  }
  const trainableNames = new Set(layout.entries.map((e) => e.name));
  const manifest: TrainingManifest = {
    format: MANIFEST_FORMAT,
    version: 1,
    name: setup.name,
    optimizer: resolveOptimizer(opts.optimizer),
    layout,
    batchInputs: files.train_step.inputs.filter((i) => !trainableNames.has(i.name) && i.name !== DROPOUT_SEED),
    forwardInputs: files.forward.inputs.filter((i) => !trainableNames.has(i.name)),
    dropoutSeed: tctx.usesSeed(),
    files,
    externalData: [...new Set([...externalLocations(fg), ...externalLocations(tg)])],
  };
  write(MANIFEST_FILE, new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
  return manifest;
}

/** Output name of a tensor in readback.onnx. */
export const hostOut = (name: string) => `host.${name}`;

/** Identity of every trainable tensor (train_step's input names) and optimizer state vector. */
function readbackGraph(layout: ParamLayout, state: string[]): { graph: Graph; outputs: Record<string, Tensor> } {
  const g = new Graph();
  const outputs: Record<string, Tensor> = {};
  for (const e of layout.entries) outputs[hostOut(e.name)] = g.input(e.name, 'float32', e.shape);
  for (const n of state) outputs[hostOut(n)] = g.input(n, 'float32', [layout.total]);
  return { graph: g, outputs };
}

/**
 * forward.onnx of a setup emitted for inputs of other shapes than the manifest's (static-shape
 * targets: WebGPU evaluating chunks of another size), written as `forward.<dims>.onnx` beside it.
 * Returns the file name.
 */
export function emitForwardFor(
  setup: TrainingSetup,
  opts: { dir: string; target?: EmitTarget; batchShapes: Readonly<Record<string, readonly number[]>> },
): string {
  const g = new Graph();
  const m = setup.build(makeBuildContext(g, false, opts.target ?? 'cpu'));
  const dims = dimsFromShapes(g, opts.batchShapes);
  const tag = Object.entries(dims)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}${v}`)
    .join('-');
  const file = `forward.${tag || 'static'}.onnx`;
  const model = emitOnnx(g, { outputs: m.outputs ?? { loss: m.loss }, name: `${setup.name}.forward`, target: opts.target ?? 'cpu', dims });
  writeFileAtomic(path.join(opts.dir, file), [model.bytes], false);
  return file;
}

/** Reads a manifest and checks that the .onnx files are the ones it describes. */
export function loadManifest(dir: string, { verify = true }: { verify?: boolean } = {}): TrainingManifest {
  const file = path.join(dir, MANIFEST_FILE);
  let m: TrainingManifest;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as TrainingManifest;
  } catch (e) {
    throw new Error(`${file}: cannot read the training manifest: ${(e as Error).message}`);
  }
  if (m.format !== MANIFEST_FORMAT || m.version !== 1) throw new Error(`${file}: not a version-1 ${MANIFEST_FORMAT} manifest`);
  if (verify) {
    for (const f of Object.values(m.files)) {
      const bytes = fs.readFileSync(path.join(dir, f.file));
      const h = sha256Hex(bytes);
      if (h !== f.sha256)
        throw new Error(`${path.join(dir, f.file)}: sha256 ${h.slice(0, 12)}… differs from the manifest (${f.sha256.slice(0, 12)}…)`);
    }
  }
  return m;
}
