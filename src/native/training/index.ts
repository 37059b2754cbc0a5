/** Training: artifacts (forward / train_step / optimizer), the trainer loop, checkpoints. */
export {
  emitTrainingArtifacts,
  emitForwardFor,
  loadManifest,
  MANIFEST_FILE,
  type ArtifactOptions,
  type TrainingManifest,
  type ArtifactFile,
  type IoInfo,
} from './artifacts';
export {
  buildOptimizerGraph,
  buildDeviceOptimizerGraph,
  paramOut,
  resolveOptimizer,
  stateNames,
  type OptimizerConfig,
  type AdamWConfig,
  type SgdConfig,
} from './optimizer';
export {
  DROPOUT_MASK,
  DROPOUT_SEED,
  dropoutSeedFeed,
  NO_DECAY_BIAS_AND_NORM,
  layoutOf,
  makeBuildContext,
  type BuildContext,
  type BuiltModel,
  type TrainingSetup,
  type ParamLayout,
  type TrainableEntry,
  type DecayExclusion,
} from './setup';
export { Trainer, type TrainerOptions, type TrainData, type StepInfo, type TrainResult } from './trainer';
export {
  saveCheckpoint,
  loadCheckpoint,
  readCheckpointMeta,
  CheckpointError,
  CHECKPOINT_FILE,
  type CheckpointMeta,
  type CheckpointState,
} from './checkpoint';
export {
  inThreadRunner,
  engineWorkerRunner,
  isDeviceTensor,
  TrafficCounter,
  type StepRunner,
  type SessionHandle,
  type SessionTraffic,
  type DeviceTensor,
  type StepFeed,
} from './runner';
export { learningRate, deriveSeed, epochPermutation, DataOrder, type LrSchedule } from './schedule';
export { linear, geluTanh, Linear, GeluTanh } from './layers';
export { OneFrozenSession, ONE_FROZEN_SESSION, holdFrozenOnce } from './one-session';
