// Types for the `wav-decoder` package (v1.3, plain CommonJS without typings).
declare module 'wav-decoder' {
  /** What `decode` returns: one Float32Array per channel. */
  export interface DecodedWav {
    numberOfChannels: number;
    length: number;
    sampleRate: number;
    channelData: Float32Array[];
  }

  /** `symmetric`: scale integer PCM by 2^(bits-1) for both signs (default: 2^(bits-1) - 1 for positive values). */
  export interface DecodeOptions {
    symmetric?: boolean;
  }

  /** Decodes a whole WAV file held in an ArrayBuffer (not a typed array). */
  export const decode: {
    (buffer: ArrayBuffer, opts?: DecodeOptions): Promise<DecodedWav>;
    sync(buffer: ArrayBuffer, opts?: DecodeOptions): DecodedWav;
  };
}
