/**
 * Helper process of test/daemon/state-lock.test.ts: takes the state lock of
 * argv[2] and prints `locked <pid>`, or prints `refused <code> <pid>` and
 * exits 3. It holds the lock until its stdin closes.
 */
import { BonsaiError } from '../../core/errors.ts';
import { lockStateDir } from '../../daemon/watch/index.ts';

try {
  const lock = lockStateDir(process.argv[2]);
  process.stdout.write(`locked ${process.pid}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    lock.release();
    process.exit(0);
  });
} catch (err) {
  const code = err instanceof BonsaiError ? err.code : String(err);
  const pid = err instanceof BonsaiError ? String(err.details.pid) : '?';
  process.stdout.write(`refused ${code} ${pid}\n`);
  process.exit(3);
}
