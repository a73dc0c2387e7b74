// Preloaded by test/cli/start-errors.test.ts: SIGUSR2 makes the process throw an error nothing
// catches, as a bug would, once the daemon runs (after the wasm backend installed its handlers).
process.on('SIGUSR2', () => {
  setImmediate(() => {
    throw new Error('a bug nothing caught');
  });
});
