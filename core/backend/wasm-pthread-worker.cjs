'use strict';
// The pthread worker of tfjs-backend-wasm's threaded SIMD build, as a file that
// Node's worker_threads can start. tfjs-backend-wasm ships this script only as a
// string and hands it to `new Worker()` as a blob: URL, which Node rejects
// (ERR_WORKER_PATH; tensorflow/tfjs#3830), so in Node it never enables threads.
// The script is evaluated unchanged. Its template literal turned the "\n" escapes
// of its string literals into newlines; they are escaped back first, as
// tfjs-backend-wasm does before making its blob.
const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');
eval(wasmWorkerContents.replace(/\n/g, '\\n'));
