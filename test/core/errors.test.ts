import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BonsaiError, check } from '../../core/errors.ts';

test('BonsaiError carries code, details and cause', () => {
  const cause = new Error('inner');
  const err = new BonsaiError('BONSAI_CORE_SPARSE_SHAPE', 'bad shape [2, 3]', { shape: [2, 3] }, { cause });
  assert.equal(err.code, 'BONSAI_CORE_SPARSE_SHAPE');
  assert.deepEqual(err.details, { shape: [2, 3] });
  assert.equal(err.cause, cause);
  assert.deepEqual(JSON.parse(JSON.stringify(err)), { code: 'BONSAI_CORE_SPARSE_SHAPE', message: 'bad shape [2, 3]', details: { shape: [2, 3] } });
});

test('check throws only when the condition is false', () => {
  assert.doesNotThrow(() => check(true, 'BONSAI_CORE_ASSERT', 'never'));
  assert.throws(() => check(1 > 2, 'BONSAI_CORE_ASSERT', 'one is not above two', { a: 1, b: 2 }), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_CORE_ASSERT' && e.details.b === 2);
});
