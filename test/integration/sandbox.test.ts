/**
 * What a candidate finds from inside the sandbox, typed into the terminal as they would:
 * not root, no capabilities, no engine socket, a workspace of the configured size. (The
 * fork bomb is a row of the adversarial suite: test/adversarial/fork-bomb.test.ts.)
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imagesUnder } from '../helpers/host-disks.js';
import type { ServerProcess } from '../helpers/server-process.js';
import { serverWithSession, openTerminal, PROMPT, type CreatedSession } from '../helpers/session-flow.js';

const PIDS_LIMIT = 128;
const DISK_MB = 128;

describe('inside the sandbox', () => {
  let server: ServerProcess;
  let session: CreatedSession;

  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ server, session, close } = await serverWithSession({ OPSLAB_SANDBOX_PIDS: String(PIDS_LIMIT), OPSLAB_SANDBOX_DISK_MB: String(DISK_MB) }));
  });

  afterAll(async () => {
    await close();
  });

  it('the candidate is not root, holds no capabilities, and has no Docker socket', async () => {
    const c = await openTerminal(server, session.id, session.candidateToken);
    await c.waitForText(PROMPT);
    c.type('echo "uid=$(id -u)"; grep -E "^Cap(Eff|Prm|Bnd|Amb)" /proc/$$/status; ls -l /var/run/docker.sock /run/docker.sock 2>&1 | grep -c "No such"; echo checked-$((1+1))\r');
    await c.waitForText('checked-2');
    const out = c.plain();
    const uid = Number(/uid=(\d+)/.exec(out)?.[1]);
    expect(uid).toBeGreaterThan(0);
    for (const cap of ['CapEff', 'CapPrm', 'CapBnd', 'CapAmb']) expect(out).toMatch(new RegExp(`${cap}:\\s+0{16}`));
    expect(out).toMatch(/^2\r?$/m); // both socket paths missing
    await c.close();
  });

  it('gives the workspace a file system of OPSLAB_SANDBOX_DISK_MB, as GET /api/health says', async () => {
    const health = await server.api<{ diskLimit: { enabled: boolean; detail: string } }>('GET', '/api/health');
    expect(health.body.diskLimit.enabled, health.body.diskLimit.detail).toBe(true);
    expect(health.body.diskLimit.detail).toContain(path.join(server.dataDir, 'disks'));
    const c = await openTerminal(server, session.id, session.candidateToken);
    await c.waitForText(PROMPT);
    c.type('df -P -k /workspace | tail -1 | awk \'{print "size=" $2 " on=" $6}\'; echo measured-$((1+1))\r');
    await c.waitForText('measured-2');
    const [, kb, on] = /size=(\d+) on=(\S+)/.exec(c.plain()) ?? [];
    expect(on).toBe('/workspace');
    expect(Number(kb) / 1024).toBeGreaterThan(DISK_MB * 0.85);
    expect(Number(kb) / 1024).toBeLessThanOrEqual(DISK_MB);
    await c.close();
    expect((await imagesUnder(path.join(server.dataDir, 'disks'))).map((f) => path.basename(f))).toEqual([
      `${session.id}.home.img`,
      `${session.id}.workspace.img`,
    ]);
  });
});
