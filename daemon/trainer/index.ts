/** Updates off the serving path: the trainer child process, its protocol, and the updater that gates and promotes. */
export { Updater } from './updater.ts';
export type { UpdaterArgs, UpdateOutcome, UpdateRecord, UpdateState, UpdaterEvents } from './updater.ts';
export { startTrainer, CHILD_ENTRY } from './process.ts';
export type { TrainerHandle, TrainerOptions } from './process.ts';
export { trainCandidate } from './train.ts';
export type { TrainHooks } from './train.ts';
export { readUpdateData, readDataset } from './data.ts';
export type { UpdateDatasets } from './data.ts';
export type { ChildMessage, DataSizes, ModelChoice, ParentMessage, TrainJob, TrainProgress, TrainResult, WireError } from './protocol.ts';
