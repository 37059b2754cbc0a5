// Contrastive LoRA (train.lora) on a named split, end to end on a tiny bundle: the split's test part
// is never read. Its studies' DICOM files are removed from disk after import (the library still
// lists them, with their reports), so a training that prepared any of their images would fail;
// it trains on the train part, validates on the val part, and records exactly those studies in
// the result, the run and the new bundle's manifest.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TrainLoraResult } from '../../../src/common/jobs';
import { generatePhantoms } from '../../../src/main/dicom/phantom';
import { openBundle } from '../../../src/native/bundle/index';
import { callApi } from '../../helpers/api';
import { addTinyBundle, importExams, testBackend } from '../../helpers/library';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

afterAll(removeTmpDirs);

describe('train-lora on a named split', () => {
  it('never reads a study of the test part: trains on train, validates on val, records them', { timeout: 600_000 }, async () => {
    const phantoms = tmpDir('cleft-lora-split-');
    const exams = await generatePhantoms({ outDir: phantoms, exams: 6, seed: 5, size: 'small', syntaxes: ['explicit-le'] });
    const b = testBackend();
    try {
      const { modelId } = await addTinyBundle(b, 6);
      await importExams(b, phantoms);
      expect(await callApi(b, 'reports.import', { path: phantoms })).toMatchObject({ matched: 6 });
      const uids = exams.map((e) => e.studyInstanceUID);
      const [train, val, test] = [uids.slice(0, 3), uids.slice(3, 4), uids.slice(4)];
      const csv = path.join(tmpDir(), 'split.csv');
      fs.writeFileSync(
        csv,
        ['StudyInstanceUID,split', ...train.map((u) => `${u},train`), ...val.map((u) => `${u},val`), ...test.map((u) => `${u},test`)].join(
          '\n',
        ) + '\n',
      );
      await callApi(b, 'splits.import', { path: csv, name: 'held' });
      // the test part's images are gone from disk: reading any of them would fail the job
      for (const e of exams.filter((x) => test.includes(x.studyInstanceUID))) for (const im of e.images) fs.rmSync(im.file);

      const job = await b.jobs.waitFor(
        (
          await callApi(b, 'train.lora', {
            modelId,
            name: 'lora on held',
            split: 'held',
            steps: 3,
            batchSize: 4,
            checkpointEvery: 3,
            seed: 1,
            lr: 1e-3,
            warmupSteps: 1,
          })
        ).id,
      );
      expect(job.error).toBeNull();
      const r = job.result as TrainLoraResult;
      // 4 views a study: train 3 studies, val 1; the test part's 2 studies not among the pairs
      expect(r).toMatchObject({ studies: 4, pairs: 16, train: 12, val: 4 });
      expect(r.split).toMatchObject({ name: 'held', by: 'named' });
      expect([...r.split!.trainStudies].sort()).toEqual([...train].sort());
      expect(r.split!.valStudies).toEqual(val);
      expect(r.split!.notes.join(' ')).toMatch(/2 test studies were never trained or validated on/);
      expect((await callApi(b, 'runs.get', { id: r.runId })).record.split).toEqual(r.split);
      // the new bundle carries the lineage: none of the test part
      const manifest = (await openBundle(r.bundleDir, { verify: 'full' })).manifest;
      const recorded = manifest.training!.split as { name: string; trainStudies: string[]; valStudies: string[] };
      expect(recorded.name).toBe('held');
      expect([...recorded.trainStudies, ...recorded.valStudies].filter((u) => test.includes(u))).toEqual([]);
      expect([...recorded.trainStudies, ...recorded.valStudies].sort()).toEqual([...train, ...val].sort());
    } finally {
      b.close();
    }
  });
});
