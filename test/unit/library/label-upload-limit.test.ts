// A label file sent as bytes (the Labels page, through the web host's 4 MiB bodies) that is too large
// once gzipped and base64-encoded: the page says so before sending, naming the file and the limit,
// and the contract refuses such a request (an issue on dataBase64) with the same advice (the command line reads any size).
import { afterAll, describe, expect, it } from 'vitest';
import { LABEL_UPLOAD_MAX_BASE64, labelUploadProblem } from '../../../src/common/label-files';
import { callApi } from '../../helpers/api';
import { taskNamed, testBackend } from '../../helpers/library';
import { removeTmpDirs } from '../../helpers/tmp';

afterAll(removeTmpDirs);

describe('label file upload limit', () => {
  it('names the file and the limit, and leaves room for the rest of a 4 MiB request', () => {
    expect(LABEL_UPLOAD_MAX_BASE64).toBeLessThan(4 << 20);
    expect(labelUploadProblem('clinical.csv', LABEL_UPLOAD_MAX_BASE64)).toBeNull();
    expect(labelUploadProblem('clinical.csv', 6 << 20)).toBe(
      '"clinical.csv" is 6.0 MiB once compressed and encoded, more than the 3.9 MiB one request can carry: ' +
        'import it from the command line (cleft labels import FILE --task NAME), or split it into smaller files',
    );
  });

  it('the contract refuses an oversized upload with that advice, and nothing is imported', async () => {
    const b = testBackend();
    try {
      const taskId = (await taskNamed(b)).id;
      const source = { fileName: 'big.csv', dataBase64: 'A'.repeat(LABEL_UPLOAD_MAX_BASE64 + 4), gzip: true };
      const err = await callApi(b, 'labels.importPreview', { taskId, source }).then(
        () => null,
        (e: unknown) => e as { code: string; issues?: unknown },
      );
      expect(err?.code).toBe('invalid_input');
      // the dispatcher's issues carry the field and the schema's message
      expect(JSON.stringify(err?.issues)).toMatch(
        /more than 3\.9 MiB once compressed and encoded: import it from the command line \(cleft labels import/,
      );
      expect(await callApi(b, 'library.stats', {})).toMatchObject({ labels: 0 });
    } finally {
      b.close();
    }
  });
});
