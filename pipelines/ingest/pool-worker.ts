/**
 * Worker-thread entry of `ProcessingPool`: decodes files with the real image
 * and audio pipelines off the main thread and sends the features back
 * (transferred, not copied).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BonsaiError, type ErrorCode } from '../../core/errors.ts';
import { processAudio } from '../audio/index.ts';
import { processImage } from '../image/index.ts';
import type { AudioSpec, ImageSpec, IngestLimits, Modality } from '../types.ts';

/** A job sent to a worker. */
export interface PoolRequest {
  id: number;
  modality: Modality;
  bytes: Uint8Array;
}

/** A worker's answer. */
export type PoolResponse =
  | { id: number; features: Float32Array; shape: number[]; modality: Modality }
  | { id: number; error: { code: ErrorCode | null; message: string; details: Record<string, unknown> } };

const { imageSpec, audioSpec, limits } = workerData as { imageSpec?: ImageSpec; audioSpec?: AudioSpec; limits: IngestLimits };

async function handle(req: PoolRequest): Promise<PoolResponse> {
  try {
    if (req.modality === 'audio' && !audioSpec) throw new BonsaiError('BONSAI_CORE_ASSERT', 'this pool has no audio spec', { modality: req.modality });
    if (req.modality === 'image' && !imageSpec) throw new BonsaiError('BONSAI_CORE_ASSERT', 'this pool has no image spec', { modality: req.modality });
    const sample = req.modality === 'audio' ? await processAudio(req.bytes, audioSpec as AudioSpec, limits) : await processImage(req.bytes, imageSpec as ImageSpec, limits);
    return { id: req.id, features: sample.features, shape: sample.shape, modality: sample.modality };
  } catch (err) {
    const e = err as Error;
    return { id: req.id, error: { code: err instanceof BonsaiError ? err.code : null, message: e.message ?? String(err), details: err instanceof BonsaiError ? { ...err.details } : {} } };
  }
}

parentPort?.on('message', (req: PoolRequest) => {
  void handle(req).then((res) => {
    parentPort?.postMessage(res, 'features' in res ? [res.features.buffer as ArrayBuffer] : []);
  });
});
