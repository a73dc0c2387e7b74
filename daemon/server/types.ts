/**
 * What the HTTP server needs from the rest of the daemon, as small interfaces
 * the daemon wires up (and tests fake).
 */
import type { ProcessedSample } from '../../pipelines/types.ts';
import type { BatchingOptions } from './batcher.ts';
import type { BonsaiMetrics } from '../metrics/registry.ts';
import type { ServingMonitor } from '../metrics/monitor.ts';
import type { ModelHolder } from '../serving/holder.ts';
import type { ModelInput } from '../serving/types.ts';
import type { PathRoots } from './redact.ts';

/** Turns request bodies into model input for the live model. */
export interface Preprocessors {
  /** Decodes an image (PNG, JPEG, ...) to the model's input shape (pipelines/image). */
  image(bytes: Uint8Array, input: ModelInput): Promise<ProcessedSample>;
  /** Decodes a WAV recording to the model's input features (pipelines/audio). */
  audio(bytes: Uint8Array, input: ModelInput): Promise<ProcessedSample>;
  /**
   * Most frames of one utterance a speech model is given as JSON: those of the longest recording
   * the audio pipeline accepts (`ingest.limits.maxAudioSeconds`, `maxSeconds`); none when omitted.
   */
  utteranceLimit?(input: ModelInput): { maxFrames: number; maxSeconds: number };
}

/** One registry version as listed by `GET /v1/models` (extra fields are passed through). */
export interface ModelVersionInfo {
  version: number;
  [key: string]: unknown;
}

/** The registry's view: the champion (`models/CURRENT`), its rollback target, and all versions. */
export interface RegistryListing {
  /** Version in `models/CURRENT`, null before the first promotion. */
  current: number | null;
  /** Version a rollback returns to, null when there is none. */
  previous: number | null;
  versions: ModelVersionInfo[];
}

/** Registry operations behind the admin routes (local registry, or a proxy to the trainer). */
export interface RegistryOps {
  list(): Promise<RegistryListing>;
  /** Makes `version` the champion (atomic write of `models/CURRENT` and the history). */
  promote(version: number): Promise<Record<string, unknown>>;
  /** Makes the previous champion current again; resolves with the new current version. */
  rollback(): Promise<{ version: number; [key: string]: unknown }>;
  /**
   * Throws when this process cannot change the champion at all (a serving-only process with
   * nowhere to forward to): asked before anything is swapped, so a refusal never serves the target.
   */
  assertChangeable?(): void;
}

/** A registry version as the artifact routes see it. */
export interface ArtifactVersion {
  version: number;
  /** Absolute path of the version directory. */
  dir: string;
  /** Its manifest; `checksums` maps every artifact file to its SHA-256 (hex). */
  manifest: { state: string; checksums: Readonly<Record<string, string>>; [key: string]: unknown };
}

/** Read access to the registry behind `GET /v1/models/current` and the artifact downloads (trainers only). */
export interface ArtifactSource {
  /** The champion, or null before the first promotion. */
  current(): Promise<ArtifactVersion | null>;
  /** One version, or null when the registry does not have it. */
  get(version: number): Promise<ArtifactVersion | null>;
}

/** Answer of an update request. */
export interface UpdateRequestResult {
  /** False when the update was refused (answered 409). */
  accepted: boolean;
  /** e.g. `started`, `queued` (one update runs at a time), `no-pending-samples`. */
  state: string;
  /** Update id, when one was started or queued. */
  id?: string;
  /** Human-readable explanation. */
  message?: string;
}

/** Starts an update (training run) now. */
export interface UpdateTrigger {
  requestUpdate(reason: string): Promise<UpdateRequestResult>;
}

/** Daemon state for `GET /v1/status` (pending samples, update phase, store size...). */
export interface StatusProvider {
  status(): Promise<Record<string, unknown>> | Record<string, unknown>;
}

/** Limits of the HTTP layer. */
export interface ServerLimits {
  /** Largest request body in bytes (images, WAVs, JSON). */
  bodyLimitBytes: number;
  /** Most samples in one JSON tensor batch. */
  maxBatch: number;
  /** Longest time a client may take to send a whole request (headers and body); slower ones are closed (408). */
  requestTimeoutMs: number;
  /** Most open connections; further ones are closed at once (a flood cannot use up the daemon's file descriptors). */
  maxConnections: number;
  /**
   * Most bytes of request bodies in flight across all requests (declared `Content-Length`, or the
   * route's body limit for a chunked body); a request that would pass it is answered 503 before its body is read.
   */
  maxInflightBodyBytes: number;
}

/** Everything `buildServer` needs. */
export interface ServerDeps {
  /** The live model. */
  holder: ModelHolder;
  /** Image and WAV decoding for the live model's input. */
  preprocess: Preprocessors;
  registry: RegistryOps;
  updates: UpdateTrigger;
  status: StatusProvider;
  metrics: BonsaiMetrics;
  /** The registry's artifacts, offered to following servers; the routes are absent when omitted. */
  artifacts?: ArtifactSource;
  /** Bearer token of the mutating routes; undefined or empty disables them (403). */
  token?: string;
  /** How to configure a token, shown in the 403 of disabled mutating routes. */
  tokenHint?: string;
  /** Defaults: 16 MiB bodies, batches of 1024, 256 MiB of bodies in flight. */
  limits?: Partial<ServerLimits>;
  /** Merging of concurrent predictions (default: up to 32 samples within 1 ms; `maxBatchSize: 1` turns it off). */
  batching?: BatchingOptions;
  /** Recent-prediction window for drift metrics; one is created (and bound to `metrics`) when omitted. */
  monitor?: ServingMonitor;
  /**
   * Absolute server paths by the name that replaces them in answers to requests without the token
   * (`{ stateDir: '/var/lib/bonsai' }`); the home, temp and working directories are always added,
   * and other absolute paths are shortened (redact.ts).
   */
  paths?: PathRoots;
  /** Receives 5xx errors and failed swaps (the daemon logs them). */
  onError?: (err: unknown, context: { method: string; url: string; status: number }) => void;
  /** Receives the other errors whose answer had server paths taken out, as they were thrown (the daemon logs them). */
  onRedacted?: (err: unknown, context: { method: string; url: string; status: number }) => void;
}
