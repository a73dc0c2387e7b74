/**
 * The lifecycle of a model version, as an explicit state machine with one guard.
 *
 * ```
 * staged      -> candidate             publish: models/.staging-* renamed to models/<N>/
 * candidate   -> promoted | rejected   the promotion gate, or an operator
 * promoted    -> retired               another version is promoted
 * promoted    -> rolled-back           rollback() moves CURRENT away from it
 * retired     -> promoted              rollback() back to it, or an operator pins it
 * rolled-back -> promoted              an operator promotes it again, or a later rollback reaches it
 * rejected    -> promoted              an operator overrides the gate
 * ```
 *
 * - `staged`: artifacts being written in `models/.staging-*`; never listed.
 * - `candidate`: published under `models/<N>/`, waiting for the promotion gate.
 * - `promoted`: the champion, named by `models/CURRENT`; exactly one at a time.
 * - `rejected`: failed the gate; kept for inspection, promotable by hand.
 * - `retired`: a former champion replaced by a newer promotion; a rollback target.
 * - `rolled-back`: a former champion that a rollback moved away from.
 *
 * Every state change goes through `assertTransition`, which throws
 * `BONSAI_REGISTRY_BAD_TRANSITION` naming both states.
 */
import { BonsaiError } from '../../core/errors.ts';

/** States of a model version, in lifecycle order. */
export const VERSION_STATES = ['staged', 'candidate', 'promoted', 'rejected', 'retired', 'rolled-back'] as const;

/** One state of a model version. */
export type VersionState = (typeof VERSION_STATES)[number];

/** Allowed moves: from -> the states it may go to. */
export const TRANSITIONS: Readonly<Record<VersionState, readonly VersionState[]>> = Object.freeze({
  staged: ['candidate'],
  candidate: ['promoted', 'rejected'],
  promoted: ['retired', 'rolled-back'],
  // Promoting a rejected version is an explicit operator override (`bonsai models promote V`).
  rejected: ['promoted'],
  retired: ['promoted'],
  'rolled-back': ['promoted'],
});

/** Whether `from -> to` is a legal move. */
export function canTransition(from: VersionState, to: VersionState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The one guard of the lifecycle: throws `BONSAI_REGISTRY_BAD_TRANSITION` unless `from -> to` is allowed. */
export function assertTransition(version: number | null, from: VersionState, to: VersionState): void {
  if (canTransition(from, to)) return;
  const allowed = TRANSITIONS[from];
  throw new BonsaiError('BONSAI_REGISTRY_BAD_TRANSITION',
    `model version ${version ?? '(staged)'} cannot go from ${from} to ${to}; from ${from} it may go to ${allowed.length ? allowed.join(', ') : 'nothing'}`,
    { version, from, to, allowed: [...allowed] });
}
