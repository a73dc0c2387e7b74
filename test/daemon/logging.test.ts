/** The log's lines: the message is the event name and nothing else; fields beside it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLog, type Log } from '../../daemon/logging.ts';
import { BonsaiError } from '../../core/errors.ts';

test('a JSON line carries the event name as its message, the fields beside it, and an error as its code and text', async () => {
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  const log: Log = createLog({ format: 'json', stream });
  log.warn('ingest.rejected', { source: 'c30/x.png', code: 'BONSAI_INGEST_LABEL_LIMIT', reason: 'the label "c30" would be class 31', destination: 'q/x.png' });
  log.error('update.failed', { id: 'u-1', error: new BonsaiError('BONSAI_DAEMON_TRAINER_FAILED', 'trainer: boom', { pid: 7 }) });
  await new Promise((r) => setImmediate(r));
  const [rejected, failed] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(rejected.message, 'ingest.rejected');
  assert.equal(rejected.level, 'warn');
  assert.equal(rejected.reason, 'the label "c30" would be class 31');
  assert.equal(typeof rejected.time, 'string');
  assert.equal(failed.message, 'update.failed');
  assert.deepEqual(failed.error, { message: 'trainer: boom', code: 'BONSAI_DAEMON_TRAINER_FAILED', details: { pid: 7 } });
  // @ts-expect-error a field called message would be appended to the event name
  log.info('x.y', { message: 'no' });
});
