/**
 * `models/<N>/manifest.json`: what a version is, where it came from, what it
 * cost, and the SHA-256 of every artifact file. A version directory whose
 * manifest is missing or does not match this schema is never listed or served.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { VERSION_STATES } from './states.ts';

/** File name of the manifest inside a version directory (reserved: artifacts may not use it). */
export const MANIFEST_FILE = 'manifest.json';

/** Version of the manifest format. */
export const MANIFEST_FORMAT = 1;

const count = z.number().int().nonnegative();
const finite = z.number().refine(Number.isFinite, 'must be finite');

/** Live and total connections of one layer (biases included). */
export const layerParametersSchema = z.object({
  /** Connections whose mask is 1. */
  live: count,
  /** All connections of the dense layer. */
  total: count,
});

/** Training cost, counted as DESIGN.md defines it. */
export const trainingCostSchema = z.object({
  /** Samples seen in training, growth evaluation included. */
  sampleEpochs: finite.nonnegative(),
  /** Epochs-equivalent: sampleEpochs / |all data| (paper Table 2). */
  epochs: finite.nonnegative(),
  /** Floating-point operations of the update. */
  flops: finite.nonnegative(),
  /** Wall-clock seconds of the update. */
  wallSeconds: finite.nonnegative(),
});

/** What the writer of a version supplies to `publish`; the registry adds the rest. */
export const manifestInputSchema = z.object({
  /** Version this one was trained from; default: the champion at publish time. */
  parent: z.number().int().positive().nullable().optional(),
  /** Samples the model has been trained on, in total. */
  samplesSeen: count,
  /** Evaluation results, e.g. `{ validationAccuracy: 0.981, testErrorRate: 0.019 }`. */
  metrics: z.record(z.string(), finite),
  /** Live parameters per layer name. */
  parameters: z.record(z.string(), layerParametersSchema),
  /** Training cost of the update that produced it. */
  cost: trainingCostSchema,
  /** Compute backend that trained it, e.g. `wasm`. */
  backend: z.string().min(1),
  /** Seconds per phase of the update, e.g. `{ growNew: 12.5, growAll: 30.1, prune: 40.2, evaluate: 1.3 }`. */
  timings: z.record(z.string(), finite.nonnegative()),
  /** Anything else the writer wants to keep with the version. */
  extra: z.record(z.string(), z.unknown()).optional(),
});

/** The stored manifest. Unknown keys are kept, so that an older reader does not drop a newer writer's fields. */
export const manifestSchema = z.looseObject({
  ...manifestInputSchema.shape,
  /** Manifest format version. */
  format: z.literal(MANIFEST_FORMAT),
  /** Integer version, equal to the directory name. */
  version: z.number().int().positive(),
  parent: z.number().int().positive().nullable(),
  /** When the version was published (ISO 8601). */
  createdAt: z.iso.datetime({ offset: true }),
  /** Lifecycle state (daemon/registry/states.ts). */
  state: z.enum(VERSION_STATES),
  /** When the state last changed (ISO 8601). */
  stateChangedAt: z.iso.datetime({ offset: true }),
  /** Why the state last changed (the gate's verdict, an operator's words); null at publish. */
  reason: z.string().nullable(),
  /** SHA-256 (hex) of every artifact file, by POSIX path relative to the version directory. */
  checksums: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
  /** Total bytes of the artifact files. */
  sizeBytes: count,
});

/** Input of `publish`. */
export type ManifestInput = z.input<typeof manifestInputSchema>;
/** A stored manifest. */
export type Manifest = z.output<typeof manifestSchema>;

/** The manifest of a version directory, or null when it is missing, unreadable or invalid. */
export async function readManifest(versionDir: string, version: number): Promise<Manifest | null> {
  let text: string;
  try {
    text = await readFile(join(versionDir, MANIFEST_FILE), 'utf8');
  } catch {
    return null;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = manifestSchema.safeParse(json);
  return parsed.success && parsed.data.version === version ? parsed.data : null;
}
