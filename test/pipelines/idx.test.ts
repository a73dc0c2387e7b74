import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeIdx, parseIdx } from '../../pipelines/datasets/idx.ts';
import { BonsaiError } from '../../core/errors.ts';

function isCode(code: string): (e: unknown) => boolean {
  return (e) => e instanceof BonsaiError && e.code === code;
}

test('parses a hand-built uint8 rank-3 buffer', () => {
  // magic 0x00000803, sizes 2 x 2 x 3 (big-endian), then 12 bytes of data
  const bytes = Uint8Array.from([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]);
  const idx = parseIdx(bytes);
  assert.equal(idx.dtype, 'uint8');
  assert.deepEqual(idx.shape, [2, 2, 3]);
  assert.ok(idx.data instanceof Uint8Array);
  assert.deepEqual(Array.from(idx.data), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]);
});

test('parses a rank-1 label file with a size above 255 (big-endian size)', () => {
  const n = 0x0102; // 258
  const bytes = new Uint8Array(8 + n);
  bytes.set([0, 0, 0x08, 1, 0, 0, 0x01, 0x02]);
  for (let i = 0; i < n; i++) bytes[8 + i] = i % 10;
  const idx = parseIdx(bytes);
  assert.deepEqual(idx.shape, [258]);
  assert.equal(idx.data[257], 257 % 10);
});

test('parses big-endian multi-byte dtypes', () => {
  const int16 = parseIdx(Uint8Array.from([0, 0, 0x0b, 1, 0, 0, 0, 2, 0xff, 0xfe, 0x01, 0x00]));
  assert.equal(int16.dtype, 'int16');
  assert.deepEqual(Array.from(int16.data), [-2, 256]);
  const int32 = parseIdx(Uint8Array.from([0, 0, 0x0c, 1, 0, 0, 0, 1, 0x00, 0x01, 0x00, 0x02]));
  assert.deepEqual(Array.from(int32.data), [65538]);
  // 1.5 as float32 is 0x3fc00000; -2 as float64 is 0xc000000000000000
  const f32 = parseIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0]));
  assert.deepEqual(Array.from(f32.data), [1.5]);
  const f64 = parseIdx(Uint8Array.from([0, 0, 0x0e, 1, 0, 0, 0, 1, 0xc0, 0, 0, 0, 0, 0, 0, 0]));
  assert.deepEqual(Array.from(f64.data), [-2]);
  const i8 = parseIdx(Uint8Array.from([0, 0, 0x09, 1, 0, 0, 0, 2, 0xff, 0x7f]));
  assert.deepEqual(Array.from(i8.data), [-1, 127]);
});

test('parses from a view with a non-zero byte offset', () => {
  const backing = new Uint8Array(3 + 12);
  backing.set([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x00, 0x05, 0x80, 0x00], 3);
  const idx = parseIdx(backing.subarray(3));
  assert.deepEqual(Array.from(idx.data), [5, -32768]);
});

test('encodeIdx round-trips every dtype and matches the hand-built bytes', () => {
  const hand = Uint8Array.from([0, 0, 0x08, 2, 0, 0, 0, 1, 0, 0, 0, 3, 7, 8, 9]);
  assert.deepEqual(encodeIdx({ dtype: 'uint8', shape: [1, 3], data: Uint8Array.from([7, 8, 9]) }), hand);
  const cases = [
    { dtype: 'int8' as const, data: Int8Array.from([-3, 4]) },
    { dtype: 'int16' as const, data: Int16Array.from([-300, 4]) },
    { dtype: 'int32' as const, data: Int32Array.from([-70000, 4]) },
    { dtype: 'float32' as const, data: Float32Array.from([0.25, -4]) },
    { dtype: 'float64' as const, data: Float64Array.from([0.1, -4]) },
  ];
  for (const c of cases) {
    const back = parseIdx(encodeIdx({ dtype: c.dtype, shape: [2], data: c.data }));
    assert.equal(back.dtype, c.dtype);
    assert.deepEqual(Array.from(back.data), Array.from(c.data));
  }
});

test('rejects a bad magic number', () => {
  assert.throws(() => parseIdx(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]), 'x.png'), (e: unknown) => isCode('BONSAI_DATA_IDX_BAD_MAGIC')(e) && (e as Error).message.includes('0x89504e47') && (e as Error).message.includes('x.png'));
});

test('rejects an unknown dtype byte and a bad rank', () => {
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 0x0a, 1, 0, 0, 0, 0])), isCode('BONSAI_DATA_IDX_BAD_DTYPE'));
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 0x08, 0])), isCode('BONSAI_DATA_IDX_BAD_RANK'));
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 0x08, 200])), isCode('BONSAI_DATA_IDX_BAD_RANK'));
});

test('rejects truncated headers and data, with the sizes in the details', () => {
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 0x08])), isCode('BONSAI_DATA_IDX_TRUNCATED'));
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0])), isCode('BONSAI_DATA_IDX_TRUNCATED'));
  const short = Uint8Array.from([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3]);
  assert.throws(() => parseIdx(short, 'imgs'), (e: unknown) => {
    assert.ok(isCode('BONSAI_DATA_IDX_TRUNCATED')(e));
    const err = e as BonsaiError;
    assert.equal(err.details.expected, 16);
    assert.equal(err.details.byteLength, 15);
    assert.deepEqual(err.details.shape, [2, 2]);
    return true;
  });
  // a 2-element int32 array needs 8 data bytes, not 7
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 0x0c, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0])), isCode('BONSAI_DATA_IDX_TRUNCATED'));
});

test('rejects trailing bytes after the declared data', () => {
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 0x08, 1, 0, 0, 0, 2, 1, 2, 3])), (e: unknown) => isCode('BONSAI_DATA_IDX_TRAILING_BYTES')(e) && (e as BonsaiError).details.expected === 10);
});

test('encodeIdx rejects data that does not match the shape', () => {
  assert.throws(() => encodeIdx({ dtype: 'uint8', shape: [2, 2], data: new Uint8Array(3) }), isCode('BONSAI_DATA_IDX_COUNT_MISMATCH'));
});
