import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BonsaiError } from '../../core/errors.ts';
import { VERSION_STATES, assertTransition, canTransition } from '../../daemon/registry/index.ts';

/** The lifecycle, written out independently of the implementation's table. */
const ALLOWED = new Set([
  'staged>candidate',
  'candidate>promoted', 'candidate>rejected',
  'promoted>retired', 'promoted>rolled-back',
  'retired>promoted', 'rolled-back>promoted', 'rejected>promoted',
]);

test('the transition guard allows exactly the lifecycle and names both states otherwise', () => {
  let refused = 0;
  for (const from of VERSION_STATES) {
    for (const to of VERSION_STATES) {
      const legal = ALLOWED.has(`${from}>${to}`);
      assert.equal(canTransition(from, to), legal, `${from} -> ${to}`);
      if (legal) {
        assert.doesNotThrow(() => assertTransition(3, from, to));
        continue;
      }
      refused++;
      assert.throws(() => assertTransition(3, from, to), (e: unknown) => {
        assert.ok(e instanceof BonsaiError);
        assert.equal(e.code, 'BONSAI_REGISTRY_BAD_TRANSITION');
        assert.deepEqual([e.details.version, e.details.from, e.details.to], [3, from, to]);
        assert.ok(e.message.includes(`from ${from} to ${to}`), e.message);
        return true;
      });
    }
  }
  assert.equal(refused, VERSION_STATES.length ** 2 - ALLOWED.size);
});
