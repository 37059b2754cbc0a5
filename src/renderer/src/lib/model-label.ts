// How a CLEFT bundle is named in selectors: its full name after what it is, base or LoRA-tuned, so
// two bundles whose names share a long start (a base and the LoRA model made from it) differ in
// the part a narrow selector still shows; the selector's title carries the same full text.
import type { ModelRecord } from '../../../common/models';

/** "LoRA" for a bundle whose encoders carry adapters, else "Base". */
export function modelKindTag(m: Pick<ModelRecord, 'summary'>): 'LoRA' | 'Base' {
  return m.summary.adapters?.length ? 'LoRA' : 'Base';
}

/** "Base · CLEFT demo (phantoms, job 3)", "LoRA · site A (text LoRA)". */
export function modelLabel(m: Pick<ModelRecord, 'name' | 'summary'>): string {
  return `${modelKindTag(m)} · ${m.name}`;
}
