import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend } from '../../../src/main/api/backend';
import { callApi } from '../../helpers/api';
import type { ImportResult } from '../../../src/common/jobs';
import { requireDump2dcm, writeFourViewExam, writeMgInstance } from '../../helpers/dcmtk';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { testBackend } from '../../helpers/library';

const open: Backend[] = [];
function backend(dataDir = tmpDir()): Backend {
  const b = testBackend(dataDir);
  open.push(b);
  return b;
}
afterEach(() => {
  for (const b of open.splice(0)) b.close();
});
afterAll(removeTmpDirs);

async function importPaths(b: Backend, paths: string[]): Promise<ImportResult> {
  const job = b.jobs.enqueue({ kind: 'import', params: { paths } });
  const final = await b.jobs.waitFor(job.id);
  expect(final.error).toBeNull();
  expect(final.status).toBe('done');
  return final.result as ImportResult;
}

describe('DICOM import into the library', () => {
  let source: string;
  beforeAll(() => {
    requireDump2dcm();
    source = tmpDir('cleft-dicom-');
    for (let n = 1; n <= 3; n++) writeFourViewExam(source, n);
    fs.writeFileSync(path.join(source, 'notes.txt'), 'not an image');
    // A truncated copy of a real instance with a different UID.
    writeMgInstance(path.join(source, 'broken', 'cut.dcm'), {
      sopInstanceUid: '1.2.3.999',
      studyUid: '1.2.3.998',
      seriesUid: '1.2.3.997',
      patientId: 'PX',
      rows: 64,
      columns: 64,
    });
    const cut = path.join(source, 'broken', 'cut.dcm');
    fs.truncateSync(cut, fs.statSync(cut).size - 3000);
    // The same SOP instance twice, under another name.
    fs.mkdirSync(path.join(source, 'copy'));
    fs.copyFileSync(path.join(source, 'exam1', 'IM1'), path.join(source, 'copy', 'IM1-again'));
  });

  it('indexes patients, studies, series and instances and lists what it left out', async () => {
    const b = backend();
    const result = await importPaths(b, [source]);
    expect(result).toMatchObject({
      scanned: 15,
      imported: 12,
      updated: 0,
      unchanged: 0,
      duplicates: 1,
      refused: 1,
      skipped: 2,
      studies: 3,
    });
    expect(await callApi(b, 'library.stats', {})).toMatchObject({ patients: 3, studies: 3, series: 3, instances: 12 });

    const problems = await callApi(b, 'library.problems', {});
    const byFile = Object.fromEntries(problems.rows.map((p) => [path.relative(source, p.filePath), `${p.kind}: ${p.reason}`]));
    expect(problems.counts).toEqual({ skipped: 2, refused: 1 });
    // Files are indexed in path order, so the copy (copy/ < exam1/) is the one kept.
    expect(Object.keys(byFile).sort()).toEqual(['broken/cut.dcm', 'exam1/IM1', 'notes.txt']);
    expect(byFile['notes.txt']).toMatch(/^skipped: not a DICOM file/);
    expect(byFile['broken/cut.dcm']).toMatch(/^refused: truncated/);
    expect(byFile['exam1/IM1']).toBe(
      `skipped: duplicate of ${path.join(source, 'copy', 'IM1-again')} (same SOPInstanceUID; that file was kept)`,
    );
  });

  it('lists studies with their views in reading order, filters and pages', async () => {
    const b = backend();
    await importPaths(b, [source]);
    const all = await callApi(b, 'library.studies', {});
    expect(all.total).toBe(3);
    expect(all.rows.map((r) => r.accession)).toEqual(['A3', 'A2', 'A1']); // newest first
    expect(all.rows[0]).toMatchObject({
      patientId: 'P3',
      views: ['RCC', 'LCC', 'RMLO', 'LMLO'],
      images: 4,
      modalities: ['MG'],
      labels: 0,
    });
    const text = await callApi(b, 'library.studies', { filter: { text: 'a2' } });
    expect(text.rows.map((r) => r.accession)).toEqual(['A2']);
    const byPatient = await callApi(b, 'library.studies', { sort: { key: 'patientId', dir: 'asc' } });
    expect(byPatient.rows.map((r) => r.patientId)).toEqual(['P1', 'P2', 'P3']);
    const page = await callApi(b, 'library.studies', { limit: 2, offset: 2 });
    expect(page).toMatchObject({ total: 3, rows: [{ accession: 'A1' }] });
    const none = await callApi(b, 'library.studies', { filter: { presentationIntent: 'FOR PROCESSING' } });
    expect(none.total).toBe(0);

    const study = await callApi(b, 'library.study', { id: all.rows[0]!.id });
    expect(study.instances.map((i) => `${i.laterality}${i.viewPosition}`)).toEqual(['RCC', 'LCC', 'RMLO', 'LMLO']);
    expect(study.instances[0]).toMatchObject({
      rows: 8,
      columns: 8,
      bitsStored: 12,
      photometric: 'MONOCHROME2',
      transferSyntaxUid: '1.2.840.10008.1.2.1',
    });
  });

  it('re-import touches only changed files and never modifies the sources', async () => {
    const b = backend();
    await importPaths(b, [source]);
    const before = fs.readFileSync(path.join(source, 'exam2', 'IM3'));
    const again = await importPaths(b, [source]);
    expect(again).toMatchObject({ imported: 0, updated: 0, unchanged: 12 });
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(source, 'exam2', 'IM3'), later, later);
    const third = await importPaths(b, [source]);
    expect(third).toMatchObject({ imported: 0, updated: 1, unchanged: 11 });
    expect(fs.readFileSync(path.join(source, 'exam2', 'IM3'))).toEqual(before);
  });

  it('takes the library.import call over the contract and rejects an empty path list', async () => {
    const b = backend();
    await expect(callApi(b, 'library.import', { paths: [] })).rejects.toMatchObject({ code: 'invalid_input' });
    const started = await callApi(b, 'library.import', { paths: [path.join(source, 'exam1')] });
    const final = await b.jobs.waitFor(started.id);
    expect(final.result).toMatchObject({ imported: 4, studies: 1 });
  });

  it('a copy whose geometry disagrees with its data is refused, so the good copy is kept even when met later', async () => {
    const dir = tmpDir('cleft-dup-');
    const good = path.join(dir, 'b-good.dcm');
    writeMgInstance(good, { sopInstanceUid: '1.2.3.4242', studyUid: '1.2.3.4241', seriesUid: '1.2.3.4240', patientId: 'PD' });
    const bytes = fs.readFileSync(good);
    const rows = bytes.indexOf(Buffer.from([0x28, 0x00, 0x10, 0x00, 0x55, 0x53, 0x02, 0x00])); // (0028,0010) US
    const bad = Buffer.from(bytes);
    bad.writeUInt16LE(65535, rows + 8);
    fs.writeFileSync(path.join(dir, 'a-rows.dcm'), bad); // sorts first: met first
    const b = backend();
    const first = await importPaths(b, [dir]);
    expect(first).toMatchObject({ imported: 1, duplicates: 0, refused: 1 });
    expect(b.db.prepare('SELECT file_path FROM instances').all()).toEqual([{ file_path: good }]);
    const problems = await callApi(b, 'library.problems', {});
    expect(problems.rows.map((p) => [path.basename(p.filePath), `${p.kind}: ${p.reason}`])).toEqual([
      ['a-rows.dcm', 'refused: corrupt: pixel data is 128 bytes, 1 frame of 8x65535 at 16 bits need 1048560'],
    ]);
    const second = await importPaths(b, [dir]);
    expect(second).toMatchObject({ imported: 0, unchanged: 1, refused: 1 });
  });

  it('fails naming a path that does not exist, before indexing anything else', async () => {
    const b = backend();
    const job = b.jobs.enqueue({ kind: 'import', params: { paths: ['/no/such/folder', path.join(source, 'exam3')] } });
    const final = await b.jobs.waitFor(job.id);
    expect(final.status).toBe('failed');
    expect(final.error).toBe('/no/such/folder: does not exist (no such file or folder)');
    expect(await callApi(b, 'library.stats', {})).toMatchObject({ instances: 0 });
  });

  it('says which files are not DICOM apart from refused DICOM and duplicates, per import, and names the kept duplicate', async () => {
    const b = backend();
    const first = await importPaths(b, [source]);
    // The report names the file kept and the file skipped for the SOP instance met twice.
    expect(first.duplicateFiles).toEqual([{ kept: path.join(source, 'copy', 'IM1-again'), skipped: [path.join(source, 'exam1', 'IM1')] }]);
    const p1 = await callApi(b, 'library.problems', {});
    expect(p1.groups).toEqual({ notDicom: 1, duplicate: 1, skipped: 0, refused: 1 });
    expect(p1.total).toBe(3);

    // A second import of another folder: its own counts, not the first import's added to them.
    const other = tmpDir('cleft-other-');
    fs.writeFileSync(path.join(other, 'report.txt'), 'BI-RADS 2');
    fs.writeFileSync(path.join(other, 'labels.json'), '{"density":"B"}');
    writeMgInstance(path.join(other, 'IM1'), {
      sopInstanceUid: '1.2.3.5551',
      studyUid: '1.2.3.5552',
      seriesUid: '1.2.3.5553',
      patientId: 'PO',
    });
    await importPaths(b, [other]);
    const p2 = await callApi(b, 'library.problems', {});
    expect(p2.groups).toEqual({ notDicom: 2, duplicate: 0, skipped: 0, refused: 0 });
    expect(p2.rows.map((r) => path.basename(r.filePath)).sort()).toEqual(['labels.json', 'report.txt']);
    expect(p2.jobId).not.toBe(p1.jobId);
    // The first import's list is still there when asked for by its job.
    expect((await callApi(b, 'library.problems', { jobId: p1.jobId! })).total).toBe(3);
  });
});
