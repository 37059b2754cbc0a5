// Resident memory a train_step session adds when it loads (run in a fresh process by
// bench/transformer.ts): shows whether frozen weights stay memory-mapped or get copied (prepacking,
// or constant-folded transposes of weights by the generic MatMul gradient rule).
//
//   npx tsx bench/session-rss.ts <artifacts dir> shared|prepacked
import * as path from 'node:path';
import { ort } from '../src/native/runtime/ort';
import { toOrtSessionOptions } from '../src/native/runtime/session-options';

const [dir, mode] = process.argv.slice(2);
if (!dir || (mode !== 'shared' && mode !== 'prepacked')) throw new Error('usage: session-rss.ts <artifacts dir> shared|prepacked');
const before = process.memoryUsage().rss;
const s = await ort.InferenceSession.create(
  path.join(dir, 'train_step.onnx'),
  toOrtSessionOptions({ intraOpNumThreads: 1, graphOptimizationLevel: 'all', sharedWeights: mode === 'shared' }),
);
console.log(JSON.stringify({ rssAddedMB: (process.memoryUsage().rss - before) / 2 ** 20 }));
await s.release();
