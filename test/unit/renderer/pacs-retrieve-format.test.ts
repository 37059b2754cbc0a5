// How a pacs-retrieve job reads in the Jobs drawer: the archive and how many studies, then what came.
import { describe, expect, it } from 'vitest';
import type { Job } from '../../../src/common/jobs';
import { describeJob } from '../../../src/renderer/src/lib/jobs';

const job: Job = {
  id: 7,
  kind: 'pacs-retrieve',
  status: 'done',
  params: { archive: 'research', studies: ['1.2.3', '1.2.4'], onlyForPresentation: true },
  progress: { fraction: 1, message: 'Done', etaSeconds: null },
  result: {
    archive: 'research',
    studies: [],
    fetched: 7,
    alreadyStored: 1,
    skippedForProcessing: 2,
    bytes: 80 * 1024 ** 2,
    seconds: 6,
    imagesPerSecond: 1.17,
    megabytesPerSecond: 14,
  },
  error: null,
  checkpointPath: null,
  revision: 3,
  createdAt: '2025-01-01T00:00:00.000Z',
  startedAt: '2025-01-01T00:00:00.000Z',
  finishedAt: '2025-01-01T00:00:06.000Z',
};

describe('describeJob: pacs-retrieve', () => {
  it('names the archive and the studies, then what was retrieved, found stored and left out', () => {
    expect(describeJob(job)).toEqual({
      title: 'Retrieve from archive',
      subject: 'research: 2 studies',
      facts: [
        { label: 'Retrieved', value: '7 images · 80.0 MB' },
        { label: 'Already in library', value: '1 image' },
        { label: 'Left out', value: '2 FOR PROCESSING' },
        { label: 'Rate', value: '1.17 images/s · 14 MB/s' },
      ],
    });
    expect(describeJob({ ...job, status: 'running', result: null })).toEqual({
      title: 'Retrieve from archive',
      subject: 'research: 2 studies',
      facts: [],
    });
  });
});
