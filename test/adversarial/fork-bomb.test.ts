/**
 * A fork bomb typed into the terminal: the pids limit stops it, the server and the rest of
 * the session keep answering, and ending the session still removes everything.
 */
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { imagesUnder, loopsUnder } from '../helpers/host-disks.js';
import type { ServerProcess } from '../helpers/server-process.js';
import { engineResources, openTerminal, PROMPT, serverWithSession, type CreatedSession } from '../helpers/session-flow.js';
import { attack } from './row.js';

const PIDS_LIMIT = 128;

describe('a fork bomb', () => {
  let server: ServerProcess;
  let session: CreatedSession;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ server, session, close } = await serverWithSession({ OPSLAB_SANDBOX_PIDS: String(PIDS_LIMIT) }));
  });

  afterAll(async () => {
    await close();
  });

  attack(
    'sandbox',
    `a fork bomb (bomb() { bomb | bomb & }; bomb) under a pids limit of ${PIDS_LIMIT}`,
    'stopped at the limit; the API answers throughout; ending the session removes the sandbox, its volumes and its disks',
    async () => {
      const c = await openTerminal(server, session.id, session.candidateToken);
      await c.waitForText(PROMPT);
      c.type('bomb() { bomb | bomb & }; bomb\r');
      const container = new Docker().getContainer(`opslab-${session.id}-workspace`);
      let peak = 0;
      const slowest: number[] = [];
      for (const until = Date.now() + 6_000; Date.now() < until; ) {
        const t0 = Date.now();
        const health = await server.api('GET', '/api/health');
        const own = await server.api<{ state: string }>('GET', `/api/sessions/${session.id}`);
        slowest.push(Date.now() - t0);
        expect(health.status).toBe(200);
        expect(own.body.state).toBe('ready');
        const stats = (await container.stats({ stream: false })) as { pids_stats?: { current?: number } };
        peak = Math.max(peak, stats.pids_stats?.current ?? 0);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(peak).toBeGreaterThan(PIDS_LIMIT / 2); // the bomb really went off...
      expect(peak).toBeLessThanOrEqual(PIDS_LIMIT); // ...and the limit held
      const slowestMs = Math.max(...slowest);
      expect(slowestMs).toBeLessThan(2_000);
      await c.close();

      // Ending the session still cleans everything up.
      const end = await server.api<{ state: string }>('POST', `/api/sessions/${session.id}/end`);
      expect(end.body.state).toBe('ended');
      expect(await engineResources(session.id)).toEqual([]);
      expect(await imagesUnder(path.join(server.dataDir, 'disks'))).toEqual([]);
      expect(loopsUnder(server.dataDir)).toEqual([]);
      return `peak ${peak} processes (limit ${PIDS_LIMIT}); slowest API round trip ${slowestMs} ms; after the end no container, volume, network, disk image or loop device left`;
    },
    120_000,
  );
});
