/**
 * The model's modality against a file's content: one verdict for the daemon's ingestion
 * (pipelines/ingest/prepare.ts) and `bonsai check` (pipelines/check.ts). The code is
 * documented with the store's codes (docs/errors-store.md).
 */
import type { SniffResult } from './sniff.ts';
import type { Modality } from './types.ts';

/**
 * BONSAI_INGEST_WRONG_MODALITY for content of the other modality than the model reads (a WAV for
 * an image model, an image for a speech model), or null. The daemon quarantines such a file and
 * `bonsai check` gives the same verdict.
 */
export function modalityMismatch(name: string, sniffed: SniffResult, expected: Modality): { code: 'BONSAI_INGEST_WRONG_MODALITY'; message: string; details: Record<string, unknown> } | null {
  if (sniffed.kind !== 'image' && sniffed.kind !== 'audio') return null;
  if (sniffed.modality === expected) return null;
  const reads = expected === 'audio' ? 'recordings (model.modality: audio)' : 'images (model.modality: image)';
  return {
    code: 'BONSAI_INGEST_WRONG_MODALITY',
    message: `${name}: the content is ${sniffed.format.toUpperCase()} (${sniffed.modality}) but the model reads ${reads}`,
    details: { actual: sniffed.modality, expected, format: sniffed.format },
  };
}
