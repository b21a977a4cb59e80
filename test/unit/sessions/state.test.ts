import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canTransition, isLive, SESSION_STATES, sourcesOf, type SessionState } from '../../../server/sessions/state.js';
import { addSession, addUser, testStore, type TestStore } from '../store/fixtures.js';

/** How far along a state is: a move must always go to a higher rank. */
const RANK: Record<SessionState, number> = { starting: 0, ready: 1, ended: 2, failed: 2, expired: 2 };
const TERMINAL: SessionState[] = ['ended', 'failed', 'expired'];

const pairs = SESSION_STATES.flatMap((from) => SESSION_STATES.map((to) => [from, to] as const));

describe('the session state machine', () => {
  it('allows exactly the forward moves', () => {
    const allowed = pairs.filter(([from, to]) => canTransition(from, to)).map(([from, to]) => `${from}→${to}`);
    expect(allowed.sort()).toEqual(
      ['starting→ready', 'starting→failed', 'starting→ended', 'starting→expired', 'ready→ended', 'ready→failed', 'ready→expired'].sort(),
    );
  });

  it.each(pairs.filter(([from, to]) => RANK[to] <= RANK[from]))('never moves backwards or stays put: %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
  });

  it.each(TERMINAL)('%s is final: it goes nowhere and is not live', (state) => {
    expect(SESSION_STATES.filter((to) => canTransition(state, to))).toEqual([]);
    expect(isLive(state)).toBe(false);
  });

  it('counts starting and ready as live', () => {
    expect(SESSION_STATES.filter(isLive)).toEqual(['starting', 'ready']);
  });

  it('sourcesOf lists the states a move may come from, and nothing leads back to starting', () => {
    expect(sourcesOf('starting')).toEqual([]);
    expect(sourcesOf('ready')).toEqual(['starting']);
    for (const to of TERMINAL) expect(sourcesOf(to)).toEqual(['starting', 'ready']);
    for (const to of SESSION_STATES) expect(sourcesOf(to)).toEqual(SESSION_STATES.filter((from) => canTransition(from, to)));
  });
});

describe('the store applies the machine', () => {
  let t: TestStore;
  beforeEach(() => {
    t = testStore();
  });
  afterEach(() => t.close());

  it('a finished session cannot be brought back, and only the first of two racing moves wins', async () => {
    const { user } = await addUser(t.store, 'alice');
    const { session } = await addSession(t.store, user.id);
    expect((await t.store.sessions.transition(session.id, sourcesOf('ended'), 'ended'))?.state).toBe('ended');
    // A late "ready" (provisioning finishing) and a second finisher both lose.
    expect(await t.store.sessions.transition(session.id, sourcesOf('ready'), 'ready')).toBeNull();
    expect(await t.store.sessions.transition(session.id, sourcesOf('expired'), 'expired')).toBeNull();
    expect((await t.store.sessions.get(session.id))?.state).toBe('ended');
  });
});
