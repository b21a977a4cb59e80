/**
 * Two replicas of the real server on one PostgreSQL and one Docker engine, behind one
 * address (a round-robin TCP balancer, as a Kubernetes Service): either replica serves
 * any request, the candidate types on one while the observer watches on the other, and
 * when the replica holding the shell is SIGKILLed the other takes the session over and
 * the candidate finds the same shell.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoundRobin } from '../helpers/round-robin.js';
import { ServerProcess, requestJson } from '../helpers/server-process.js';
import { createSession, recordingOf, type CreatedSession, waitForState } from '../helpers/session-flow.js';
import { TerminalClient, UpgradeRefused } from '../helpers/terminal-client.js';
import { freshSchema } from '../store/pg-harness.js';

const LEASE_TTL_MS = 4_000;

describe('two replicas behind one address', () => {
  let schema: Awaited<ReturnType<typeof freshSchema>>;
  let a: ServerProcess;
  let b: ServerProcess;
  let lb: RoundRobin;
  let session: CreatedSession;
  let candidate: TerminalClient;

  /** Which replica holds the session's terminal, per the database. */
  async function holderOf(id: string): Promise<string | undefined> {
    const c = new pg.Client({ connectionString: schema.url });
    await c.connect();
    try {
      const r = await c.query<{ replica_id: string }>('SELECT replica_id FROM terminal_leases WHERE session_id = $1', [id]);
      return r.rows[0]?.replica_id;
    } finally {
      await c.end();
    }
  }

  /** A terminal through the balancer, aimed first at replica `index`, the way the web app gets one. */
  async function terminalVia(index: number, token: string): Promise<TerminalClient> {
    // The ticket from the balancer too (any replica answers); a fresh connection each time.
    const t = await requestJson<{ ticket: string }>(`${lb.url}/api/sessions/${session.id}/terminal-ticket`, 'POST', {
      token,
      body: {},
      headers: { connection: 'close' },
    });
    if (t.status !== 200) throw new UpgradeRefused(t.status);
    lb.aimNextAt(index);
    return TerminalClient.connect(`${lb.wsUrl}/api/sessions/${session.id}/terminal?ticket=${t.body.ticket}`);
  }

  beforeAll(async () => {
    schema = await freshSchema();
    const env = {
      OPSLAB_DATABASE_URL: schema.url,
      OPSLAB_LEASE_TTL_MS: String(LEASE_TTL_MS),
      OPSLAB_HEARTBEAT_MS: '1000',
    };
    a = await ServerProcess.start({ ...env, OPSLAB_REPLICA_ID: 'replica-a' });
    b = await ServerProcess.start({ ...env, OPSLAB_REPLICA_ID: 'replica-b' }, { with: a });
    lb = await RoundRobin.start([a.port, b.port]);
  });

  afterAll(async () => {
    await candidate?.close();
    await b?.api('POST', `/api/sessions/${session?.id}/end`).catch(() => undefined);
    await Promise.all([a?.stop(), b?.stop()]);
    await lb?.close();
    await schema?.drop();
  });

  it('serves one session from both: the candidate types through one replica, the observer watches on the other', async () => {
    session = await createSession(a);
    // Any replica answers about any session.
    await waitForState(b, session.id, 'ready');
    expect(await holderOf(session.id)).toBe('replica-a');

    candidate = await terminalVia(1, session.candidateToken); // replica b, which forwards to a
    expect(lb.picks.at(-1)).toBe(1);
    const observer = await terminalVia(0, b.adminToken); // replica a, the holder
    expect(lb.picks.at(-1)).toBe(0);

    candidate.type('export MARK=kept-$((6*7)); echo typed-$((20+3))\r');
    await observer.waitForText('typed-23');
    observer.type('echo observer-$((1+1))\r');
    await observer.waitFor((c) => c.controls.some((m) => m.type === 'error' && m.code === 'READ_ONLY'), 'READ_ONLY');
    candidate.type('echo after-observer\r');
    await candidate.waitForText('after-observer\r\n');
    expect(candidate.plain()).not.toContain('observer-2');
    await observer.close();
  });

  it("keeps the candidate's shell when the replica holding it is killed: the other takes it over", async () => {
    await a.kill('SIGKILL');
    await candidate.waitFor((c) => c.closed !== null, 'the forwarded terminal to close', 10_000);

    // The web app reconnects through the same address until a replica serves the shell.
    const deadline = Date.now() + 30_000;
    let refusals = 0;
    for (;;) {
      try {
        candidate = await terminalVia(0, session.candidateToken); // a is gone: the balancer moves on to b
        break;
      } catch (e) {
        if (!(e instanceof UpgradeRefused) || Date.now() > deadline) throw e;
        refusals++;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    // While a's lease runs (LEASE_TTL_MS) b says the holder does not answer; then it takes over.
    expect(refusals).toBeGreaterThan(0);
    expect(await holderOf(session.id)).toBe('replica-b');

    candidate.type('echo "$MARK"\r');
    await candidate.waitForText('kept-42');
    const after = await b.api<{ state: string }>('GET', `/api/sessions/${session.id}`);
    expect(after.body.state).toBe('ready');

    // One recording across both replicas (shared data directory): before and after the kill.
    await expect.poll(async () => (await recordingOf(b, session.id)).text, { timeout: 10_000 }).toContain('kept-42');
    expect((await recordingOf(b, session.id)).text).toContain('typed-23');
  });
});
