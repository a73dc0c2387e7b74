// Loaded into every test file's process of the unit tier (`npm run test:unit`,
// scripts/run-tests.js): starting a child process or listening on a socket
// throws, so a unit test that does either fails and says where it belongs.
// The test runner's own process (which starts one process per test file) is
// left alone: only its children have NODE_TEST_CONTEXT set.
import childProcess from 'node:child_process';
import net from 'node:net';
import { syncBuiltinESMExports } from 'node:module';

/** A function that throws instead of doing `what`. */
function refuse(what) {
  return () => {
    throw new Error(`${what} in the unit tier: a test that starts child processes or servers belongs in FULL_TIER_ONLY (scripts/run-tests.js)`);
  };
}

if (process.env.NODE_TEST_CONTEXT) {
  for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
    childProcess[name] = refuse(`child_process.${name}`);
  }
  net.Server.prototype.listen = refuse('listening on a socket');
  syncBuiltinESMExports();
}
