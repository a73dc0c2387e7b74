/**
 * Error codes of the image ingestion pipeline. Each one is documented, one line
 * each, in `docs/errors-ingest-image.md`; a test keeps the two lists equal.
 */
export const ImageErrorCode = {
  /** The image is larger than `limits.maxFileBytes` (checked before decoding). */
  FILE_TOO_LARGE: 'BONSAI_INGEST_IMAGE_FILE_TOO_LARGE',
  /** The image has zero bytes. */
  EMPTY: 'BONSAI_INGEST_IMAGE_EMPTY',
  /** Width x height declared by the header exceeds `limits.maxPixels` (decompression bombs, absurd headers). */
  TOO_MANY_PIXELS: 'BONSAI_INGEST_IMAGE_TOO_MANY_PIXELS',
  /** The decoder failed: truncated data, bad checksum, corrupt header, zero width or height. */
  CORRUPT: 'BONSAI_INGEST_IMAGE_CORRUPT',
  /** A valid image that the decoder cannot handle (too many channels, a codec missing from this build). */
  UNSUPPORTED: 'BONSAI_INGEST_IMAGE_UNSUPPORTED',
  /** Decoding took longer than `limits.decodeTimeoutMs`. */
  TIMEOUT: 'BONSAI_INGEST_IMAGE_TIMEOUT',
  /** The `mnist` policy found no digit: too little contrast between background and ink. */
  BLANK: 'BONSAI_INGEST_IMAGE_BLANK',
  /** An ImageSpec value is out of range. */
  SPEC_INVALID: 'BONSAI_INGEST_IMAGE_SPEC_INVALID',
} as const;

/** One of the image pipeline's error codes. */
export type ImageErrorCode = (typeof ImageErrorCode)[keyof typeof ImageErrorCode];
