/**
 * Read-only artifact routes of a trainer (role `all` or `trainer`), which
 * servers follow over HTTP (deploy/README.md, "Roles"):
 *
 *   GET /v1/models/current                  { version, manifest } of the champion
 *   GET /v1/models/:version/manifest        { version, manifest } of a served version
 *   GET /v1/models/:version/files/*         one artifact file, streamed
 *
 * Only versions that are or were a champion (promoted, retired, rolled-back,
 * and the one CURRENT names: a promotion writes CURRENT before the version's
 * manifest says `promoted`) are offered, and only the files named in their
 * manifest's checksums: a name is looked up as a key, never joined into a path
 * first, so nothing outside a version directory can be read.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { httpError } from './errors.ts';
import type { ArtifactSource, ArtifactVersion } from './types.ts';

/** Version states whose artifacts are offered: those a server may have to serve. */
export const SERVED_STATES: readonly string[] = ['promoted', 'retired', 'rolled-back'];

/** Registers the artifact routes on `app`. */
export function registerArtifacts(app: FastifyInstance, artifacts: ArtifactSource): void {
  const served = async (raw: string): Promise<ArtifactVersion> => {
    const version = /^[1-9]\d{0,14}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(version)) {
      throw httpError('BONSAI_HTTP_BAD_VERSION', `model version must be a positive integer, got ${JSON.stringify(raw)}`, { version: raw });
    }
    const found = await artifacts.get(version);
    if (found !== null && SERVED_STATES.includes(String(found.manifest.state))) return found;
    // A promotion writes CURRENT before the version's manifest says `promoted`: in between, the
    // version CURRENT names is the champion already, and servers told so by /v1/models/current fetch it.
    if (found !== null && (await artifacts.current().catch(() => null))?.version === version) return found;
    throw httpError('BONSAI_HTTP_MODEL_NOT_FOUND', `model version ${version} is not a promoted or retained version of the registry`,
      { version, state: found?.manifest.state ?? null });
  };

  app.get('/v1/models/current', async () => {
    const champion = await artifacts.current();
    if (champion === null) throw httpError('BONSAI_HTTP_NO_CHAMPION', 'no model version has been promoted yet', {});
    return { version: champion.version, manifest: champion.manifest };
  });

  app.get<{ Params: { version: string } }>('/v1/models/:version/manifest', async (request) => {
    const v = await served(request.params.version);
    return { version: v.version, manifest: v.manifest };
  });

  app.get<{ Params: { version: string; '*': string } }>('/v1/models/:version/files/*', async (request, reply) => {
    const v = await served(request.params.version);
    const name = request.params['*'];
    const checksums = v.manifest.checksums;
    const sha256 = Object.hasOwn(checksums, name) ? checksums[name] : undefined;
    const path = resolve(v.dir, name);
    const inside = relative(resolve(v.dir), path);
    if (sha256 === undefined || inside.startsWith('..') || inside.split(sep).includes('..') || inside === '') {
      throw httpError('BONSAI_HTTP_FILE_NOT_FOUND', `model version ${v.version} has no artifact ${JSON.stringify(name)}`, { version: v.version, name, files: Object.keys(checksums) });
    }
    let size: number;
    try {
      size = (await stat(join(v.dir, ...name.split('/')))).size;
    } catch (cause) {
      throw httpError('BONSAI_HTTP_FILE_NOT_FOUND', `artifact ${name} of model version ${v.version} is gone (removed by retention?)`, { version: v.version, name }, cause);
    }
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', size)
      .header('x-bonsai-sha256', sha256)
      .send(createReadStream(join(v.dir, ...name.split('/'))));
  });
}
