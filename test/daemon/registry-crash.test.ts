import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openRegistry } from '../../daemon/registry/index.ts';
import { artifacts, input, rejectsWith, tempModels } from './registry-helpers.ts';

const repoRoot = new URL('../../', import.meta.url).pathname;
const registryUrl = pathToFileURL(join(repoRoot, 'daemon/registry/index.ts')).href;

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

test('a process killed in the middle of writing artifacts leaves no visible version, and CURRENT stays complete', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const reg = await openRegistry(dir);
    await reg.publish(artifacts(1), input());
    await reg.promote(1, 'first');
    const script = join(dir, '..', 'crash.mts');
    writeFileSync(script, `
      import { openRegistry } from ${JSON.stringify(registryUrl)};
      import { writeFileSync } from 'node:fs';
      import { join } from 'node:path';
      const reg = await openRegistry(${JSON.stringify(dir)});
      await reg.publish(async (staging) => {
        writeFileSync(join(staging, 'weights.bin'), Buffer.alloc(1000, 7));
        writeFileSync(join(staging, 'model.json'), '{"half":');
        process.exit(9); // the power goes out
      }, ${JSON.stringify(input())});
    `);
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(child.status, 9, child.stderr);

    const leftovers = readdirSync(dir).filter((n) => n.startsWith('.staging-'));
    assert.equal(leftovers.length, 1, 'the crash left its staging directory');
    const reader = await openRegistry(dir, { readOnly: true });
    assert.deepEqual((await reader.list()).map((v) => v.version), [1], 'a reader never sees the half-written version');
    assert.equal((await reader.current())?.version, 1);
    assert.equal((await reader.verify(1)).ok, true);
    assert.ok(existsSync(join(dir, leftovers[0])), 'readers clean nothing');

    const writer = await openRegistry(dir);
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.staging-')), [], 'the next writer removes it');
    assert.equal(await writer.publish(artifacts(2), input()), 2);
  } finally {
    cleanup();
  }
});

test('leftovers of dead processes are cleaned at open; directories without a valid manifest are never listed', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const reg = await openRegistry(dir);
    await reg.publish(artifacts(1), input());
    const dead = deadPid();
    for (const name of [`.staging-${dead}-0badc0de-0011`, '.staging-garbage', '.trash-1-whatever']) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'weights.bin'), 'partial');
    }
    writeFileSync(join(dir, `.CURRENT.tmp-${dead}-0badc0de-0022`), '1');
    writeFileSync(join(dir, '1', `.manifest.json.tmp-${dead}-0badc0de-0033`), '{');
    mkdirSync(join(dir, '9'));
    writeFileSync(join(dir, '9', 'weights.bin'), 'no manifest');
    mkdirSync(join(dir, '10'));
    writeFileSync(join(dir, '10', 'manifest.json'), '{"version": 10');
    mkdirSync(join(dir, 'notes'));

    const reopened = await openRegistry(dir);
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.') && n !== '.lock' && n !== '.lock.held').sort(), []);
    assert.deepEqual(readdirSync(join(dir, '1')).sort(), ['manifest.json', 'model.json', 'weights.bin']);
    assert.deepEqual((await reopened.list()).map((v) => v.version), [1]);
    await rejectsWith(() => reopened.get(9), 'BONSAI_REGISTRY_INVALID_VERSION', 'models/9');
    await rejectsWith(() => reopened.promote(10, 'x'), 'BONSAI_REGISTRY_INVALID_VERSION');
    assert.ok(existsSync(join(dir, '9')) && existsSync(join(dir, 'notes')), 'what the registry does not own is left alone');
    assert.equal(await reopened.publish(artifacts(2), input()), 11, 'numbers of unusable directories are not reused');
  } finally {
    cleanup();
  }
});

test('opening a writer while a publish is in flight does not remove its staging directory', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const reg = await openRegistry(dir);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const writing = new Promise<void>((r) => (started = r));
    const publishing = reg.publish(async (staging) => {
      writeFileSync(join(staging, 'weights.bin'), 'first half');
      started();
      await gate;
      writeFileSync(join(staging, 'model.json'), '{}');
    }, input());
    await writing;
    const other = await openRegistry(dir);
    assert.equal(readdirSync(dir).filter((n) => n.startsWith('.staging-')).length, 1);
    assert.deepEqual(await other.list(), []);
    release();
    assert.equal(await publishing, 1);
    assert.deepEqual(Object.keys((await other.get(1)).manifest.checksums), ['model.json', 'weights.bin']);
    assert.equal(readFileSync(join(dir, '1', 'weights.bin'), 'utf8'), 'first half');
  } finally {
    cleanup();
  }
});

test('another live writer holding the lock makes a writer wait, then fail with its pid; a dead holder is taken over', async () => {
  const { dir, cleanup } = tempModels();
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
  try {
    const reg = await openRegistry(dir, { lockTimeoutMs: 150 });
    writeFileSync(join(dir, '.lock'), `${holder.pid}\n`);
    const err = await rejectsWith(() => reg.publish(artifacts(1), input()), 'BONSAI_REGISTRY_LOCKED', `pid ${holder.pid}`);
    assert.equal(err.details.pid, holder.pid);
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.staging-')), [], 'the waiting publish cleaned up');
    writeFileSync(join(dir, '.lock'), `${deadPid()}\n`);
    assert.equal(await reg.publish(artifacts(1), input()), 1);
    assert.ok(!existsSync(join(dir, '.lock')), 'the lock is released after each operation');
  } finally {
    holder.kill();
    cleanup();
  }
});

test('a version published by a process killed before its history line gets the line at the next open, at its manifest\'s time, once', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const reg = await openRegistry(dir);
    await reg.publish(artifacts(1), input());
    await reg.promote(1, 'first');
    await reg.publish(artifacts(2), input());
    // The state a kill between the rename into models/2 and the history append leaves: version 2 without its line.
    const history = join(dir, 'history.jsonl');
    const lines = readFileSync(history, 'utf8').trimEnd().split('\n');
    assert.equal(JSON.parse(lines[lines.length - 1]).event, 'publish');
    writeFileSync(history, `${lines.slice(0, -1).join('\n')}\n`);
    assert.deepEqual((await reg.history()).filter((e) => e.event === 'publish').map((e) => e.version), [1]);

    const writer = await openRegistry(dir);
    const published = (await writer.history()).filter((e) => e.event === 'publish');
    assert.deepEqual(published.map((e) => e.version), [1, 2]);
    const manifest = JSON.parse(readFileSync(join(dir, '2', 'manifest.json'), 'utf8')) as { createdAt: string };
    assert.equal(published[1].time, manifest.createdAt);
    assert.match(published[1].reason ?? '', /^parent 1; recorded at open: the process that published it stopped before writing this line$/);
    await openRegistry(dir);
    assert.equal((await writer.history()).filter((e) => e.event === 'publish').length, 2, 'written once');
    assert.equal((await writer.current())?.version, 1, 'the champion is unchanged');
    assert.equal(await writer.publish(artifacts(3), input()), 3);
  } finally {
    cleanup();
  }
});
