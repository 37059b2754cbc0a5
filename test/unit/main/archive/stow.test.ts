// STOW-RS answers as other archives give them (dcm4chee-style failure lists, a plain-text 400, a
// warning), from a local server that also checks the multipart/related body it received.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveConnection } from '../../../../src/main/archive/connections';
import { storeFiles } from '../../../../src/main/archive/stow';
import { requireDump2dcm, writeMgInstance } from '../../../helpers/dcmtk';
import { removeTmpDirs, tmpDir } from '../../../helpers/tmp';

const UID = '1.2.826.0.1.3680043.9.7777.42.1.1';
let server: http.Server;
let base: string;
let file: string;
/** What the next POST answers: [status, body]. */
let answer: [number, string] = [200, ''];
let received: { contentType: string; body: Buffer } | null = null;

beforeAll(async () => {
  requireDump2dcm();
  file = path.join(tmpDir(), 'one.dcm');
  writeMgInstance(file, {
    sopInstanceUid: UID,
    studyUid: '1.2.826.0.1.3680043.9.7777.42',
    seriesUid: '1.2.826.0.1.3680043.9.7777.42.1',
    patientId: 'P42',
  });
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received = { contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) };
      res.writeHead(answer[0], { 'Content-Type': 'application/dicom+json' }).end(answer[1]);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dicom-web`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  removeTmpDirs();
});

const conn = (): ArchiveConnection => ({ name: 'vna', url: base, auth: { kind: 'none' } });
const item = (tag: string, reason?: [string, number]) =>
  JSON.stringify({
    [tag]: {
      vr: 'SQ',
      Value: [
        {
          '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.1.2'] },
          '00081155': { vr: 'UI', Value: [UID] },
          ...(reason ? { [reason[0]]: { vr: 'US', Value: [reason[1]] } } : {}),
        },
      ],
    },
  });

describe('STOW-RS', () => {
  it('sends the file whole in a multipart/related body and reads a stored answer, with its warning', async () => {
    answer = [200, item('00081199', ['00081196', 0xb000])];
    const [r] = await storeFiles(conn(), [file]);
    expect(r).toEqual({ file, sopInstanceUid: UID, status: 'stored', reason: 'stored with a warning: coercion of data elements (0xB000)' });
    const boundary = /boundary=([^;]+)$/.exec(received!.contentType)![1]!;
    expect(received!.contentType).toBe(`multipart/related; type="application/dicom"; boundary=${boundary}`);
    const head = `--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`;
    const tail = `\r\n--${boundary}--\r\n`;
    expect(received!.body.subarray(0, head.length).toString()).toBe(head);
    expect(received!.body.subarray(received!.body.length - tail.length).toString()).toBe(tail);
    expect(received!.body.subarray(head.length, received!.body.length - tail.length).equals(fs.readFileSync(file))).toBe(true);
  });

  it("gives the archive's reason for a refusal: a failure list (409) or a plain answer (400)", async () => {
    answer = [409, item('00081198', ['00081197', 0xa900])];
    expect(await storeFiles(conn(), [file])).toEqual([
      { file, sopInstanceUid: UID, status: 'refused', reason: 'the archive refused it: data set does not match SOP class (0xA900)' },
    ]);
    answer = [400, 'Patient ID missing'];
    expect((await storeFiles(conn(), [file]))[0]!.reason).toBe('the archive refused it: HTTP 400: Patient ID missing');
    answer = [200, JSON.stringify({ '00081199': { vr: 'SQ' } })];
    expect((await storeFiles(conn(), [file]))[0]).toMatchObject({
      status: 'refused',
      reason: 'the archive answered HTTP 200 without confirming this instance',
    });
  });
});
