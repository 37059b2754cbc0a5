// Lineage that travels with a model (issue #12): a bundle, prompt set or adaptor imported from
// another library has no training run here, but its manifest entry says how it was trained
// (`training.split`, written by bundleSplitProvenance: the StudyInstanceUIDs trained and validated
// on, or a named split's name and content hash). This reads that as a run's split record so the
// evaluation can leave those studies out; null when it names no studies this library can find.
import { z } from 'zod';
import { CleftError } from '../../common/errors';
import type { TrainingSplitRecord } from '../../common/splits';
import type { Db } from '../db/database';
import type { SplitsRepo } from '../db/splits-repo';
import { getModelManifest } from '../models/registry';
import type { BundleManifest } from '../../native/bundle/index';

const Provenance = z.object({
  name: z.string().nullable().optional(),
  sha256: z.string().optional(),
  by: z.string().optional(),
  seed: z.number().int().nullable().optional(),
  trainStudies: z.array(z.string()).optional(),
  valStudies: z.array(z.string()).optional(),
});

/**
 * The split record a manifest entry's `training` gives, matched to this library: StudyInstanceUID
 * lists are taken as they are; a split name is kept only where this library has a split of that
 * name with the same content hash (else the split with that hash, else none: the lists alone
 * count); a named split without lists needs a split of the same hash here.
 */
export function manifestSplit(training: Record<string, unknown> | null | undefined, splits: SplitsRepo): TrainingSplitRecord | null {
  const parsed = Provenance.safeParse(training?.split);
  if (!parsed.success) return null;
  const p = parsed.data;
  const local = p.sha256 ? splits.list().find((s) => s.sha256 === p.sha256) : undefined;
  const name = local?.name ?? null;
  if (p.trainStudies) {
    return {
      name,
      sha256: p.sha256 ?? '',
      by: name !== null ? 'named' : p.by === 'study' ? 'study' : 'patient',
      seed: p.seed ?? null,
      trainStudies: p.trainStudies,
      valStudies: p.valStudies ?? [],
      // a split of the library it was trained in, not this one's
      notes: p.name && name === null ? [`split "${p.name}" of the library it was trained in`] : [],
    };
  }
  if (!local) return null;
  const parts = splits.show(local.name);
  return { name: local.name, sha256: local.sha256, by: 'named', seed: null, trainStudies: parts.train, valStudies: parts.val, notes: [] };
}

/** The bundle manifest the library keeps for a model (null: not a bundle, or no longer registered). */
export function bundleManifestOf(db: Db): (modelId: number) => BundleManifest | null {
  return (modelId) => {
    try {
      return getModelManifest(db, modelId).bundleManifest;
    } catch (e) {
      if (e instanceof CleftError && e.code === 'not_found') return null;
      throw e;
    }
  };
}

/** A bundle made by a CLEFT Studio training (LoRA job, demo) that does not list its studies (older versions). */
export function trainedByCleftStudio(m: BundleManifest): boolean {
  return /\(train-lora job \d+\)/.test(m.createdBy) || m.createdBy === 'cleft demo';
}
