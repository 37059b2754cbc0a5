// Class text embeddings of a prompt set for a library bundle, computed once: cached in the
// `class_embeddings` table per model and prompt source under classEmbeddingKey (text encoder,
// adapter, tokenizer, pooling, heads, exact prompts or learned context, formula version), so
// classification with unchanged model and prompts never runs the text encoder again. int8 weights
// have keys (and rows) of their own.
import type { Db } from '../db/database';
import { ClassEmbeddingsRepo } from '../db/class-embeddings-repo';
import type { CleftBundle } from '../../native/bundle/index';
import type { TaskSpec } from '../../native/cleft/tasks';
import { classEmbeddingKey, promptSetClassEmbeddings, taskClassEmbeddings } from '../../native/cleft/zero-shot';
import type { Engine } from './image-features';
import type { WeightPrecision } from '../../common/precision';

export type ClassEmbeddingsSource = 'cache' | 'computed';

export interface ClassEmbeddings {
  /** [classNames.length, projDim] */
  embeddings: Float32Array;
  /** The class order of the rows: the task's classes, or the learned prompt set's class names. */
  classNames: string[];
  source: ClassEmbeddingsSource;
  /** classEmbeddingKey of what they were computed from. */
  keySha256: string;
}

/** The prompt source a row stands for (one row per model and source; a changed prompt replaces it). */
export function promptsRef(task: TaskSpec, promptSet: string | null, weights?: WeightPrecision): string {
  const ref = promptSet ? `prompt-set:${promptSet}` : `templates:${task.name}`;
  // int8 results get rows of their own: alternating precisions do not evict each other
  return weights === 'int8' ? `${ref}@int8` : ref;
}

/** What a warning names: the bundle and the prompt set. */
function describe(bundle: CleftBundle, task: TaskSpec, promptSet: string | null): string {
  const prompts = promptSet ? `prompt set "${promptSet}"` : `the prompt templates of task "${task.name}"`;
  return `bundle "${bundle.manifest.name}" (${bundle.sha256.slice(0, 12)}), ${prompts}`;
}

/**
 * The class embeddings of `task`'s templates (or of the learned `promptSet`) for library model
 * `modelId` (the registered `bundle`): from the cache when its key matches, else computed by the text
 * encoder and stored. A stored row that does not fit (wrong byte length, class count) is ignored with
 * a warning and replaced, never fatal.
 */
export async function cachedClassEmbeddings(
  db: Db,
  modelId: number,
  bundle: CleftBundle,
  task: TaskSpec,
  promptSet: string | null,
  engine: Engine,
): Promise<ClassEmbeddings> {
  const key = classEmbeddingKey(bundle, task, promptSet, engine.weights);
  const ref = promptsRef(task, promptSet, engine.weights);
  const repo = new ClassEmbeddingsRepo(db);
  const dim = bundle.heads.heads.projDim;
  const row = repo.get(modelId, ref);
  if (row && row.keySha256 === key) {
    const want = row.classNames.length * dim * 4;
    if (row.dim === dim && row.classNames.length > 0 && row.matrix.byteLength === want) {
      // a copy: the Buffer may share a pool and need not be 4-byte aligned
      const embeddings = new Float32Array(row.matrix.buffer.slice(row.matrix.byteOffset, row.matrix.byteOffset + want));
      return { embeddings, classNames: row.classNames, source: 'cache', keySha256: key };
    }
    (engine.onWarning ?? console.warn)(
      `class embedding cache: the stored row for ${describe(bundle, task, promptSet)} has ${row.matrix.byteLength} bytes ` +
        `for ${row.classNames.length} classes × ${row.dim} (expected ${want} bytes of ${dim}-d rows): ignored, recomputing`,
    );
  }
  const computed = promptSet
    ? await promptSetClassEmbeddings(bundle, promptSet, engine)
    : { embeddings: await taskClassEmbeddings(bundle, task, engine), classNames: task.classes.map((c) => c.name) };
  repo.put(modelId, ref, { keySha256: key, classNames: computed.classNames, dim, matrix: computed.embeddings });
  return { embeddings: computed.embeddings, classNames: computed.classNames, source: 'computed', keySha256: key };
}
