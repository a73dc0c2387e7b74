/**
 * Something for Prometheus to scrape: an HTTP server answering GET /metrics
 * with bonsai's metrics registry (daemon/metrics), and a way to make it move
 * (samples arriving, an update, predictions) so that rates have data.
 *
 * `startSampleTarget` serves the registry populated the way a daemon that
 * has ingested files, run one promoted update and served predictions does.
 * A target backed by the real daemon implements the same interface.
 */
import Fastify from 'fastify';
import { createMetrics, LABEL_VALUES } from '../../daemon/metrics/index.ts';

/** A process Prometheus scrapes. */
export interface MetricsTarget {
  /** `host:port` to scrape (path /metrics). */
  address: string;
  /** Makes the counters and gauges move a little (one tick of traffic). */
  exercise(): Promise<void>;
  close(): Promise<void>;
}

/** Serves daemon/metrics' registry with sample values of a daemon after one promoted update. */
export async function startSampleTarget(): Promise<MetricsTarget> {
  let tensors = 40;
  const metrics = createMetrics({
    version: '0.1.0',
    tfjsVersion: '4.22.0',
    backend: 'cpu',
    tfMemory: () => ({ numTensors: tensors, numBytes: tensors * 1024 }),
  });
  let tick = 0;
  metrics.sources.prequentialAccuracy = () => 0.9 + 0.01 * (tick % 5);
  metrics.sources.drift = () => [
    { method: 'psi', scope: 'input_mean', value: 0.04 },
    { method: 'psi', scope: 'input_std', value: 0.03 },
    { method: 'psi', scope: 'prediction', value: 0.02 },
    { method: 'js', scope: 'prediction', value: 0.01 },
  ];
  metrics.sources.predictionClasses = () => [
    { label: 'cat', ratio: 0.6 },
    { label: 'dog', ratio: 0.4 },
  ];
  metrics.pendingSamples.set(12);
  metrics.storeSamples.set({ split: 'train' }, 800);
  metrics.storeSamples.set({ split: 'validation' }, 100);
  metrics.storeSamples.set({ split: 'test' }, 100);
  metrics.setModelInfo('champion', 2);
  metrics.setModelInfo('serving', 2);
  for (const role of ['serving', 'champion']) {
    metrics.modelParameters.set({ role, kind: 'live' }, 24_310);
    metrics.modelParameters.set({ role, kind: 'dense' }, 266_610);
  }
  metrics.modelDensity.set({ role: 'champion', layer: 'dense1' }, 0.08);
  metrics.modelDensity.set({ role: 'champion', layer: 'dense2' }, 0.12);
  metrics.modelDensity.set({ role: 'champion', layer: 'dense3' }, 0.61);
  for (const dataset of ['validation', 'test']) {
    metrics.evalAccuracy.set({ role: 'champion', dataset }, 0.97);
    metrics.evalError.set({ role: 'champion', dataset }, 0.03);
  }
  metrics.evalAccuracy.set({ role: 'candidate', dataset: 'validation' }, 0.975);

  const app = Fastify({ logger: false });
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.expose();
    return reply.type(contentType).send(body);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  return {
    address: `127.0.0.1:${port}`,
    async exercise() {
      tick += 1;
      tensors += 1;
      metrics.ingestFiles.inc({ modality: 'image', outcome: 'accepted' }, 5);
      metrics.ingestFiles.inc({ modality: 'image', outcome: 'duplicate' }, 1);
      metrics.ingestFiles.inc({ modality: 'image', outcome: 'rejected' }, 1);
      metrics.predictRequests.inc({ code: '200' }, 20);
      metrics.predictRequests.inc({ code: '415' }, 1);
      for (let i = 0; i < 20; i++) metrics.predictDuration.observe(0.002 + 0.001 * (i % 7));
      // One promoted update every tick: every training phase costs something.
      metrics.updates.inc({ trigger: 'threshold', outcome: 'promoted' });
      for (const phase of LABEL_VALUES.trainingPhase) metrics.trainingSampleEpochs.inc({ phase }, 1000);
      for (const phase of LABEL_VALUES.updatePhase) metrics.updateDuration.observe({ phase }, 2);
      metrics.trainingFlops.inc(5e9);
      metrics.modelSwaps.inc({ outcome: 'ok' });
    },
    async close() {
      await app.close();
    },
  };
}
