import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openRegistry, type HistoryEntry } from '../../daemon/registry/index.ts';
import { artifacts, input, rejectsWith, steppingClock, tempModels } from './registry-helpers.ts';

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

test('publish writes a complete candidate version with checksums, numbered 1, 2, ...', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const reg = await openRegistry(dir, { now: steppingClock() });
    assert.equal(await reg.publish(artifacts(1), input()), 1);
    assert.equal(await reg.publish(artifacts(2), input({ samplesSeen: 2000 })), 2);
    const v1 = await reg.get(1);
    assert.equal(v1.dir, join(dir, '1'));
    assert.deepEqual(readdirSync(v1.dir).sort(), ['manifest.json', 'model.json', 'weights.bin']);
    const m = v1.manifest;
    assert.equal(m.version, 1);
    assert.equal(m.parent, null);
    assert.equal(m.state, 'candidate');
    assert.equal(m.reason, null);
    assert.equal(m.createdAt, '2024-01-01T00:00:01.000Z');
    assert.deepEqual(m.checksums, { 'model.json': sha(join(v1.dir, 'model.json')), 'weights.bin': sha(join(v1.dir, 'weights.bin')) });
    assert.equal(m.sizeBytes, readFileSync(join(v1.dir, 'model.json')).length + 64);
    assert.deepEqual(m.parameters.dense1, { live: 120, total: 235_500 });
    assert.equal(m.cost.epochs, 21.5);
    assert.equal((await reg.get(2)).manifest.samplesSeen, 2000);
    assert.deepEqual((await reg.list()).map((v) => v.version), [1, 2]);
    assert.equal(await reg.current(), null);
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.staging-')), []);
    assert.deepEqual((await reg.history()).map((e) => [e.event, e.version]), [['publish', 1], ['publish', 2]]);
    // The parent defaults to the champion at publish time.
    await reg.promote(2, 'first');
    assert.equal((await reg.get(await reg.publish(artifacts(3), input()))).manifest.parent, 2);
    assert.equal((await reg.get(await reg.publish(artifacts(4), input({ parent: 1 })))).manifest.parent, 1);
  } finally {
    cleanup();
  }
});

test('publish refuses bad input without leaving anything behind', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const reg = await openRegistry(dir);
    const boom = new Error('disk full');
    const err = await rejectsWith(() => reg.publish(async (d) => {
      writeFileSync(join(d, 'weights.bin'), Buffer.alloc(10));
      throw boom;
    }, input()), 'BONSAI_REGISTRY_PUBLISH_FAILED', 'disk full');
    assert.equal(err.cause, boom);
    await rejectsWith(() => reg.publish(async (d) => writeFileSync(join(d, 'manifest.json'), '{}'), input()), 'BONSAI_REGISTRY_BAD_ARTIFACT', 'manifest.json');
    await rejectsWith(() => reg.publish(async () => undefined, input()), 'BONSAI_REGISTRY_PUBLISH_FAILED', 'no files');
    await rejectsWith(() => reg.publish(artifacts(1), input({ samplesSeen: -1 })), 'BONSAI_REGISTRY_BAD_MANIFEST', 'samplesSeen');
    assert.deepEqual(readdirSync(dir).filter((n) => !n.startsWith('.lock')), []);
    assert.deepEqual(await reg.list(), []);
    assert.equal(await reg.publish(artifacts(1), input()), 1);
  } finally {
    cleanup();
  }
});

test('promote, reject, rollback and the history', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const reg = await openRegistry(dir, { now: steppingClock() });
    for (let s = 1; s <= 3; s++) await reg.publish(artifacts(s), input());
    await reg.promote(1, 'initial model');
    assert.equal(readFileSync(join(dir, 'CURRENT'), 'utf8'), '1\n');
    assert.equal((await reg.current())?.manifest.state, 'promoted');

    const rejected = await reg.reject(2, 'validation accuracy 0.95 < champion 0.97');
    assert.equal(rejected.manifest.state, 'rejected');
    assert.equal((await reg.get(2)).manifest.reason, 'validation accuracy 0.95 < champion 0.97');
    assert.equal((await reg.current())?.version, 1);

    await reg.promote(3, 'validation accuracy 0.98 >= champion 0.97');
    assert.equal((await reg.current())?.version, 3);
    assert.equal((await reg.get(1)).manifest.state, 'retired');
    assert.equal((await reg.get(1)).manifest.reason, 'replaced by version 3');

    const back = await reg.rollback('operator: latency regression');
    assert.equal(back.version, 1);
    assert.equal(readFileSync(join(dir, 'CURRENT'), 'utf8'), '1\n');
    assert.equal((await reg.get(1)).manifest.state, 'promoted');
    assert.equal((await reg.get(3)).manifest.state, 'rolled-back');
    await rejectsWith(() => reg.rollback(), 'BONSAI_REGISTRY_NO_ROLLBACK_TARGET', 'version 1');

    // The guard holds on the registry's operations too.
    await rejectsWith(() => reg.reject(1, 'late'), 'BONSAI_REGISTRY_BAD_TRANSITION', 'from promoted to rejected');
    // Promoting the champion again changes nothing.
    assert.equal((await reg.promote(1, 'again')).manifest.reason, 'operator: latency regression');
    await rejectsWith(() => reg.reject(3, 'late'), 'BONSAI_REGISTRY_BAD_TRANSITION', 'from rolled-back to rejected');
    await rejectsWith(() => reg.promote(9, 'x'), 'BONSAI_REGISTRY_NOT_FOUND', 'version 9');
    // An operator may override the gate.
    await reg.promote(2, 'operator override');
    assert.equal((await reg.get(2)).manifest.state, 'promoted');
    assert.equal((await reg.get(1)).manifest.state, 'retired');

    const history = (await reg.history()).map((e: HistoryEntry) => ({ event: e.event, version: e.version, from: e.from, reason: e.reason }));
    assert.deepEqual(history.filter((e) => e.event !== 'publish'), [
      { event: 'promote', version: 1, from: null, reason: 'initial model' },
      { event: 'reject', version: 2, from: undefined, reason: 'validation accuracy 0.95 < champion 0.97' },
      { event: 'promote', version: 3, from: 1, reason: 'validation accuracy 0.98 >= champion 0.97' },
      { event: 'rollback', version: 1, from: 3, reason: 'operator: latency regression' },
      { event: 'promote', version: 2, from: 1, reason: 'operator override' },
    ]);
    const times = (await reg.history()).map((e) => Date.parse(e.time));
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
    // The file is JSON lines, one event a line.
    assert.equal(readFileSync(join(dir, 'history.jsonl'), 'utf8').trim().split('\n').length, 8);
  } finally {
    cleanup();
  }
});

test('rollback walks back through successive champions one step at a time', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const reg = await openRegistry(dir);
    await rejectsWith(() => reg.rollback(), 'BONSAI_REGISTRY_NO_CHAMPION');
    for (let s = 1; s <= 4; s++) await reg.publish(artifacts(s), input());
    for (const v of [1, 2, 3]) await reg.promote(v, `gate passed ${v}`);
    assert.equal((await reg.rollback()).version, 2);
    assert.equal((await reg.rollback()).version, 1);
    await rejectsWith(() => reg.rollback(), 'BONSAI_REGISTRY_NO_ROLLBACK_TARGET');
    await reg.promote(4, 'gate passed 4');
    assert.equal((await reg.rollback()).version, 1, 'after rollbacks, the previous champion is the one rolled back to');
  } finally {
    cleanup();
  }
});

test('retain keeps the newest K, the champion and its rollback target, and never reuses a number', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const reg = await openRegistry(dir);
    for (let s = 1; s <= 8; s++) await reg.publish(artifacts(s), input());
    await reg.promote(2, 'a');
    await reg.promote(3, 'b');
    await rejectsWith(() => reg.retain(0), 'BONSAI_REGISTRY_INVALID_ARGUMENT');
    assert.deepEqual(await reg.retain(3), [1, 4, 5]);
    assert.deepEqual((await reg.list()).map((v) => v.version), [2, 3, 6, 7, 8]);
    assert.ok(!existsSync(join(dir, '1')) && !existsSync(join(dir, '5')));
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.trash-')), []);
    const last = (await reg.history()).at(-1);
    assert.deepEqual([last?.event, last?.deleted], ['retain', [1, 4, 5]]);
    assert.deepEqual(await reg.retain(3), [], 'idempotent');
    assert.equal((await reg.rollback()).version, 2, 'the rollback target survived');
    // Retention after the newest versions: 9 is new even though 1, 4, 5 are free.
    assert.equal(await reg.publish(artifacts(9), input()), 9);
    // Champion 2 has no rollback target left (the history below it is empty), so only 9 and 2 stay.
    assert.deepEqual(await reg.retain(1), [3, 6, 7, 8]);
    assert.deepEqual((await reg.list()).map((v) => v.version), [2, 9]);
  } finally {
    cleanup();
  }
});

test('verify detects a flipped byte, a missing and an added file; promote refuses a corrupt version', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const reg = await openRegistry(dir);
    await reg.publish(artifacts(1), input());
    await reg.publish(artifacts(2), input());
    await reg.promote(1, 'first');
    assert.deepEqual(await reg.verify(2), { version: 2, ok: true, mismatched: [], missing: [], unexpected: [] });

    const weights = join(dir, '2', 'weights.bin');
    const bytes = readFileSync(weights);
    const expected = sha(weights);
    bytes[17] ^= 0x01;
    writeFileSync(weights, bytes);
    const report = await reg.verify(2);
    assert.equal(report.ok, false);
    assert.deepEqual(report.mismatched, [{ path: 'weights.bin', expected, actual: sha(weights) }]);
    await rejectsWith(() => reg.promote(2, 'gate passed'), 'BONSAI_REGISTRY_CORRUPT', 'weights.bin changed');
    assert.equal((await reg.current())?.version, 1);
    assert.equal((await reg.get(2)).manifest.state, 'candidate');

    bytes[17] ^= 0x01;
    writeFileSync(weights, bytes);
    assert.equal((await reg.verify(2)).ok, true, 'restoring the byte restores the checksum');
    mkdirSync(join(dir, '2', 'extra'));
    writeFileSync(join(dir, '2', 'extra', 'x.bin'), 'x');
    const v1Model = join(dir, '1', 'model.json');
    const kept = readFileSync(v1Model);
    writeFileSync(v1Model, '');
    assert.deepEqual((await reg.verify(2)).unexpected, ['extra/x.bin']);
    assert.equal((await reg.verify(1)).mismatched[0].path, 'model.json');
    writeFileSync(v1Model, kept);
    rmSync(join(dir, '1', 'weights.bin'));
    assert.deepEqual((await reg.verify(1)).missing, ['weights.bin']);
  } finally {
    cleanup();
  }
});

test('CURRENT: content checked, a crash after its rename is completed at open, a torn history line is cut', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const reg = await openRegistry(dir);
    await reg.publish(artifacts(1), input());
    await reg.publish(artifacts(2), input());
    await reg.promote(1, 'first');
    // A crash right after CURRENT was renamed during promote(2): manifests and history not yet updated.
    writeFileSync(join(dir, 'CURRENT'), '2\n');
    appendFileSync(join(dir, 'history.jsonl'), '{"time":"2024-01-0');
    const reopened = await openRegistry(dir);
    assert.equal((await reopened.get(2)).manifest.state, 'promoted');
    assert.equal((await reopened.get(1)).manifest.state, 'retired');
    const history = await reopened.history();
    assert.deepEqual([history.at(-1)?.event, history.at(-1)?.version], ['repair', 2]);
    assert.ok(readFileSync(join(dir, 'history.jsonl'), 'utf8').endsWith('\n'));
    assert.equal((await reopened.rollback('undo')).version, 1);

    writeFileSync(join(dir, 'CURRENT'), 'seven\n');
    await rejectsWith(() => reopened.current(), 'BONSAI_REGISTRY_CURRENT_INVALID', '"seven"');
    writeFileSync(join(dir, 'CURRENT'), '42\n');
    await rejectsWith(() => reopened.current(), 'BONSAI_REGISTRY_CURRENT_MISSING', 'version 42');
  } finally {
    cleanup();
  }
});

test('readers: read-only registries write nothing, and a missing directory is an outage, not an empty registry', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const reader = await openRegistry(dir, { readOnly: true });
    assert.ok(!existsSync(dir));
    await rejectsWith(() => reader.list(), 'BONSAI_REGISTRY_UNAVAILABLE');
    await rejectsWith(() => reader.current(), 'BONSAI_REGISTRY_UNAVAILABLE');
    const writer = await openRegistry(dir);
    assert.deepEqual(await reader.list(), []);
    assert.equal(await reader.current(), null);
    await writer.publish(artifacts(1), input());
    await writer.promote(1, 'first');
    assert.equal((await reader.current())?.version, 1);
    await rejectsWith(() => reader.publish(artifacts(2), input()), 'BONSAI_REGISTRY_READ_ONLY', 'publish');
    await rejectsWith(() => reader.promote(1, 'x'), 'BONSAI_REGISTRY_READ_ONLY');
    await rejectsWith(() => reader.rollback(), 'BONSAI_REGISTRY_READ_ONLY');
    await rejectsWith(() => reader.retain(1), 'BONSAI_REGISTRY_READ_ONLY');
  } finally {
    cleanup();
  }
});

test('concurrent publishes in one process get distinct versions', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const a = await openRegistry(dir);
    const b = await openRegistry(dir);
    const versions = await Promise.all([1, 2, 3, 4].map((s) => (s % 2 ? a : b).publish(artifacts(s), input())));
    assert.deepEqual([...versions].sort(), [1, 2, 3, 4]);
    for (const v of versions) assert.equal((await a.verify(v)).ok, true);
  } finally {
    cleanup();
  }
});
