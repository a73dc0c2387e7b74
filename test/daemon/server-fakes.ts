/**
 * Fakes for the server tests: a 3-class model whose answer is predictable from
 * its input, preprocessors, a registry, an update trigger and a status provider.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BonsaiError } from '../../core/errors.ts';
import type { Modality, ProcessedSample } from '../../pipelines/types.ts';
import { BonsaiMetrics, createMetrics } from '../../daemon/metrics/index.ts';
import type { DriftReference } from '../../daemon/metrics/index.ts';
import { ModelHolder, type LoadedModel } from '../../daemon/serving/index.ts';
import { buildServer, type RegistryListing, type ServerDeps, type UpdateRequestResult } from '../../daemon/server/index.ts';
import type { FastifyInstance } from 'fastify';

export const LABELS = ['cat', 'dog', 'eel'];
/** The state directory the fakes name in their errors and status (not created). */
export const FAKE_STATE_DIR = '/srv/bonsai-fake/state';
export const INPUT_SHAPE = [2, 2, 1];

export interface FakeModelOptions {
  modality?: Modality;
  predictDelayMs?: number;
  /** Return this many scores instead of n x 3. */
  brokenOutput?: number;
  /** Scores of NaN for a sample with a value beyond this magnitude (as an overflowing network computes). */
  overflowAbove?: number;
  warmUpFails?: boolean;
  driftReference?: DriftReference;
}

/**
 * Class of a sample = round(sum of its values) mod 3, with probability 0.8;
 * the other two classes get 0.1 each.
 */
export function expectedClass(values: number[]): number {
  return ((Math.round(values.reduce((a, b) => a + b, 0)) % 3) + 3) % 3;
}

export function fakeModel(version: number, options: FakeModelOptions = {}): LoadedModel & { disposed: number } {
  const size = INPUT_SHAPE.reduce((a, b) => a * b, 1);
  const model = {
    version,
    labels: LABELS,
    inputShape: INPUT_SHAPE,
    modality: options.modality ?? 'image',
    driftReference: options.driftReference,
    disposed: 0,
    async predict(batch: Float32Array, n: number): Promise<Float32Array> {
      if (model.disposed > 0) throw new Error(`model ${version} used after dispose`);
      if (options.predictDelayMs !== undefined) await sleep(options.predictDelayMs);
      if (options.brokenOutput !== undefined) return new Float32Array(options.brokenOutput);
      const out = new Float32Array(n * 3).fill(0.1);
      for (let i = 0; i < n; i++) {
        const sample = Array.from(batch.subarray(i * size, (i + 1) * size));
        if (options.overflowAbove !== undefined && sample.some((v) => Math.abs(v) > (options.overflowAbove as number))) out.fill(Number.NaN, i * 3, (i + 1) * 3);
        else out[i * 3 + expectedClass(sample)] = 0.8;
      }
      return out;
    },
    async warmUp(): Promise<void> {
      if (options.warmUpFails === true) throw new BonsaiError('BONSAI_DAEMON_MODEL_CORRUPT', 'warm-up failed');
    },
    dispose(): void {
      model.disposed += 1;
    },
  };
  return model;
}

/** Image bytes b become 4 features equal to b[0]; a body starting with "BAD" is rejected like a corrupt file. */
export async function fakeImage(bytes: Uint8Array): Promise<ProcessedSample> {
  if (Buffer.from(bytes.subarray(0, 3)).toString() === 'BAD') {
    throw new BonsaiError('BONSAI_INGEST_IMAGE_CORRUPT', 'image is corrupt: bad header', { bytes: bytes.length });
  }
  if (Buffer.from(bytes.subarray(0, 5)).toString() === 'CRASH') throw new Error('decoder crashed');
  if (Buffer.from(bytes.subarray(0, 4)).toString() === 'BUSY') {
    throw new BonsaiError('BONSAI_INGEST_IMAGE_TIMEOUT', 'decoding the png image did not finish within 60000 ms with 40 other decodes queued (the decoder is overloaded)', { format: 'png', decodeTimeoutMs: 10000, waitedMs: 60000, queued: 40 });
  }
  if (Buffer.from(bytes.subarray(0, 4)).toString() === 'PATH') {
    throw new BonsaiError('BONSAI_INGEST_IMAGE_CORRUPT', `cannot decode the image: ${FAKE_STATE_DIR}/uploads/upload-1.png is truncated (see ${FAKE_STATE_DIR}/store.db)`, { file: `${FAKE_STATE_DIR}/uploads/upload-1.png`, bytes: bytes.length });
  }
  if (Buffer.from(bytes.subarray(0, 4)).toString() === 'WIDE') return { modality: 'image', features: new Float32Array(8), shape: [2, 4, 1] };
  return { modality: 'image', features: new Float32Array(4).fill(bytes[0]), shape: [2, 2, 1] };
}

export class FakeRegistry {
  current: number | null = 1;
  history: number[] = [1];
  versions = [1, 2, 3];
  promoteFails = false;
  /** Each version's manifest reason, where one is set. */
  reasons: Record<number, string> = {};

  async list(): Promise<RegistryListing> {
    return {
      current: this.current,
      previous: this.history.length >= 2 ? this.history[this.history.length - 2] : null,
      versions: this.versions.map((version) => ({ version, createdAt: `2026-01-0${version}T00:00:00Z`, ...(this.reasons[version] === undefined ? {} : { reason: this.reasons[version] }) })),
    };
  }

  async promote(version: number): Promise<Record<string, unknown>> {
    if (this.promoteFails) throw new BonsaiError('BONSAI_REGISTRY_PUBLISH_FAILED', 'cannot write models/CURRENT: disk full');
    if (version !== this.current) this.history.push(version);
    this.current = version;
    return { version, at: '2026-01-09T00:00:00Z' };
  }

  async rollback(): Promise<{ version: number }> {
    this.history.pop();
    this.current = this.history[this.history.length - 1];
    return { version: this.current };
  }
}

export interface Harness {
  app: FastifyInstance;
  holder: ModelHolder;
  registry: FakeRegistry;
  metrics: BonsaiMetrics;
  updateReasons: string[];
  errors: unknown[];
  /** Errors whose answer had server paths taken out (ServerDeps.onRedacted). */
  redacted: unknown[];
  loads: number[];
}

export interface HarnessOptions {
  token?: string;
  /** Load a first version (default 1); null leaves the holder empty. */
  initialVersion?: number | null;
  model?: (version: number) => LoadedModel;
  limits?: ServerDeps['limits'];
  batching?: ServerDeps['batching'];
  update?: UpdateRequestResult;
  defaultMetrics?: boolean;
  /** What the status provider answers (default: pending samples and an idle update). */
  status?: () => Record<string, unknown>;
  /** Server paths kept from clients without the token (ServerDeps.paths). */
  paths?: ServerDeps['paths'];
}

export async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const loads: number[] = [];
  const holder = new ModelHolder({
    loader: async (version) => {
      loads.push(version);
      if (version === 3) throw new BonsaiError('BONSAI_REGISTRY_BAD_ARTIFACT', 'models/3/weights.bin is truncated');
      return (options.model ?? ((v) => fakeModel(v)))(version);
    },
  });
  const initial = options.initialVersion === undefined ? 1 : options.initialVersion;
  if (initial !== null) await holder.swapTo(initial);
  const registry = new FakeRegistry();
  const metrics = createMetrics({ version: '0.0.0-test', defaultMetrics: options.defaultMetrics ?? false, tfMemory: () => ({ numTensors: 7, numBytes: 1024 }) });
  const updateReasons: string[] = [];
  const errors: unknown[] = [];
  const redacted: unknown[] = [];
  const app = buildServer({
    holder,
    registry,
    metrics,
    token: options.token,
    limits: options.limits,
    batching: options.batching,
    preprocess: { image: fakeImage, audio: fakeImage },
    updates: {
      requestUpdate: async (reason) => {
        updateReasons.push(reason);
        return options.update ?? { accepted: true, state: 'started', id: 'u-1' };
      },
    },
    status: { status: options.status ?? (() => ({ pendingSamples: 12, update: { state: 'idle' } })) },
    paths: options.paths,
    onError: (err) => errors.push(err),
    onRedacted: (err) => redacted.push(err),
  });
  await app.ready();
  return { app, holder, registry, metrics, updateReasons, errors, redacted, loads };
}

/** The counter value for `labels`, or 0. */
export async function counterValue(metric: { get(): Promise<{ values: Array<{ labels: Record<string, string | number>; value: number }> }> }, labels: Record<string, string>): Promise<number> {
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x));
  return hit?.value ?? 0;
}
