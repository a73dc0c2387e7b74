// Preloaded by test/cli/start-errors.test.ts: the process sends itself $BONSAI_TEST_START_SIGNAL as
// soon as the daemon logs that its first part (the state lock) started, so the signal arrives while
// the next parts are starting (the log level must be debug).
const signal = process.env.BONSAI_TEST_START_SIGNAL;
const write = process.stdout.write.bind(process.stdout);
let sent = false;
process.stdout.write = (chunk, ...rest) => {
  if (!sent && String(chunk).includes('"plugin.started"') && String(chunk).includes('"state-lock"')) {
    sent = true;
    process.kill(process.pid, signal);
  }
  return write(chunk, ...rest);
};
