// Study reports: RFC 4180 CSV reading (quotes, doubled quotes, line breaks inside fields) and the
// import from CSV and .txt files into a real SQLite library, with every unmatched row explained.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../src/main/db/database';
import { LibraryRepo } from '../../../src/main/db/library-repo';
import { ReportsRepo } from '../../../src/main/db/reports-repo';
import { parseCsvRecords } from '../../../src/main/library/csv';
import { importReports } from '../../../src/main/library/report-import';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';
import { ROOT } from '../../helpers/cli';

afterAll(removeTmpDirs);

describe('parseCsvRecords', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks, and names the line each record starts on', () => {
    const text =
      '\uFEFFaccession,report\r\n' +
      'A1,"Findings: mass, 12 mm.\r\nImpression: BI-RADS 4 ""suspicious""."\r\n' +
      '\r\n' +
      '  A2 ,  plain text  \n' +
      'A3,"two\n\nblank lines"\n' +
      'A4,';
    expect(parseCsvRecords(text)).toEqual([
      { line: 1, cells: ['accession', 'report'] },
      { line: 2, cells: ['A1', 'Findings: mass, 12 mm.\r\nImpression: BI-RADS 4 "suspicious".'] },
      { line: 5, cells: ['A2', 'plain text'] },
      { line: 6, cells: ['A3', 'two\n\nblank lines'] },
      { line: 9, cells: ['A4', ''] },
    ]);
  });

  it('keeps a quote inside an unquoted field as text and refuses a quoted field that never closes', () => {
    expect(parseCsvRecords('a,b"c\n')).toEqual([{ line: 1, cells: ['a', 'b"c'] }]);
    expect(() => parseCsvRecords('k,report\nA1,"open\nstill open\n', 'r.csv')).toThrow('r.csv: line 2: a quoted field is never closed');
  });

  it('refuses ragged rows and NUL characters with the file and line', () => {
    expect(() => parseCsvRecords('k,report\nA1,"two\nlines"\nA2\n', 'r.csv')).toThrow(
      'r.csv: line 4: expected 2 columns (as in the header) but found 1',
    );
    expect(() => parseCsvRecords('k,report\nA1,x,y\n', 'r.csv')).toThrow(
      'r.csv: line 2: expected 2 columns (as in the header) but found 3',
    );
    expect(() => parseCsvRecords('k,report\nA1,"x\ny"\nA2,a\0b\n', 'r.csv')).toThrow('r.csv: line 4: contains a NUL byte');
  });

  it('parses a 30 MB quoted cell in linear memory (a 512 MB heap is enough)', () => {
    // Before: one string concatenation per character; a 60 MB cell took 2.1 GB and 17 s.
    const code = `
      const { parseCsvRecords } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'src/main/library/csv.ts')).href)});
      const body = 'Mass, 12 mm ""spiculated"".\\n'.repeat(1_000_000);
      const r = parseCsvRecords('accession,report\\nA1,"' + body + '"\\nA2,next\\n');
      console.log(JSON.stringify([r.length, r[1].cells[1].length, r[2].line]));`;
    const r = spawnSync(process.execPath, ['--max-old-space-size=512', '--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([3, 26_000_000, 1_000_003]);
  });
});

function library(): { db: Db; dir: string } {
  const dir = tmpDir();
  const db = openDatabase(path.join(dir, 'library.sqlite'));
  db.prepare(`INSERT INTO patients (patient_id) VALUES ('P1'), ('P2')`).run();
  db.prepare(
    `INSERT INTO studies (patient_ref, study_uid, accession) VALUES (1, '1.2.1', 'ACC1'), (1, '1.2.2', 'ACC2'), (2, '1.2.3', 'DUP'), (2, '1.2.4', 'DUP')`,
  ).run();
  db.prepare(`INSERT INTO series (study_ref, series_uid) VALUES (1, 's1'), (2, 's2'), (3, 's3')`).run();
  const inst = db.prepare(
    `INSERT INTO instances (series_ref, sop_instance_uid, file_path, file_size, file_mtime_ms) VALUES (?, ?, ?, 1, 1)`,
  );
  // study 1's files in exam1/, study 2's in exam2/, and exam3/ mixing studies 2 and 3
  for (const [series, sop, file] of [
    [1, 'i1', 'exam1/RCC.dcm'],
    [1, 'i2', 'exam1/LCC.dcm'],
    [2, 'i3', 'exam2/RCC.dcm'],
    [2, 'i4', 'exam3/a.dcm'],
    [3, 'i5', 'exam3/b.dcm'],
    [1, 'i6', 'exam1/sub/RMLO.dcm'],
  ] as const)
    inst.run(series, sop, path.join(dir, file));
  return { db, dir };
}

describe('importReports', () => {
  it('imports a CSV by accession or StudyInstanceUID and lists every row it left out with its line and reason', () => {
    const { db, dir } = library();
    const csv = path.join(dir, 'reports.csv');
    fs.writeFileSync(
      csv,
      [
        'StudyInstanceUID,Accession,Report',
        '1.2.1,,"Findings: none.\nImpression: BI-RADS 1."',
        ',ACC2,Dense breasts.',
        ',NOPE,text',
        '9.9.9,,text',
        ',DUP,text',
        ',ACC1,empty next',
        ',,no key',
        '1.2.3,,',
        '1.2.1,,"again, same study"',
      ].join('\r\n'),
    );
    const r = importReports(db, csv);
    expect(r.file).toBe(csv);
    expect(r.matched).toBe(2);
    expect(r.unmatched).toEqual([
      { file: csv, row: 5, key: 'NOPE', reason: 'no study with accession NOPE in the library' },
      { file: csv, row: 6, key: '9.9.9', reason: 'no study with StudyInstanceUID 9.9.9 in the library' },
      { file: csv, row: 7, key: 'DUP', reason: 'accession DUP belongs to several studies; use a StudyInstanceUID column' },
      { file: csv, row: 8, key: 'ACC1', reason: 'the same study as line 2, whose report was kept' },
      { file: csv, row: 9, key: '', reason: 'no study key (the accession / StudyInstanceUID cell is empty)' },
      { file: csv, row: 10, key: '1.2.3', reason: 'the report is empty' },
      { file: csv, row: 11, key: '1.2.1', reason: 'the same study as line 2, whose report was kept' },
    ]);
    const repo = new ReportsRepo(db);
    expect(repo.forStudy(1)).toMatchObject({ studyId: 1, text: 'Findings: none.\nImpression: BI-RADS 1.', source: csv });
    expect(repo.forStudy(2)?.text).toBe('Dense breasts.');
    expect(repo.forStudy(3)).toBeNull();
    expect(new LibraryRepo(db).stats().reports).toBe(2);

    // importing again replaces a study's report (one current report per study)
    const again = path.join(dir, 'update.csv');
    fs.writeFileSync(again, 'study_uid,text\n1.2.2,Updated.\n');
    expect(importReports(db, again)).toEqual({ file: again, matched: 1, unmatched: [] });
    expect(repo.forStudy(2)).toMatchObject({ text: 'Updated.', source: again });
    expect(repo.count()).toBe(2);
    db.close();
  });

  it('refuses a CSV without a key or a report column, naming the file and the header it has', () => {
    const { db, dir } = library();
    const noKey = path.join(dir, 'a.csv');
    fs.writeFileSync(noKey, 'patient,report\nP1,x\n');
    expect(() => importReports(db, noKey)).toThrow(
      `${noKey}: no study key column (accession, study_uid or StudyInstanceUID); the header has "patient", "report"`,
    );
    const noText = path.join(dir, 'b.csv');
    fs.writeFileSync(noText, 'accession,notes\nACC1,x\n');
    expect(() => importReports(db, noText)).toThrow(`${noText}: no report column (report or text)`);
    expect(() => importReports(db, path.join(dir, 'missing.csv'))).toThrow(/missing\.csv: no such file or folder/);
    const other = path.join(dir, 'r.json');
    fs.writeFileSync(other, '{}');
    expect(() => importReports(db, other)).toThrow(/not a \.csv or \.txt report file/);
    db.close();
  });

  it('refuses a CSV that is not UTF-8, holds NUL bytes or has ragged rows, naming the file and line; nothing is stored', () => {
    const { db, dir } = library();
    const latin1 = path.join(dir, 'latin1.csv');
    fs.writeFileSync(latin1, Buffer.from('accession,report\nACC1,ok\nACC2,"Sein droit: l\u00e9sion"\n', 'latin1'));
    expect(() => importReports(db, latin1)).toThrow(
      `${latin1}: line 3: not UTF-8 text (byte 0xE9 at offset 44); re-save the file as UTF-8 (e.g. "CSV UTF-8" in a spreadsheet)`,
    );
    const nul = path.join(dir, 'nul.csv');
    fs.writeFileSync(nul, 'accession,report\nACC1,ok\nACC2,bad\0text\n');
    expect(() => importReports(db, nul)).toThrow(`${nul}: line 3: contains a NUL byte`);
    const ragged = path.join(dir, 'ragged.csv');
    fs.writeFileSync(ragged, 'accession,report\nACC1,ok\nACC2,mass, 12 mm\n');
    expect(() => importReports(db, ragged)).toThrow(`${ragged}: line 3: expected 2 columns (as in the header) but found 3`);
    // UTF-8 with a BOM and accents is fine
    const utf8 = path.join(dir, 'utf8.csv');
    fs.writeFileSync(utf8, '\uFEFFaccession,report\nACC1,"Sein droit: l\u00e9sion"\n');
    expect(importReports(db, utf8)).toMatchObject({ matched: 1, unmatched: [] });
    expect(new ReportsRepo(db).forStudy(1)?.text).toBe('Sein droit: l\u00e9sion');
    expect(new ReportsRepo(db).count()).toBe(1);
    db.close();
  });

  it('lists a .txt report that is not UTF-8 or holds NUL bytes, and imports the others', () => {
    const { db, dir } = library();
    fs.mkdirSync(path.join(dir, 'exam1'));
    fs.mkdirSync(path.join(dir, 'exam2'));
    fs.writeFileSync(path.join(dir, 'exam1/report.txt'), Buffer.from('Opacit\u00e9.\n', 'latin1'));
    fs.writeFileSync(path.join(dir, 'exam2/report.txt'), 'R\0E\0P\0');
    fs.writeFileSync(path.join(dir, 'ACC2.txt'), 'Named.');
    fs.mkdirSync(path.join(dir, 'named'));
    fs.writeFileSync(path.join(dir, 'named/1.2.3.txt'), 'Fine.');
    const r = importReports(db, path.join(dir, 'exam1'));
    expect(r.matched).toBe(0);
    expect(r.unmatched[0]!.reason).toMatch(/^line 1: not UTF-8 text \(byte 0xE9 at offset 6\); re-save the file as UTF-8/);
    const all = importReports(db, dir);
    expect(all.matched).toBe(2);
    expect(all.unmatched.map((u) => [path.relative(dir, u.file), u.reason.slice(0, 24)])).toEqual([
      ['exam1/report.txt', 'line 1: not UTF-8 text ('],
      ['exam2/report.txt', 'contains a NUL byte; thi'],
    ]);
    db.close();
  });

  it('matches .txt reports to the study whose DICOM files are beside them, else by file name', () => {
    const { db, dir } = library();
    const write = (rel: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    };
    write('exam1/report.txt', 'Report of exam 1.\n');
    write('exam1/notes.txt', 'Second text file in exam 1.');
    write('exam2/report.txt', '   ');
    write('exam3/report.txt', 'Mixed folder.');
    write('named/ACC2.txt', 'Named after the accession.');
    write('named/1.2.3.txt', 'Named after the StudyInstanceUID.');
    write('named/unknown.txt', 'Nobody.');
    const r = importReports(db, dir);
    const rel = (f: string) => path.relative(dir, f);
    expect(r.file).toBe(dir);
    expect(r.matched).toBe(3);
    expect(r.unmatched.map((u) => [rel(u.file), u.row, u.key, u.reason])).toEqual([
      ['exam1/report.txt', 0, 'report.txt', `the same study as ${path.join(dir, 'exam1/notes.txt')}, whose report was kept`],
      ['exam2/report.txt', 0, 'report.txt', 'the report is empty'],
      [
        'exam3/report.txt',
        0,
        'report.txt',
        "the folder holds DICOM files of 2 studies; name the file after the study's accession or StudyInstanceUID",
      ],
      [
        'named/unknown.txt',
        0,
        'unknown.txt',
        "no imported DICOM files beside it, and its name is not a study's accession or StudyInstanceUID (import the DICOM folder first)",
      ],
    ]);
    const repo = new ReportsRepo(db);
    expect(repo.forStudy(1)?.text).toBe('Second text file in exam 1.');
    expect(repo.forStudy(2)?.text).toBe('Named after the accession.');
    expect(repo.forStudy(3)?.text).toBe('Named after the StudyInstanceUID.');
    // a single .txt file works too
    expect(importReports(db, path.join(dir, 'exam1/report.txt'))).toMatchObject({ matched: 1, unmatched: [] });
    expect(repo.forStudy(1)?.text).toBe('Report of exam 1.');
    db.close();
  });
});
