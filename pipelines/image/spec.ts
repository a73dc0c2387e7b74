/** Validation of an ImageSpec, and the mapping of 8-bit or unit intensities onto its range. */
import { BonsaiError } from '../../core/errors.ts';
import type { ImageSpec } from '../types.ts';
import { ImageErrorCode } from './codes.ts';

/** Largest accepted output side in pixels. */
export const MAX_OUTPUT_SIDE = 8192;

/** Throws BONSAI_INGEST_IMAGE_SPEC_INVALID naming the first bad field of `spec`. */
export function validateImageSpec(spec: ImageSpec): void {
  const bad = (field: string, value: unknown, expected: string): never => {
    throw new BonsaiError(ImageErrorCode.SPEC_INVALID, `image spec ${field} is ${JSON.stringify(value)}, expected ${expected}`, { field, value });
  };
  for (const field of ['height', 'width'] as const) {
    const v = spec[field];
    if (!Number.isInteger(v) || v < 1 || v > MAX_OUTPUT_SIDE) bad(field, v, `an integer in [1, ${MAX_OUTPUT_SIDE}]`);
  }
  if (spec.channels !== 1 && spec.channels !== 3) bad('channels', spec.channels, '1 or 3');
  if (spec.resize !== 'fit' && spec.resize !== 'fill' && spec.resize !== 'mnist') bad('resize', spec.resize, "'fit', 'fill' or 'mnist'");
  const range = spec.range;
  if (!Array.isArray(range) || range.length !== 2 || !range.every((v) => Number.isFinite(v)) || range[0] === range[1]) {
    bad('range', range, 'two different finite numbers [low, high]');
  }
}

/**
 * Maps 8-bit values onto `range` (0 -> low, 255 -> high) through a 256-entry
 * table; `repeat` 3 turns one gray channel into three equal ones.
 */
export function bytesToRange(data: Uint8Array, range: readonly [number, number], repeat: 1 | 3 = 1): Float32Array {
  const [low, high] = range;
  const table = new Float32Array(256);
  for (let v = 0; v < 256; v++) table[v] = low + ((high - low) * v) / 255;
  const out = new Float32Array(data.length * repeat);
  if (repeat === 1) {
    for (let i = 0; i < data.length; i++) out[i] = table[data[i]];
  } else {
    for (let i = 0; i < data.length; i++) {
      const v = table[data[i]];
      out[3 * i] = v;
      out[3 * i + 1] = v;
      out[3 * i + 2] = v;
    }
  }
  return out;
}

/** Maps one-channel unit intensities onto `range`, repeating each value `channels` times. */
export function unitToRange(data: Float32Array, range: readonly [number, number], channels: 1 | 3): Float32Array {
  const [low, high] = range;
  const out = new Float32Array(data.length * channels);
  for (let i = 0; i < data.length; i++) {
    const v = low + (high - low) * data[i];
    for (let c = 0; c < channels; c++) out[i * channels + c] = v;
  }
  return out;
}
