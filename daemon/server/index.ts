/** The HTTP API of the daemon. */
export { buildServer, DEFAULT_LIMITS } from './app.ts';
export { DEFAULT_TOKEN_HINT } from './admin.ts';
export { SERVED_STATES, registerArtifacts } from './artifacts.ts';
export { DRAIN_DEADLINE_MS, DRAIN_GRACE_MS, drainAndClose, isDraining } from './drain.ts';
export type { DrainResult } from './drain.ts';
export { HTTP_ERRORS, HttpError, httpError, toErrorResponse } from './errors.ts';
export type { ErrorBody, HttpErrorCode } from './errors.ts';
export { WAV_MEDIA_TYPES } from './predict.ts';
export type { InputKind, Prediction, PredictResponse } from './predict.ts';
export { PathRedactor, processRoots } from './redact.ts';
export type { PathRoots } from './redact.ts';
export { parseTensorBody, resolveBatch } from './tensor.ts';
export type { TensorBatch } from './tensor.ts';
export type {
  ArtifactSource,
  ArtifactVersion,
  ModelVersionInfo,
  Preprocessors,
  RegistryListing,
  RegistryOps,
  ServerDeps,
  ServerLimits,
  StatusProvider,
  UpdateRequestResult,
  UpdateTrigger,
} from './types.ts';
export { measureServerOverhead } from './overhead.ts';
export type { LatencyStats, OverheadArgs, OverheadResult } from './overhead.ts';
