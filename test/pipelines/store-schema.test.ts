import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, SCHEMA_VERSION, contentOf, migrate, openStore, schemaVersion, type Migration } from '../../pipelines/store/index.ts';

function tempDir(): { dir: string; path: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-schema-'));
  return { dir, path: join(dir, 'store.db'), done: () => rmSync(dir, { recursive: true, force: true }) };
}

const ID = 'ab'.repeat(32);

test('opening a version-1 database migrates it to the newest version and keeps its samples', () => {
  const t = tempDir();
  try {
    const old = new Database(t.path);
    migrate(old, { migrations: MIGRATIONS.slice(0, 1) });
    assert.equal(schemaVersion(old), 1);
    old.prepare("INSERT INTO samples (id, modality, split, label, shape, arrived_at, source, features) VALUES (?, 'image', 'train', 'cat', '[1]', 1000, 'cat/x.png', ?)")
      .run(ID, Buffer.from(Float32Array.from([0.25]).buffer));
    old.close();

    const store = openStore(t.path);
    try {
      assert.equal(schemaVersion(store.db), SCHEMA_VERSION);
      assert.ok(SCHEMA_VERSION >= 2);
      assert.deepEqual(Array.from(store.getSample(ID)?.features ?? []), [0.25]);
      // Version 2 back-fills the ingest log for samples stored before it existed.
      assert.deepEqual(store.db.prepare('SELECT id, source, outcome FROM ingest_log').all(), [{ id: ID, source: 'cat/x.png', outcome: 'accepted' }]);
    } finally {
      store.close();
    }
  } finally {
    t.done();
  }
});

test('version 3 rebuilds the ingest log with its rows and lets it record relabels', () => {
  const t = tempDir();
  try {
    const old = new Database(t.path);
    migrate(old, { migrations: MIGRATIONS.slice(0, 2) });
    old.prepare("INSERT INTO samples (id, modality, split, label, shape, arrived_at, source, features) VALUES (?, 'image', 'train', 'cat', '[1]', 1000, 'cat/x.png', ?)")
      .run(ID, Buffer.from(Float32Array.from([0.25]).buffer));
    old.prepare("INSERT INTO ingest_log (id, source, file_key, outcome, code, sidecars, time) VALUES (?, 'cat/x.png', '7:4:9', 'accepted', NULL, '[\"cat/x.png.done\"]', 1000)").run(ID);
    old.prepare("INSERT INTO ingest_log (id, source, file_key, outcome, code, sidecars, time) VALUES (NULL, 'cat/big.png', '8:1:2', 'rejected', 'BONSAI_INGEST_FILE_TOO_LARGE', '[]', 1001)").run();
    assert.throws(() => old.prepare("INSERT INTO ingest_log (id, source, file_key, outcome, time) VALUES (NULL, 's', 'k', 'relabeled', 1)").run(), /CHECK/);
    old.close();

    const store = openStore(t.path);
    try {
      assert.equal(schemaVersion(store.db), SCHEMA_VERSION);
      assert.deepEqual(store.findIngest('cat/x.png', '7:4:9'), { id: ID, source: 'cat/x.png', fileKey: '7:4:9', outcome: 'accepted', code: null, sidecars: ['cat/x.png.done'], time: 1000 });
      assert.equal(store.findIngest('cat/big.png', '8:1:2')?.code, 'BONSAI_INGEST_FILE_TOO_LARGE');
      assert.equal(store.addSample(ID, { modality: 'image', features: Float32Array.from([0.25]), shape: [1] }, { label: 'dog' }, 'dog/x.png'), 'relabeled');
      assert.equal(store.findIngest('dog/x.png', `direct:${ID}`)?.outcome, 'relabeled');
      assert.deepEqual(store.db.prepare('SELECT name FROM sqlite_master WHERE tbl_name = ? ORDER BY name').pluck().all('ingest_log'), ['ingest_log', 'ingest_log_by_id', 'sqlite_autoindex_ingest_log_1']);
    } finally {
      store.close();
    }
  } finally {
    t.done();
  }
});

test('version 4 gives every stored sample its decoded content, so copies stored before are found by it', () => {
  const t = tempDir();
  try {
    const old = new Database(t.path);
    migrate(old, { migrations: MIGRATIONS.slice(0, 3) });
    const features = Buffer.from(Float32Array.from([0.25, 0.5]).buffer);
    const insert = old.prepare("INSERT INTO samples (id, modality, split, label, shape, arrived_at, source, features) VALUES (?, 'image', 'train', 'cat', '[2]', 1000, ?, ?)");
    insert.run(ID, 'cat/x.png', features);
    insert.run('cd'.repeat(32), 'cat/x-level1.png', features);
    old.close();

    const store = openStore(t.path);
    try {
      const rows = store.db.prepare('SELECT id, content FROM samples ORDER BY seq').all() as { id: string; content: string }[];
      assert.equal(rows[0].content, contentOf('[2]', features));
      assert.equal(rows[1].content, rows[0].content);
      assert.equal(store.addSample('ef'.repeat(32), { modality: 'image', features: Float32Array.from([0.25, 0.5]), shape: [2] }, { label: 'cat' }, 'cat/x.webp'), 'duplicate');
      assert.deepEqual(store.db.prepare('SELECT id FROM duplicates').pluck().all(), [ID], 'the first of them');
    } finally {
      store.close();
    }
  } finally {
    t.done();
  }
});

test('a database newer than this build is refused with BONSAI_STORE_VERSION_TOO_NEW', () => {
  const t = tempDir();
  try {
    openStore(t.path).close();
    const db = new Database(t.path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(() => openStore(t.path), (e: { code?: string; details?: { version?: number; known?: number } }) =>
      e.code === 'BONSAI_STORE_VERSION_TOO_NEW' && e.details?.version === SCHEMA_VERSION + 1 && e.details?.known === SCHEMA_VERSION);
    assert.throws(() => openStore(t.path, { readonly: true }), { code: 'BONSAI_STORE_VERSION_TOO_NEW' });
    assert.equal(existsSync(`${t.path}.lock`), false, 'a refused open releases the lock');
  } finally {
    t.done();
  }
});

test('an old database opened read-only is not migrated: BONSAI_STORE_NEEDS_MIGRATION', () => {
  const t = tempDir();
  try {
    const old = new Database(t.path);
    migrate(old, { migrations: MIGRATIONS.slice(0, 1) });
    old.close();
    assert.throws(() => openStore(t.path, { readonly: true }), { code: 'BONSAI_STORE_NEEDS_MIGRATION' });
    const db = new Database(t.path);
    assert.equal(schemaVersion(db), 1);
    db.close();
  } finally {
    t.done();
  }
});

test('a failing migration leaves the previous version and no partial change', () => {
  const db = new Database(':memory:');
  const failing: Migration = { version: 2, description: 'fails halfway', up(d) { d.exec('CREATE TABLE half (x)'); throw new Error('disk full'); } };
  assert.throws(() => migrate(db, { migrations: [MIGRATIONS[0], failing] }), /disk full/);
  assert.equal(schemaVersion(db), 1);
  assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get(), 0);
  assert.throws(() => migrate(db, { migrations: [MIGRATIONS[1]] }), { code: 'BONSAI_STORE_BAD_MIGRATIONS' });
  db.close();
});

test('a second writer gets BONSAI_STORE_LOCKED with the holder pid; readers are allowed', () => {
  const t = tempDir();
  try {
    const store = openStore(t.path);
    try {
      assert.equal(readFileSync(`${t.path}.lock`, 'utf8').split(' ')[0], String(process.pid));
      assert.throws(() => openStore(t.path), (e: { code?: string; details?: { pid?: number } }) => e.code === 'BONSAI_STORE_LOCKED' && e.details?.pid === process.pid);
      const reader = openStore(t.path, { readonly: true });
      reader.close();
    } finally {
      store.close();
    }
    assert.equal(existsSync(`${t.path}.lock`), false, 'close removes the lock file');
  } finally {
    t.done();
  }
});

test('a lock held by another live process is respected; a lock of a dead process is taken over', async () => {
  const t = tempDir();
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
  try {
    openStore(t.path).close();
    assert.ok(sleeper.pid);
    writeFileSync(`${t.path}.lock`, `${sleeper.pid}\n`);
    assert.throws(() => openStore(t.path), (e: { code?: string; message?: string; details?: { pid?: number } }) =>
      e.code === 'BONSAI_STORE_LOCKED' && e.details?.pid === sleeper.pid && (e.message ?? '').includes(String(sleeper.pid)));

    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout.trim());
    writeFileSync(`${t.path}.lock`, `${deadPid}\n`);
    const store = openStore(t.path);
    assert.equal(readFileSync(`${t.path}.lock`, 'utf8').split(' ')[0], String(process.pid));
    store.close();

    writeFileSync(`${t.path}.lock`, 'garbage');
    openStore(t.path).close();
  } finally {
    sleeper.kill('SIGKILL');
    t.done();
  }
});
