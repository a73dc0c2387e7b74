/**
 * Error codes of the audio ingestion pipeline. Each one is documented, one line
 * each, in `docs/errors-ingest-audio.md`; a test keeps the two lists equal.
 */
export const AudioErrorCode = {
  /** The file is larger than `limits.maxFileBytes`. */
  FILE_TOO_LARGE: 'BONSAI_INGEST_AUDIO_FILE_TOO_LARGE',
  /** The file does not start with `RIFF` (also RIFX, RF64, or fewer than 12 bytes). */
  NOT_RIFF: 'BONSAI_INGEST_WAV_NOT_RIFF',
  /** A RIFF file whose form type is not `WAVE`. */
  NOT_WAVE: 'BONSAI_INGEST_WAV_NOT_WAVE',
  /** A chunk header is cut off or declares more bytes than the file holds (before fmt and data were found). */
  BAD_CHUNK: 'BONSAI_INGEST_WAV_BAD_CHUNK',
  /** No `fmt ` chunk. */
  NO_FMT: 'BONSAI_INGEST_WAV_NO_FMT',
  /** The `fmt ` chunk is too short, or a WAVE_FORMAT_EXTENSIBLE extension is malformed. */
  BAD_FMT: 'BONSAI_INGEST_WAV_BAD_FMT',
  /** A compressed or otherwise non-PCM encoding (ADPCM, mu-law, A-law, MP3, ...). */
  COMPRESSED: 'BONSAI_INGEST_WAV_COMPRESSED',
  /** Bits per sample not supported for the encoding (PCM 8/16/24/32, float 32/64). */
  BIT_DEPTH: 'BONSAI_INGEST_WAV_BIT_DEPTH',
  /** Channel count outside 1..8. */
  CHANNELS: 'BONSAI_INGEST_WAV_CHANNELS',
  /** Sample rate outside [4000, 192000] Hz. */
  SAMPLE_RATE: 'BONSAI_INGEST_WAV_SAMPLE_RATE',
  /** Block align is not channels x bytes per sample. */
  BLOCK_ALIGN: 'BONSAI_INGEST_WAV_BLOCK_ALIGN',
  /** No `data` chunk. */
  NO_DATA: 'BONSAI_INGEST_WAV_NO_DATA',
  /** The data chunk holds no complete sample frame. */
  EMPTY: 'BONSAI_INGEST_WAV_EMPTY',
  /** The data chunk declares more bytes than the file holds. */
  TRUNCATED: 'BONSAI_INGEST_WAV_TRUNCATED',
  /** The duration declared by the header exceeds `limits.maxAudioSeconds`. */
  TOO_LONG: 'BONSAI_INGEST_AUDIO_TOO_LONG',
  /** A float sample is NaN or infinite. */
  NON_FINITE: 'BONSAI_INGEST_WAV_NON_FINITE',
  /** A float sample's magnitude exceeds the accepted headroom. */
  SAMPLE_RANGE: 'BONSAI_INGEST_WAV_SAMPLE_RANGE',
  /** The sample decoder failed on a header that passed validation. */
  DECODE: 'BONSAI_INGEST_WAV_DECODE',
  /** Fewer samples than one analysis window after resampling. */
  TOO_SHORT: 'BONSAI_INGEST_AUDIO_TOO_SHORT',
  /** No sample of the mono signal rises above one 16-bit step: silence, or channels that cancel in the downmix. */
  SILENT: 'BONSAI_INGEST_AUDIO_SILENT',
  /** Processing one file took longer than `limits.decodeTimeoutMs`. */
  TIMEOUT: 'BONSAI_INGEST_AUDIO_TIMEOUT',
  /** An AudioSpec value is out of range or inconsistent. */
  SPEC_INVALID: 'BONSAI_INGEST_AUDIO_SPEC_INVALID',
  /** Resampling was asked for with a rate that is not a positive integer. */
  RESAMPLE_RATE: 'BONSAI_INGEST_AUDIO_RESAMPLE_RATE',
  /** Downmixing was given no channels, or channels of different lengths. */
  DOWNMIX: 'BONSAI_INGEST_AUDIO_DOWNMIX',
  /** The computed features contain NaN or infinite values. */
  NON_FINITE_FEATURES: 'BONSAI_INGEST_AUDIO_NON_FINITE_FEATURES',
  /** The FSDD folder does not exist. */
  FSDD_NOT_FOUND: 'BONSAI_INGEST_FSDD_NOT_FOUND',
  /** The FSDD folder holds no `{digit}_{speaker}_{take}.wav` recording. */
  FSDD_EMPTY: 'BONSAI_INGEST_FSDD_EMPTY',
} as const;

/** One of the audio pipeline's error codes. */
export type AudioErrorCode = (typeof AudioErrorCode)[keyof typeof AudioErrorCode];
