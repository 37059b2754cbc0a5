// The frozen-backbone Adaptor / linear probe as a job (filled in below).
import type { TrainAdaptorParams } from '../../../common/jobs';
import type { JobRunner } from '../job-context';

export const trainAdaptorJob: JobRunner<TrainAdaptorParams> = async () => {
  throw new Error('train-adaptor: not implemented yet');
};
