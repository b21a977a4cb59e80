/**
 * A hostile candidate inside the sandbox, through the Docker driver the server uses:
 * kernel escapes (mount, user namespaces, setuid binaries), a memory hog, CPU hogs in
 * two sandboxes while a third stays responsive, and filling every disk it can write.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile, readdir, rm, stat, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { takeSnapshot } from '../../server/checker/snapshot.js';
import type { SandboxRef, SandboxSpec } from '../../server/sandbox/driver.js';
import { DockerDriver, HOME_DISK_MB } from '../../server/sandbox/docker.js';
import { PROMPT, plainText } from '../contract/terminal-reader.js';
import { detachLoopsUnder } from '../helpers/host-disks.js';
import { attack } from './row.js';

const IMAGE = process.env.OPSLAB_BASE_IMAGE ?? 'opslab/base:bookworm';
const MEMORY_MB = 256;
/** Small, so filling it is quick. */
const DISK_MB = 128;
const MB = 1024 * 1024;

function spec(sessionId: string): SandboxSpec {
  return {
    sessionId,
    image: IMAGE,
    network: 'isolated',
    resources: { cpus: 1, memoryMb: MEMORY_MB, pids: 128, diskMb: DISK_MB },
    capAdd: [],
    env: {},
    size: { cols: 120, rows: 40 },
  };
}

describe('a hostile candidate inside the sandbox', () => {
  let driver: DockerDriver;
  /** 0-2: escapes, memory and CPU; 3: the disks. */
  const refs: SandboxRef[] = [];
  const diskDir = mkdtempSync(path.join(tmpdir(), 'opslab-adversarial-disks-'));

  beforeAll(async () => {
    driver = new DockerDriver({ ownerId: `adversarial-${randomUUID()}`, logger: pino({ level: 'warn' }), diskDir });
    await driver.ping();
    // As the server does at start; the disk rows fail with the reason when it is off.
    await driver.applyDiskLimits();
    for (let i = 0; i < 4; i++) refs.push(await driver.create(spec(`adv-${i}-${randomUUID().slice(0, 8)}`)));
  }, 120_000);

  afterAll(async () => {
    await driver?.reap(new Set());
    detachLoopsUnder(diskDir);
    await rm(diskDir, { recursive: true, force: true });
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

  /** Free bytes on the host's file system that holds the disk images. */
  const hostFree = async () => {
    const s = await statfs(diskDir);
    return s.bavail * s.bsize;
  };
  /** Bytes the host really holds for one sandbox's workspace image (it is sparse). */
  const workspaceImageOnHost = async (ref: SandboxRef) => {
    for (const owner of await readdir(diskDir)) {
      const file = path.join(diskDir, owner, `${ref.sessionId}.workspace.img`);
      const s = await stat(file).catch(() => undefined);
      if (s) return { size: s.size, allocated: s.blocks * 512 };
    }
    throw new Error(`no workspace image for ${ref.sessionId} under ${diskDir}`);
  };
  /** Types into the candidate's shell and waits for `until` in what it prints from then on. */
  const typed = async (ref: SandboxRef, line: string, until: RegExp, timeoutMs = 60_000) => {
    const { stream } = await driver.openTty(ref, { cols: 250, rows: 50 });
    const live: Buffer[] = [];
    stream.onData((b) => live.push(Buffer.from(b)));
    try {
      stream.write(`${line}\r`);
      for (const deadline = Date.now() + timeoutMs; ; ) {
        const text = plainText(Buffer.concat(live));
        const match = until.exec(text);
        if (match) return text.slice(0, match.index + match[0].length);
        if (Date.now() > deadline) throw new Error(`terminal: no ${String(until)} within ${timeoutMs} ms: ${JSON.stringify(text.slice(-1000))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      stream.close();
    }
  };
  const requireDiskLimits = () => expect(driver.diskLimit.enabled, `disk limits are off: ${driver.diskLimit.detail}`).toBe(true);

  attack(
    'sandbox',
    `filling the disk: the workspace (head -c 1G /dev/zero > file, then fallocate -l 10G) under a ${DISK_MB} MB limit`,
    'No space left on device at the limit; the shell answers; the grader reads the workspace; the host loses at most the limit',
    async () => {
      requireDiskLimits();
      const ref = refs[3]!;
      await sh(ref, 'echo keep > keep.txt');
      const freeBefore = await hostFree();
      const out = await typed(
        ref,
        'head -c 1G /dev/zero > fill; echo "rc1=$?"; fallocate -l 10G big; echo "rc2=$?"; echo "alive-$((40+2))"',
        /rc1=\d+[\s\S]*rc2=\d+[\s\S]*alive-42/,
      );
      const drop = freeBefore - (await hostFree());
      const [, rc1] = /rc1=(\d+)/.exec(out) ?? [];
      const [, rc2] = /rc2=(\d+)/.exec(out) ?? [];
      expect({ rc1, rc2 }).toEqual({ rc1: '1', rc2: '1' });
      expect(out).toMatch(/No space left on device/);
      const filled = await sh(ref, 'stat -c %s fill; df -P -k /workspace | tail -1');
      const written = Number(filled.stdout.split('\n')[0]);
      expect(written).toBeGreaterThan(DISK_MB * 0.8 * MB);
      expect(written).toBeLessThanOrEqual(DISK_MB * MB);
      // The shell still answers, in a new command too.
      expect(await typed(ref, 'echo "again-$((6*7))"', /again-42/)).toMatch(/again-42$/);
      // The grader still reads the full workspace.
      const graded = await driver.execGrader(ref, ['sh', '-c', 'cat /workspace/keep.txt; stat -c %s /workspace/fill']);
      expect(graded.stdout.split('\n').slice(0, 2)).toEqual(['keep', String(written)]);
      const snap = await takeSnapshot(await driver.archive(ref));
      try {
        expect(await readFile(path.join(snap.dir, 'keep.txt'), 'utf8')).toBe('keep\n');
        expect(snap.skipped.join(' ')).toMatch(/fill/);
      } finally {
        await snap.dispose();
      }
      // The host: the image holds at most its size (plus the host file system's own
      // extent blocks), and free space fell by about that, far from the 1 GB asked for
      // (the margin is for whatever else writes on this host meanwhile: seen up to 100 MB).
      const image = await workspaceImageOnHost(ref);
      expect(image.size).toBe(DISK_MB * MB);
      expect(image.allocated).toBeLessThanOrEqual(DISK_MB * MB + MB);
      expect(drop).toBeLessThanOrEqual(DISK_MB * MB + 256 * MB);
      await sh(ref, 'rm -f fill big');
      return `head and fallocate: No space left on device after ${(written / MB).toFixed(0)} MB; shell and grader answer; the ${DISK_MB} MB image holds ${(image.allocated / MB).toFixed(1)} MB on the host, whose free space fell ${(drop / MB).toFixed(1)} MB`;
    },
    120_000,
  );

  attack(
    'sandbox',
    `filling /tmp and /var/tmp (head -c 1G /dev/zero) under a ${MEMORY_MB} MB memory limit`,
    'No space left on device at a share of the memory limit; the shell answers',
    async () => {
      const ref = refs[3]!;
      const out = await typed(
        ref,
        'for d in /tmp /var/tmp /dev/shm; do head -c 1G /dev/zero > $d/fill; echo "$d rc=$? size=$(stat -c %s $d/fill)"; done; echo "alive-$((40+2))"',
        /\/dev\/shm rc=\d+ size=\d+[\s\S]*alive-42/,
      );
      expect(out).toMatch(/No space left on device/);
      const sizes: Record<string, number> = {};
      for (const m of out.matchAll(/(\/[a-z/]+) rc=(\d+) size=(\d+)/g)) {
        expect(m[2], `${m[1]}: head's exit code`).toBe('1');
        sizes[m[1]!] = Number(m[3]);
      }
      // tmpfs pages count against the container's memory: together well under the limit.
      expect(sizes['/tmp']).toBe((MEMORY_MB / 4) * MB);
      expect(sizes['/var/tmp']).toBe((MEMORY_MB / 8) * MB);
      expect(sizes['/dev/shm']).toBe((MEMORY_MB / 8) * MB);
      expect(await typed(ref, 'echo "again-$((6*7))"', /again-42/)).toMatch(/again-42$/);
      await sh(ref, 'rm -f /tmp/fill /var/tmp/fill /dev/shm/fill');
      return Object.entries(sizes).map(([d, n]) => `${d} full at ${n / MB} MB`).join(', ') + '; shell answers';
    },
    120_000,
  );

  attack(
    'sandbox',
    `filling the home directory (head -c 1G /dev/zero > ~/fill), then exiting the shell`,
    `No space left on device under ${HOME_DISK_MB} MB; a new login shell starts with its dotfiles`,
    async () => {
      requireDiskLimits();
      const ref = refs[3]!;
      const out = await typed(ref, 'head -c 1G /dev/zero > ~/fill; echo "rc=$? size=$(stat -c %s ~/fill)"', /rc=\d+ size=\d+/);
      expect(out).toMatch(/rc=1 /);
      const size = Number(/size=(\d+)/.exec(out)?.[1]);
      expect(size).toBeGreaterThan(HOME_DISK_MB * 0.8 * MB);
      expect(size).toBeLessThanOrEqual(HOME_DISK_MB * MB);
      // `exit` brings a new login shell; its prompt comes back with the home still full.
      const next = await typed(ref, 'exit', /starting a new one[\s\S]*candidate@opslab:[^\n]*?\$ /);
      expect(next).toMatch(PROMPT);
      const home = await sh(ref, 'ls -A ~; touch ~/x 2>&1; echo rc=$?');
      expect(home.stdout).toMatch(/\.bashrc/);
      expect(home.stdout).toMatch(/No space left on device|rc=0/);
      await sh(ref, 'rm -f ~/fill ~/x');
      return `No space left on device after ${(size / MB).toFixed(0)} MB; a new login shell came up`;
    },
    120_000,
  );

  attack(
    'sandbox',
    'every directory and file uid 1000 can write (find / -writable) is on a size-limited file system',
    'only the workspace and home disks, tmpfs and mqueue; nothing on the container root, even where a lab opens directories to all (/run, /var/log)',
    async () => {
      requireDiskLimits();
      const ref = refs[3]!;
      // As incident-model-service's setup does for its service's state and log.
      await driver.exec(ref, ['install', '-d', '-m', '1777', '/run/svc', '/var/log/svc'], { user: 'root', timeoutMs: 10_000 });
      // Every writable directory and regular file, and the mount each one is on.
      const found = await sh(
        ref,
        'find / \\( -path /proc -o -path /sys \\) -prune -o \\( -type d -o -type f \\) -writable -print0 2>/dev/null | xargs -0 stat -c "%m %n"',
        60_000,
      );
      const mounts = new Map<string, string[]>();
      for (const line of found.stdout.trim().split('\n')) {
        const [mount = '', ...name] = line.split(' ');
        mounts.set(mount, [...(mounts.get(mount) ?? []), name.join(' ')]);
      }
      // Not vacuous: the places a candidate is meant to write are found.
      expect([...mounts.keys()]).toEqual(expect.arrayContaining(['/workspace', '/home/candidate', '/tmp', '/var/tmp', '/run', '/var/log']));
      expect(mounts.get('/'), 'writable on the container root (overlay, no limit)').toBeUndefined();
      const described: string[] = [];
      for (const mount of [...mounts.keys()].sort()) {
        const r = await sh(ref, `printf '%s %s ' "$(stat -f -c %T ${mount})" "$(df -P -k ${mount} | tail -1 | tr -s ' ' | cut -d' ' -f2)"; ulimit -q`);
        const [type = '', kb = '', msgqueue = ''] = r.stdout.trim().split(' ');
        const mb = Number(kb) / 1024;
        if (type === 'mqueue') {
          // POSIX message queues: no size, but a per-user byte limit (RLIMIT_MSGQUEUE).
          expect(msgqueue).toMatch(/^\d+$/);
        } else if (type === 'tmpfs') {
          expect(mb, `${mount}: tmpfs size`).toBeGreaterThan(0);
          expect(mb, `${mount}: tmpfs size`).toBeLessThanOrEqual(MEMORY_MB / 4);
        } else {
          expect(type, `${mount}: file system type`).toBe('ext2/ext3');
          expect(mb, `${mount}: size`).toBeLessThanOrEqual(Math.max(DISK_MB, HOME_DISK_MB));
        }
        described.push(`${mount} ${type} ${type === 'mqueue' ? `ulimit -q ${msgqueue}` : `${mb.toFixed(0)} MB`}`);
      }
      return described.join(', ');
    },
    120_000,
  );
});
