/**
 * Labels of inbox samples: where they come from (`resolveLabel`: a manifest line,
 * a sidecar transcript or the folder), what makes a class label or a transcript
 * acceptable, and the safe read of the small files that hold them.
 */
export { LabelErrorCode } from './codes.ts';
export { printable } from './printable.ts';
export { CLASS_LABEL_PATTERN, MAX_LABEL_LENGTH, applyLabelPolicy, validateClassLabel, type LabelPolicy, type LabelSource } from './class-label.ts';
export { MAX_TRANSCRIPT_LENGTH, normalizeTranscript, type TranscriptOptions } from './transcript.ts';
export { readRegularFile, type ReadFailure, type ReadResult } from './read-regular-file.ts';
export { MANIFEST_NAME, MAX_MANIFEST_BYTES, ManifestCache, parseManifest, type ManifestEntry } from './manifest.ts';
export { MAX_SIDECAR_BYTES, isInside, resolveLabel, sidecarCandidates, type LabelOptions, type ResolvedLabel } from './resolve.ts';
