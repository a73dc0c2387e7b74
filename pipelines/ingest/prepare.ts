/**
 * The work done on one inbox file before the store commit: read (never
 * through a link), hash, look up (already committed? already stored?), check
 * the modality, label, process. Nothing here writes; a crash at any point
 * leaves the file in the inbox to be started over.
 */
import { createHash } from 'node:crypto';
import { BonsaiError, type ErrorCode } from '../../core/errors.ts';
import type { Modality, ProcessedSample } from '../types.ts';
import type { CommitOutcome, SampleTarget } from '../store/index.ts';
import type { IngestContext, IngestFile, RejectReason } from './context.ts';
import { modalityOf, sniff } from '../sniff.ts';
import { modalityMismatch } from '../modality.ts';
import { entryExists, fileKeyOf, sourceOf, stateLayout } from './files.ts';
import { sidecarCandidates } from '../labels/index.ts';
import { doneMarker, readEntry } from './read.ts';

/** A file ready for the commit. */
export type Prepared =
  /** Committed before a crash (same source and file key in the ingest log): only the move is left. */
  | { kind: 'recovered'; file: IngestFile; fileKey: string; id: string; outcome: Exclude<CommitOutcome, 'rejected'>; modality?: Modality; sidecars: string[] }
  /** To be stored, or counted as a duplicate when the id is stored (decided in the transaction). */
  | { kind: 'sample'; file: IngestFile; fileKey: string; id: string; modality?: Modality; sample?: ProcessedSample; target: SampleTarget; sidecars: string[] }
  | { kind: 'rejected'; file: IngestFile; fileKey: string; id: string | null; modality?: Modality; reason: RejectReason; sidecars: string[] }
  /** Could not be read; left in place. */
  | { kind: 'skipped'; file: IngestFile; reason: RejectReason };

/** SHA-256 hex of `bytes` (the sample id). */
export function sampleId(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The reject reason for an error thrown by a processor or label resolver. */
export function reasonOf(err: unknown, fallbackCode: ErrorCode): RejectReason {
  if (err instanceof BonsaiError) return { code: err.code, message: err.message, details: { ...err.details } };
  const message = err instanceof Error ? err.message : String(err);
  return { code: fallbackCode, message, details: {} };
}

function checkFeatures(sample: ProcessedSample): RejectReason | null {
  const size = sample.shape.reduce((a, b) => a * b, 1);
  if (!sample.shape.every((d) => Number.isSafeInteger(d) && d > 0) || size !== sample.features.length) {
    return { code: 'BONSAI_INGEST_BAD_FEATURES', message: `processor returned shape [${sample.shape.join(', ')}] for ${sample.features.length} features`, details: { shape: sample.shape, length: sample.features.length } };
  }
  for (let i = 0; i < sample.features.length; i++) {
    if (!Number.isFinite(sample.features[i])) {
      return { code: 'BONSAI_INGEST_BAD_FEATURES', message: `processor returned a non-finite feature ${sample.features[i]} at index ${i}`, details: { index: i, value: String(sample.features[i]) } };
    }
  }
  return null;
}

/** A recording's sidecar transcripts that exist (any kind of entry: a link or FIFO is refused by its label, not followed). */
function transcriptSidecars(file: IngestFile, inbox: string): string[] {
  if (file.modality !== 'audio') return [];
  return sidecarCandidates(file.path).filter((p) => entryExists(p)).map((p) => sourceOf(inbox, p));
}

/** Runs the pre-commit steps for one file. */
export async function prepare(file: IngestFile, ctx: IngestContext): Promise<Prepared> {
  const { inbox } = stateLayout(ctx.stateDir);
  const step = (s: 'read' | 'hash' | 'label' | 'process'): void => ctx.onStep?.(s, [file.source]);
  const entry = readEntry(file, ctx, inbox);
  if ('decided' in entry) return entry.decided;
  const { stats, bytes } = entry;
  const fileKey = fileKeyOf(stats);
  step('read');
  const id = sampleId(bytes);
  const sniffed = sniff(bytes);
  const modality = modalityOf(sniffed);
  file = { ...file, modality };
  step('hash');

  const logged = ctx.store.findIngest(file.source, fileKey);
  if (logged && logged.id === id && logged.outcome !== 'rejected') {
    return { kind: 'recovered', file, fileKey, id, outcome: logged.outcome, modality, sidecars: logged.sidecars };
  }
  const wrong = ctx.modality === undefined ? null : modalityMismatch(file.source, sniffed, ctx.modality);
  if (wrong) return { kind: 'rejected', file, fileKey, id, modality, reason: wrong, sidecars: doneMarker(file, inbox) };

  let target: SampleTarget;
  let sidecars: string[];
  try {
    const resolved = await ctx.resolveLabel(file);
    target = resolved.target;
    sidecars = [...(resolved.sidecars ?? []).map((p) => sourceOf(inbox, p)), ...doneMarker(file, inbox)];
  } catch (err) {
    // A manifest that cannot be used says nothing reliable about any file under it (the broken line may be the one
    // that labels this file): the file waits in the inbox, reported as stuck, until the manifest is mended.
    if (err instanceof BonsaiError && err.code === 'BONSAI_INGEST_MANIFEST_INVALID') return { kind: 'skipped', file, reason: reasonOf(err, 'BONSAI_INGEST_MANIFEST_INVALID') };
    // The recording's sidecar transcripts go with it (a bad one is often why): fixed, both can be moved back.
    return { kind: 'rejected', file, fileKey, id, modality, reason: reasonOf(err, 'BONSAI_INGEST_LABEL_FAILED'), sidecars: [...transcriptSidecars(file, inbox), ...doneMarker(file, inbox)] };
  }
  step('label');
  if (ctx.store.hasSample(id)) return { kind: 'sample', file, fileKey, id, modality, target, sidecars };

  let sample: ProcessedSample;
  try {
    sample = await ctx.process(bytes, file);
  } catch (err) {
    return { kind: 'rejected', file, fileKey, id, modality, reason: reasonOf(err, 'BONSAI_INGEST_PROCESS_FAILED'), sidecars };
  }
  const bad = checkFeatures(sample);
  if (bad) return { kind: 'rejected', file, fileKey, id, modality: sample.modality, reason: bad, sidecars };
  step('process');
  return { kind: 'sample', file, fileKey, id, modality: sample.modality, sample, target, sidecars };
}
