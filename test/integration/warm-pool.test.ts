/**
 * Warm pools on the real server and engine: sandboxes wait with their setup done, a new
 * session takes one and is ready in the answer to its creation, each serves one
 * candidate, the pool refills, and nothing is left behind when the server stops.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerProcess } from '../helpers/server-process.js';
import { openTerminal, PROMPT } from '../helpers/session-flow.js';

interface PoolStatus {
  size: number;
  warm: number;
  preparing: number;
  lastError?: string;
}

const POOL = 2;

describe('a warm pool', () => {
  let server: ServerProcess;
  const docker = new Docker();
  const created: string[] = [];

  async function pools(): Promise<Record<string, PoolStatus>> {
    return (await server.api<{ pools: Record<string, PoolStatus> }>('GET', '/api/health')).body.pools;
  }

  async function waitForWarm(n: number): Promise<void> {
    for (const deadline = Date.now() + 60_000; ; ) {
      const hello = (await pools()).hello;
      if (hello && hello.warm >= n) return;
      if (Date.now() > deadline) throw new Error(`the pool did not reach ${n} warm: ${JSON.stringify(hello)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** This server's installation id (other suites' servers share the engine). */
  let owner = '';

  /** Workspace containers of this server, by session id. */
  async function workspaces(): Promise<string[]> {
    const all = await docker.listContainers({ all: true, filters: { label: ['opslab.role=workspace', `opslab.owner=${owner}`] } });
    return all.map((c) => c.Labels['opslab.session'] ?? '').filter((id) => id !== '');
  }

  beforeAll(async () => {
    server = await ServerProcess.start({ OPSLAB_POOLS: 'hello=2' });
    // The owner label of this server's sandboxes: its installation id, in its own database.
    const db = new Database(path.join(server.dataDir, 'opslab.db'), { readonly: true });
    try {
      owner = (db.prepare("SELECT value FROM meta WHERE key = 'installation_id'").get() as { value: string }).value;
    } finally {
      db.close();
    }
  });

  afterAll(async () => {
    for (const id of created) await server?.api('POST', `/api/sessions/${id}/end`).catch(() => undefined);
    await server?.stop();
  });

  it('fills up, and a new session takes a warm sandbox: ready in the answer, under the candidate’s name', async () => {
    await waitForWarm(POOL);
    expect((await pools()).hello).toEqual({ size: POOL, warm: POOL, preparing: 0 });
    const before = await workspaces();

    const r = await server.api<{ id: string; state: string; readyAt: string | null; candidateToken: string }>('POST', '/api/sessions', {
      body: { lab: 'hello', candidate: { name: 'Grace Hopper' } },
    });
    expect(r.status).toBe(201);
    created.push(r.body.id);
    expect(r.body.state).toBe('ready');
    expect(r.body.readyAt).not.toBeNull();
    // It is one of the sandboxes that were waiting: no new container was made for it.
    expect(before).toContain(r.body.id);

    const term = await openTerminal(server, r.body.id, r.body.candidateToken);
    await term.waitForText(PROMPT);
    term.type('echo hi > greeting.txt && git add greeting.txt && git commit -qm "Say hi" && git log -1 --format="by=%an" && git log --format=%s | tail -1\r');
    await term.waitForText('by=Grace Hopper');
    await term.waitForText('Start of the exercise');
    await term.close();

    // The pool refills to its size behind the claim.
    await waitForWarm(POOL);
    const after = await workspaces();
    expect(after.filter((id) => !before.includes(id))).toHaveLength(1);
  });

  it('gives each session its own sandbox, never one used before', async () => {
    const ids: string[] = [];
    for (let i = 0; i < POOL + 1; i++) {
      const r = await server.api<{ id: string; state: string }>('POST', '/api/sessions', { body: { lab: 'hello', candidate: { name: `C${i}` } } });
      expect(r.status).toBe(201);
      created.push(r.body.id);
      ids.push(r.body.id);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.some((id) => created.indexOf(id) !== created.lastIndexOf(id))).toBe(false);
    // An ended session's sandbox is removed, not returned to the pool.
    const ended = ids[0]!;
    expect((await server.api('POST', `/api/sessions/${ended}/end`)).status).toBe(200);
    await waitForWarm(POOL);
    expect(await workspaces()).not.toContain(ended);
  });

  it('removes its warm sandboxes when the server stops', async () => {
    await waitForWarm(POOL);
    const warm = (await workspaces()).filter((id) => !created.includes(id));
    expect(warm).toHaveLength(POOL);
    await server.stop();
    const left = await workspaces();
    expect(left.filter((id) => warm.includes(id))).toEqual([]);
    await server.spawn(); // the same data dir and installation: afterAll ends the sessions through it
  });
});
