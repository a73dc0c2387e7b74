/**
 * Which pipeline a file goes through, from its first bytes (never its name),
 * using the shared magic-number sniffer of pipelines/sniff.ts.
 */
import { formatError, modalityOf, sniff } from '../sniff.ts';
import type { Modality, ProcessedSample } from '../types.ts';
import type { IngestFile, Processor } from './context.ts';

/** The modality the content dispatches to; undefined for formats no pipeline takes. */
export function sniffModality(bytes: Uint8Array): Modality | undefined {
  return modalityOf(sniff(bytes));
}

/** One processor per modality. */
export interface Processors {
  image: (bytes: Buffer, file: IngestFile) => Promise<ProcessedSample>;
  audio: (bytes: Buffer, file: IngestFile) => Promise<ProcessedSample>;
}

/**
 * A `Processor` that sends WAV content to `audio`, images to `image`, and
 * rejects anything else with `BONSAI_INGEST_FORMAT_UNKNOWN` or
 * `BONSAI_INGEST_FORMAT_UNSUPPORTED` (codes of pipelines/sniff.ts).
 */
export function processorByContent(processors: Processors): Processor {
  return (bytes, file) => {
    const sniffed = sniff(bytes);
    if (sniffed.kind === 'audio') return processors.audio(bytes, file);
    if (sniffed.kind === 'image') return processors.image(bytes, file);
    return Promise.reject(formatError(sniffed, 'any', file.source));
  };
}
