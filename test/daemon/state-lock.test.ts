/**
 * The state directory's lock in a container: under tini or any PID namespace
 * node gets the same pid on every start, so a lock left by a SIGKILL names a
 * pid that is "alive" (the new daemon itself). The restart must take it over,
 * and a daemon that really runs must still be refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { lockStateDir, STATE_LOCK_FILE } from '../../daemon/watch/index.ts';

const HOLDER = join(import.meta.dirname, 'state-lock-holder.ts');
const canUnshare = process.platform === 'linux' && spawnSync('unshare', ['-p', '-f', '--mount-proc', 'true']).status === 0;

/** Starts the holder (in a new PID namespace when `namespaced`) and resolves with it and its first line. */
async function startHolder(stateDir: string, namespaced: boolean): Promise<{ child: ChildProcess; line: string }> {
  const node = [process.execPath, '--import', 'tsx', HOLDER, stateDir];
  const [cmd, ...args] = namespaced ? ['unshare', '-p', '-f', '--mount-proc', ...node] : node;
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.setEncoding('utf8');
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.on('exit', (code) => reject(new Error(`holder exited with ${code} before answering: ${out}`)));
  });
  return { child, line };
}

/** The host pid of the only child of `pid` (node inside the namespace `unshare -f` made). */
function childOf(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  assert.equal(children.length, 1, `unshare ${pid} has children ${children.join(', ')}`);
  return children[0];
}

test('a SIGKILLed daemon in a PID namespace leaves a lock the next start in a namespace takes over', { skip: canUnshare ? false : 'needs unshare -p (root, Linux)' }, async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'bonsai-lock-ns-'));
  try {
    const first = await startHolder(stateDir, true);
    assert.equal(first.line, 'locked 1', 'node is pid 1 in its namespace');
    const exited = once(first.child, 'exit');
    process.kill(childOf(first.child.pid as number), 'SIGKILL');
    await exited;
    assert.ok(existsSync(join(stateDir, STATE_LOCK_FILE)), 'SIGKILL leaves the lock file');
    assert.equal(Number.parseInt(readFileSync(join(stateDir, STATE_LOCK_FILE), 'utf8'), 10), 1);

    const restart = await startHolder(stateDir, true);
    assert.equal(restart.line, 'locked 1', 'the restart takes the stale lock over');
    const done = once(restart.child, 'exit');
    restart.child.stdin?.end();
    assert.deepEqual(await done, [0, null]);
    assert.ok(!existsSync(join(stateDir, STATE_LOCK_FILE)), 'a clean stop removes the lock');
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('a live daemon in one PID namespace keeps its lock against a daemon in another (two containers on one volume)', { skip: canUnshare ? false : 'needs unshare -p (root, Linux)' }, async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'bonsai-lock-2ns-'));
  try {
    const owner = await startHolder(stateDir, true);
    assert.equal(owner.line, 'locked 1');
    const lockBefore = readFileSync(join(stateDir, STATE_LOCK_FILE), 'utf8');
    // Both are pid 1 in their namespaces: the pid in the lock file names the second itself.
    const second = await startHolder(stateDir, true).catch((err: Error) => ({ line: err.message, child: null }));
    assert.match(second.line, /refused BONSAI_DAEMON_STATE_LOCKED/);
    assert.equal(readFileSync(join(stateDir, STATE_LOCK_FILE), 'utf8'), lockBefore, 'the owner\'s lock file is left as it was');
    const done = once(owner.child, 'exit');
    owner.child.stdin?.end();
    await done;
    // Once the owner stopped, a daemon in another namespace takes the directory.
    const next = await startHolder(stateDir, true);
    assert.equal(next.line, 'locked 1');
    const nextDone = once(next.child, 'exit');
    next.child.stdin?.end();
    await nextDone;
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('a live daemon keeps its lock: another process and this one are refused with its pid', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'bonsai-lock-live-'));
  try {
    const owner = await startHolder(stateDir, false);
    assert.equal(owner.line, `locked ${owner.child.pid}`);
    const second = await startHolder(stateDir, false).catch((err: Error) => ({ line: err.message, child: null }));
    assert.match(second.line, new RegExp(`refused BONSAI_DAEMON_STATE_LOCKED ${owner.child.pid}`));
    assert.throws(() => lockStateDir(stateDir), (e: { code?: string; details?: { pid?: number } }) =>
      e.code === 'BONSAI_DAEMON_STATE_LOCKED' && e.details?.pid === owner.child.pid);
    const done = once(owner.child, 'exit');
    owner.child.stdin?.end();
    await done;
    lockStateDir(stateDir).release();
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('a state directory that is a file, or under one, is refused with BONSAI_DAEMON_STATE_DIR_INVALID and the path', () => {
  const root = mkdtempSync(join(tmpdir(), 'bonsai-state-file-'));
  try {
    const file = join(root, 'state');
    writeFileSync(file, 'not a folder');
    for (const path of [file, join(file, 'below')]) {
      assert.throws(() => lockStateDir(path), (e: { code?: string; details?: { stateDir?: string }; message: string }) =>
        e.code === 'BONSAI_DAEMON_STATE_DIR_INVALID' && e.details?.stateDir === path && /is a file/.test(e.message));
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
