/** Error codes of labels, transcripts and manifests (documented in `docs/errors-ingest-image.md`). */
export const LabelErrorCode = {
  /** A class label does not match `[A-Za-z0-9_-]{1,64}`. */
  INVALID: 'BONSAI_INGEST_LABEL_INVALID',
  /** A class label not among the known classes while the label policy is `reject`. */
  UNKNOWN: 'BONSAI_INGEST_LABEL_UNKNOWN',
  /** A class label that would add a class beyond `ingest.maxClasses` (the daemon's ingestion). */
  LIMIT: 'BONSAI_INGEST_LABEL_LIMIT',
  /** A file under the inbox with no folder label, manifest entry or sidecar transcript. */
  MISSING: 'BONSAI_INGEST_LABEL_MISSING',
  /** A transcript is empty, too long, or holds characters outside the alphabet or control/format characters. */
  TRANSCRIPT_INVALID: 'BONSAI_INGEST_TRANSCRIPT_INVALID',
  /** A `manifest.jsonl` cannot be used: a line is not JSON, lacks `file`/`label`, names an unsafe path, or contradicts another line. */
  MANIFEST_INVALID: 'BONSAI_INGEST_MANIFEST_INVALID',
} as const;
