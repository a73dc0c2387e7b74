// Preloaded by test/cli/start-errors.test.ts: os.networkInterfaces fails as it does where
// AF_NETLINK is not allowed (a systemd unit's RestrictAddressFamilies without it).
import os from 'node:os';
import { syncBuiltinESMExports } from 'node:module';

os.networkInterfaces = () => {
  const err = new Error('A system error occurred: uv_interface_addresses returned Unknown system error 97');
  err.code = 'ERR_SYSTEM_ERROR';
  throw err;
};
syncBuiltinESMExports();
