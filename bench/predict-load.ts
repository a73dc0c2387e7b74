/**
 * Closed-loop load on `POST /v1/predict`, in a process of its own so that the
 * server keeps its core (bench/serve-rate.ts starts it): `clients` keep-alive
 * clients, each sending the next PNG as soon as the last answer arrived, for
 * `seconds`. Prints one JSON line: requests, failed, perSecond, p50, p99 (ms).
 *
 *   node --import tsx bench/predict-load.ts URL PROBES.json CLIENTS SECONDS
 *
 * PROBES.json is an array of base64 PNGs.
 */
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
import { summarise } from './load-stats.ts';

const [url, probesFile, clientsArg, secondsArg] = process.argv.slice(2);
const probes = (JSON.parse(readFileSync(probesFile, 'utf8')) as string[]).map((b) => Buffer.from(b, 'base64'));
const clients = Number(clientsArg);
const target = new URL(`${url}/v1/predict`);
const agent = new Agent({ keepAlive: true, maxSockets: clients });

/** One request: its latency in ms, or -1 when it failed. */
function one(body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { 'content-type': 'image/png', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - t0 : -1));
    });
    req.on('error', () => resolve(-1));
    req.end(body);
  });
}

const ms: number[] = [];
let failed = 0;
const end = performance.now() + Number(secondsArg) * 1000;
const client = async (c: number): Promise<void> => {
  for (let k = c; performance.now() < end; k++) {
    const t = await one(probes[k % probes.length]);
    if (t < 0) failed++;
    else ms.push(t);
  }
};
const t0 = performance.now();
await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
process.stdout.write(`${JSON.stringify(summarise(ms, failed, (performance.now() - t0) / 1000))}\n`);
agent.destroy();
