// Whether the file at shard K's results path is shard K of N's complete results: a results file
// `cleft runs merge` can read (runs/results-file.ts checks its format and metadata) that says it is
// shard K/N. The shard writes it whole at its end, so a file there that fails this was not written
// by this submission's shard K.
import { readResultsFile } from '../runs/results-file';
import type { ResultsCheck } from './status';

export const checkShardResults: ResultsCheck = (file, shard, total) => {
  try {
    const { identity } = readResultsFile(file);
    if (identity.shardIndex !== shard || identity.shardCount !== total)
      return { complete: false, problem: `${file} holds shard ${identity.shardIndex}/${identity.shardCount}, not ${shard}/${total}` };
    return { complete: true, problem: null };
  } catch (err) {
    return { complete: false, problem: (err as Error).message };
  }
};
