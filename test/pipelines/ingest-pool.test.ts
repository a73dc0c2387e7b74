import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { ProcessingPool } from '../../pipelines/ingest/index.ts';
import { defaultAudioSpec, encodeWav, processAudio } from '../../pipelines/audio/index.ts';
import { processImage } from '../../pipelines/image/index.ts';
import type { ImageSpec, IngestLimits } from '../../pipelines/types.ts';

const limits: IngestLimits = { maxFileBytes: 1 << 20, maxPixels: 1 << 20, maxAudioSeconds: 10, decodeTimeoutMs: 10_000 };
const imageSpec: ImageSpec = { height: 8, width: 8, channels: 1, resize: 'fit', range: [0, 1] };

test('worker threads decode exactly like the main thread, and pass reject codes through', async () => {
  const audioSpec = { ...defaultAudioSpec };
  const pool = new ProcessingPool({ threads: 2, audioSpec, imageSpec, limits });
  try {
    const tone = Float32Array.from({ length: 4000 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 8000));
    const wav = encodeWav(tone, 8000);
    const png = await sharp(Buffer.from(Array.from({ length: 64 }, (_, i) => i * 4)), { raw: { width: 8, height: 8, channels: 1 } }).png().toBuffer();
    const [a, b, c] = await Promise.all([pool.process(wav, 'audio'), pool.process(png, 'image'), pool.process(wav, 'audio')]);
    const refA = await processAudio(wav, audioSpec, limits);
    const refB = await processImage(png, imageSpec, limits);
    assert.deepEqual(a.shape, refA.shape);
    assert.deepEqual(Array.from(a.features), Array.from(refA.features));
    assert.deepEqual(Array.from(c.features), Array.from(refA.features));
    assert.deepEqual(b.shape, [8, 8, 1]);
    assert.deepEqual(Array.from(b.features), Array.from(refB.features));
    await assert.rejects(pool.process(Buffer.from('not a wav at all'), 'audio'), (e: { code?: string }) => typeof e.code === 'string' && e.code.startsWith('BONSAI_INGEST_'));
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.process(new Uint8Array(4), 'audio'), { code: 'BONSAI_INGEST_POOL_CLOSED' });
});
