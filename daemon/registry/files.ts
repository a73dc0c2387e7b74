/**
 * Durable file operations of the registry: atomic replacement of a small file
 * (pipelines/atomic-write.ts, whose `fsyncPath` is re-exported here), durable
 * appends, SHA-256 of artifacts, and the process tag that names temporary entries
 * so that leftovers of a dead process can be told from live work.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import { fsyncPath, writeFileAtomic } from '../../pipelines/atomic-write.ts';

export { fsyncPath };

/** Random token of this process: tells a live pid from a reused one (containers restart as pid 1). */
const PROCESS_TOKEN = randomBytes(4).toString('hex');

/** `<pid>-<process token>-<random>`: names temporary entries of this process. */
export function tempTag(): string {
  return `${process.pid}-${PROCESS_TOKEN}-${randomBytes(6).toString('hex')}`;
}

/** Whether a temporary entry named with `tempTag()` may still be in use by a live process. */
export function tagIsLive(tag: string): boolean {
  const m = /^(\d+)-([0-9a-f]+)-/.exec(tag);
  if (!m) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return m[2] === PROCESS_TOKEN;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Replaces `path` with `data` atomically (pipelines/atomic-write.ts), through a temp file named with this process's tag. */
export function writeRegistryFile(path: string, data: string): Promise<void> {
  return writeFileAtomic(path, data, join(dirname(path), `.${basename(path)}.tmp-${tempTag()}`));
}

/** Appends one line durably (O_APPEND, then fsync). */
export async function appendLine(path: string, line: string): Promise<void> {
  const handle = await open(path, 'a');
  try {
    await handle.appendFile(`${line}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Regular files under `root`, as sorted POSIX relative paths, with the
 * directories that hold them. Symbolic links and special files are refused:
 * a model version must be self-contained.
 */
export async function walkFiles(root: string): Promise<{ files: string[]; dirs: string[] }> {
  const files: string[] = [];
  const dirs: string[] = [root];
  const visit = async (dir: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      const abs = join(dir, entry.name);
      if (entry.isDirectory()) {
        dirs.push(abs);
        await visit(abs, rel);
      } else if (entry.isFile()) {
        files.push(rel);
      } else {
        const kind = (await lstat(abs)).isSymbolicLink() ? 'a symbolic link' : 'not a regular file';
        throw new BonsaiError('BONSAI_REGISTRY_BAD_ARTIFACT', `model artifact ${rel} is ${kind}; a version may hold only regular files`, { path: rel, kind });
      }
    }
  };
  await visit(root, '');
  return { files: files.sort(), dirs };
}

/** SHA-256 of a file as lowercase hex, and its size in bytes. */
export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}
