/**
 * A hostile candidate inside the sandbox, through the Docker driver the server uses:
 * kernel escapes (mount, user namespaces, setuid binaries), a memory hog, and CPU hogs in
 * two sandboxes while a third stays responsive.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { SandboxRef, SandboxSpec } from '../../server/sandbox/driver.js';
import { DockerDriver } from '../../server/sandbox/docker.js';
import { attack } from './row.js';

const IMAGE = process.env.OPSLAB_BASE_IMAGE ?? 'opslab/base:bookworm';
const MEMORY_MB = 256;

function spec(sessionId: string): SandboxSpec {
  return {
    sessionId,
    image: IMAGE,
    network: 'isolated',
    resources: { cpus: 1, memoryMb: MEMORY_MB, pids: 128 },
    capAdd: [],
    env: {},
    size: { cols: 120, rows: 40 },
  };
}

describe('a hostile candidate inside the sandbox', () => {
  let driver: DockerDriver;
  const refs: SandboxRef[] = [];

  beforeAll(async () => {
    driver = new DockerDriver({ ownerId: `adversarial-${randomUUID()}`, logger: pino({ level: 'warn' }) });
    await driver.ping();
    for (let i = 0; i < 3; i++) refs.push(await driver.create(spec(`adv-${i}-${randomUUID().slice(0, 8)}`)));
  }, 120_000);

  afterAll(async () => {
    await driver?.reap(new Set());
  });

  const sh = (ref: SandboxRef, script: string, timeoutMs = 30_000) => driver.exec(ref, ['bash', '-c', script], { timeoutMs });

  attack('sandbox', 'mount a filesystem (mount -t tmpfs, mount --bind /)', 'refused', async () => {
    const r = await sh(refs[0]!, 'mount -t tmpfs x /tmp 2>&1; echo rc=$?; mount --bind / /tmp 2>&1; echo rc=$?');
    expect(r.stdout).not.toMatch(/rc=0/);
    return r.stdout.split('\n').filter((l) => /superuser|denied|rc=/.test(l)).join('; ');
  });

  attack('sandbox', 'unshare into a user namespace to become root there (unshare -r, unshare -U)', 'refused', async () => {
    const r = await sh(refs[0]!, 'unshare -r id -u 2>&1; echo rc=$?; unshare -U -m true 2>&1; echo rc=$?');
    expect(r.stdout).not.toMatch(/rc=0/);
    expect(r.stdout).toMatch(/Operation not permitted/);
    return r.stdout.trim().split('\n').slice(0, 2).join('; ');
  });

  attack('sandbox', 'setuid escalation: su, every setuid binary on the image, a setuid copy of bash', 'still uid 1000', async () => {
    const r = await sh(
      refs[0]!,
      [
        'echo | su -c "id -u" root 2>&1 | tail -1',
        // Each setuid-root binary, run for what it prints about who we are.
        'for b in $(find / -xdev -perm -4000 -type f 2>/dev/null); do echo "setuid: $b"; done',
        'newgrp root </dev/null 2>&1 | tail -1',
        'cp /bin/bash /tmp/rootbash && chmod u+s /tmp/rootbash && /tmp/rootbash -p -c "echo euid=$(id -u)"',
        'grep NoNewPrivs /proc/self/status',
      ].join('; '),
    );
    expect(r.stdout).not.toMatch(/^0$/m);
    expect(r.stdout).toMatch(/euid=1000/);
    expect(r.stdout).toMatch(/NoNewPrivs:\s+1/);
    const setuid = (r.stdout.match(/^setuid: /gm) ?? []).length;
    return `su refused; ${setuid} setuid binaries present but no-new-privileges holds; setuid bash copy runs as 1000`;
  });

  attack('sandbox', `a memory hog (reads 2 GB into memory under a ${MEMORY_MB} MB limit)`, 'the hog is killed; the sandbox answers', async () => {
    // A bash that keeps 2 GB of "a" in a variable: it must be killed, not the sandbox.
    const r = await sh(refs[1]!, `bash -c 'x=$(head -c 2G /dev/zero | tr "\\0" a); echo \${#x}'; echo rc=$?`, 60_000);
    expect(r.stdout).toMatch(/rc=137/); // SIGKILL from the OOM killer
    const after = await sh(refs[1]!, 'echo alive');
    expect(after.stdout.trim()).toBe('alive');
    return `hog exit 137 (OOM-killed); sandbox answers`;
  });

  attack('sandbox', 'CPU hogs (4 busy loops) in two sandboxes while a third is used', 'the third answers promptly', async () => {
    const probe = async () => {
      const times: number[] = [];
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        const r = await sh(refs[2]!, 'echo ok');
        expect(r.stdout.trim()).toBe('ok');
        times.push(performance.now() - t0);
      }
      return times.sort((a, b) => a - b)[5] ?? 0;
    };
    const before = await probe();
    const hogs = refs.slice(0, 2).map((ref) => sh(ref, 'for i in 1 2 3 4; do (while :; do :; done) & done; sleep 20; kill $(jobs -p)', 40_000));
    await new Promise((r) => setTimeout(r, 2_000));
    const during = await probe();
    await Promise.all(hogs);
    // Each hog is held to cpus: 1 of the machine, so the third sandbox keeps a share.
    expect(during).toBeLessThan(Math.max(1_500, before * 10));
    return `exec round trip median ${before.toFixed(0)} ms idle, ${during.toFixed(0)} ms under the hogs`;
  }, 90_000);
});
