/**
 * The driver contract against the real Docker engine (the README's test command starts
 * one), plus what only an isolating driver promises: the candidate is not root, has no
 * capabilities and no engine socket, the grader sees the workspace read-only, the
 * pids limit stops a fork bomb, a snapshot gets past a 1 GiB file and a link out, and
 * the workspace and home are disks of their own that leave nothing behind on the host.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import Docker from 'dockerode';
import { mkdtempSync } from 'node:fs';
import { lstat, readFile, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { takeSnapshot } from '../../server/checker/snapshot.js';
import { AppError } from '../../server/errors.js';
import type { SandboxSpec } from '../../server/sandbox/driver.js';
import { DockerDriver } from '../../server/sandbox/docker.js';
import { detachLoopsUnder, loopsUnder } from '../helpers/host-disks.js';
import { describeDriverContract } from './driver-contract.js';

const IMAGE = process.env.OPSLAB_BASE_IMAGE ?? 'opslab/base:bookworm';
const logger = pino({ level: 'warn' });
const DISK_MB = 256;
/** Where these drivers keep disk images (one folder per owner id inside). */
const DISK_DIR = mkdtempSync(path.join(tmpdir(), 'opslab-contract-disks-'));

function dockerSpec(sessionId: string): SandboxSpec {
  return {
    sessionId,
    image: IMAGE,
    network: 'isolated',
    resources: { cpus: 1, memoryMb: 512, pids: 128, diskMb: DISK_MB },
    capAdd: [],
    env: {},
    size: { cols: 120, rows: 40 },
  };
}

async function engineDriver(ownerId: string): Promise<DockerDriver> {
  const driver = new DockerDriver({ ownerId, logger, diskDir: DISK_DIR });
  await driver.ping(); // fails loudly: these tests need the engine the test command starts
  if (!(await driver.imageExists(IMAGE))) throw new Error(`image ${IMAGE} is missing: run bash scripts/setup/all.sh`);
  // As the server does; when they cannot be on here, the disk tests below fail with the reason.
  await driver.applyDiskLimits();
  return driver;
}

/** The images of one owner's sandboxes, and the loop devices backed by anything in that folder. */
async function hostDisks(ownerId: string): Promise<{ images: string[]; loops: string[] }> {
  const dir = path.join(DISK_DIR, ownerId);
  // Dot files are the per-size templates the images are copied from.
  const images = (await readdir(dir).catch(() => [] as string[])).filter((f) => !f.startsWith('.')).sort();
  return { images, loops: loopsUnder(dir) };
}

afterAll(async () => {
  detachLoopsUnder(DISK_DIR);
  await rm(DISK_DIR, { recursive: true, force: true });
});

describeDriverContract('docker', async () => {
  const driver = await engineDriver(`contract-${randomUUID()}`);
  return { driver, spec: dockerSpec, teardown: async () => void (await driver.reap(new Set())) };
});

describe('Docker sandbox disks', () => {
  const ownerId = `disks-${randomUUID()}`;
  let driver: DockerDriver;
  const docker = new Docker();
  const refOf = (sessionId: string) => ({ sessionId, driver: 'docker' as const, id: `opslab-${sessionId}-workspace` });

  beforeAll(async () => {
    driver = await engineDriver(ownerId);
  });

  afterAll(async () => {
    await driver.reap(new Set());
    expect(await hostDisks(ownerId)).toEqual({ images: [], loops: [] });
  });

  it('are on: GET /api/health would say enabled', () => {
    expect(driver.diskLimit.enabled, driver.diskLimit.detail).toBe(true);
  });

  it('gives the workspace and the home file systems of their own, and /tmp, /var/tmp, /dev/shm bounded tmpfs', async () => {
    const sessionId = `disk-${randomUUID().slice(0, 8)}`;
    await driver.create(dockerSpec(sessionId));
    const r = await driver.exec(refOf(sessionId), [
      'sh',
      '-c',
      'for d in /workspace /home/candidate /tmp /var/tmp /dev/shm; do echo "$d $(stat -f -c %T $d) $(df -P -k $d | tail -1 | tr -s " " | cut -d" " -f2,6)"; done; ' +
        'ls -A /workspace | wc -l; stat -c "%U %a" /workspace /home/candidate /tmp; ls -A /home/candidate | tr "\\n" " "',
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const fs = new Map(lines.slice(0, 5).map((l) => { const [dir, type, kb, mountedOn] = l.split(' '); return [dir, { type, mb: Number(kb) / 1024, mountedOn }]; }));
    // ext4 shows as ext2/ext3 to stat -f; each is its own mount, its size the limit less ext4's metadata.
    expect(fs.get('/workspace')).toMatchObject({ type: 'ext2/ext3', mountedOn: '/workspace' });
    expect(fs.get('/workspace')!.mb).toBeGreaterThan(DISK_MB * 0.85);
    expect(fs.get('/workspace')!.mb).toBeLessThanOrEqual(DISK_MB);
    expect(fs.get('/home/candidate')).toMatchObject({ type: 'ext2/ext3', mountedOn: '/home/candidate' });
    expect(fs.get('/home/candidate')!.mb).toBeLessThanOrEqual(256);
    // tmpfs: shares of the 512 MB memory limit.
    expect(fs.get('/tmp')).toEqual({ type: 'tmpfs', mb: 128, mountedOn: '/tmp' });
    expect(fs.get('/var/tmp')).toEqual({ type: 'tmpfs', mb: 64, mountedOn: '/var/tmp' });
    expect(fs.get('/dev/shm')).toEqual({ type: 'tmpfs', mb: 64, mountedOn: '/dev/shm' });
    // An empty workspace (no lost+found); the candidate owns it and the home, which holds the image's dotfiles.
    expect(lines[5]).toBe('0');
    expect(lines.slice(6, 9)).toEqual(['candidate 755', 'candidate 755', 'root 1777']);
    expect(lines[9]).toContain('.bashrc');
    expect(lines[9]).toContain('.profile');

    const before = await hostDisks(ownerId);
    expect(before.images).toEqual([`${sessionId}.home.img`, `${sessionId}.workspace.img`]);
    expect(before.loops).toHaveLength(2);
    await driver.destroy(refOf(sessionId));
    await driver.destroy(refOf(sessionId));
    expect(await hostDisks(ownerId)).toEqual({ images: [], loops: [] });
  });

  it('leaves nothing behind when a create fails halfway (a missing image)', async () => {
    const sessionId = `disk-${randomUUID().slice(0, 8)}`;
    const error = await driver.create({ ...dockerSpec(sessionId), image: 'opslab/no-such-image:missing' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AppError);
    expect(await hostDisks(ownerId)).toEqual({ images: [], loops: [] });
    const volumes = await docker.listVolumes({ filters: { label: [`opslab.session=${sessionId}`] } });
    expect(volumes.Volumes ?? []).toEqual([]);
  });

  it('reaps disks a dead server left without engine resources: old images, and loop devices of deleted images', async () => {
    // Two sandboxes whose engine resources vanish behind the driver's back, as if the
    // server had died between making the disks and the volumes.
    const orphaned: string[] = [];
    for (let i = 0; i < 2; i++) {
      const sessionId = `disk-${randomUUID().slice(0, 8)}`;
      await driver.create(dockerSpec(sessionId));
      for (const c of ['grader', 'workspace']) await docker.getContainer(`opslab-${sessionId}-${c}`).remove({ force: true });
      for (const v of ['workspace', 'home', 'tty']) await docker.getVolume(`opslab-${sessionId}-${v}`).remove();
      for (const n of await docker.listNetworks({ filters: { label: [`opslab.session=${sessionId}`] } })) await docker.getNetwork(n.Id).remove();
      orphaned.push(sessionId);
    }
    const [recent, old] = orphaned as [string, string];
    const dir = path.join(DISK_DIR, ownerId);
    // `old`'s images are from well before; `recent`'s were just made (a create may still be under way) ...
    const longAgo = new Date(Date.now() - 10 * 60_000);
    for (const d of ['workspace', 'home']) await utimes(path.join(dir, `${old}.${d}.img`), longAgo, longAgo);
    // ... except that its home image was deleted while still attached.
    await rm(path.join(dir, `${recent}.home.img`));

    const removed = await driver.reap(new Set());
    expect(removed).toContain(old);
    expect(removed).not.toContain(recent);
    const left = await hostDisks(ownerId);
    expect(left.images).toEqual([`${recent}.workspace.img`]);
    expect(left.loops).toEqual([expect.stringMatching(new RegExp(`${recent}\\.workspace\\.img$`))]);

    // Live sessions are never touched, however old their images.
    await utimes(path.join(dir, `${recent}.workspace.img`), longAgo, longAgo);
    expect(await driver.reap(new Set([recent]))).toEqual([]);
    expect((await hostDisks(ownerId)).images).toEqual([`${recent}.workspace.img`]);
    expect(await driver.reap(new Set())).toEqual([recent]);
    expect(await hostDisks(ownerId)).toEqual({ images: [], loops: [] });
  });
});

describe('Docker sandbox hardening', () => {
  let driver: DockerDriver;
  const sessionId = `hard-${randomUUID().slice(0, 8)}`;
  const ref = { sessionId, driver: 'docker' as const, id: `opslab-${sessionId}-workspace` };

  beforeAll(async () => {
    driver = await engineDriver(`hardening-${randomUUID()}`);
    await driver.create(dockerSpec(sessionId));
  });

  afterAll(async () => {
    await driver.reap(new Set());
  });

  it('runs the candidate as a non-root user with no capabilities at all', async () => {
    const r = await driver.exec(ref, ['sh', '-c', 'id -u; grep -E "^Cap(Eff|Prm|Amb)" /proc/self/status']);
    const [uid, ...caps] = r.stdout.trim().split('\n');
    expect(Number(uid)).toBe(1000);
    for (const line of caps) expect(line).toMatch(/:\s+0+$/);
  });

  it("gives the candidate's interactive shell an empty bounding set too", async () => {
    const { stream } = await driver.openTty(ref, { cols: 120, rows: 40 });
    let out = '';
    stream.onData((b) => (out += b.toString('utf8')));
    stream.write('grep -E "^Cap(Eff|Bnd)" /proc/$$/status; echo done-$((40+2))\r');
    const deadline = Date.now() + 10_000;
    while (!out.includes('done-42') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    stream.close();
    expect(out).toMatch(/CapEff:\s+0000000000000000/);
    expect(out).toMatch(/CapBnd:\s+0000000000000000/);
  });

  it('has no Docker socket and no way to become root', async () => {
    const r = await driver.exec(ref, [
      'sh',
      '-c',
      'ls /var/run/docker.sock /run/docker.sock 2>/dev/null | wc -l; grep NoNewPrivs /proc/self/status; su -c id root </dev/null 2>&1; echo su=$?',
    ]);
    expect(r.stdout).toMatch(/^0\n/);
    expect(r.stdout).toMatch(/NoNewPrivs:\s+1/);
    expect(r.stdout).toMatch(/su=[1-9]/);
  });

  it('shows the grader the workspace read-only', async () => {
    await driver.exec(ref, ['sh', '-c', 'echo from-candidate > note.txt']);
    const r = await driver.execGrader(ref, ['sh', '-c', 'cat /workspace/note.txt; touch /workspace/x 2>&1; echo rc=$?']);
    expect(r.stdout).toContain('from-candidate');
    expect(r.stdout).toMatch(/Read-only file system/);
    expect(r.stdout).toMatch(/rc=1/);
  });

  it('keeps an isolated sandbox off the internet and the host', async () => {
    const r = await driver.exec(ref, ['sh', '-c', 'curl -sS -m 3 http://1.1.1.1/ >/dev/null 2>&1; echo rc=$?'], { timeoutMs: 10_000 });
    expect(r.stdout).toMatch(/rc=[1-9]/);
  });

  it('snapshots past a 1 GiB sparse file and a link to /etc/shadow, or stops at once under a small archive budget', async () => {
    // The engine's getArchive does not keep holes: the file's full 1 GiB of zeros comes
    // over the wire, and the tar is sequential, so skipping it still means reading it.
    const setup = await driver.exec(ref, [
      'sh',
      '-c',
      'mkdir -p snap/z && cd snap && echo keep > keep.txt && ln -s /etc/shadow leak && truncate -s 1G big && echo after > z/after.txt',
    ]);
    expect(setup.exitCode, setup.stderr).toBe(0);
    try {
      let started = Date.now();
      const snap = await takeSnapshot(await driver.archive(ref));
      const fullMs = Date.now() - started;
      try {
        expect(await readFile(path.join(snap.dir, 'snap/keep.txt'), 'utf8')).toBe('keep\n');
        expect(await readFile(path.join(snap.dir, 'snap/z/after.txt'), 'utf8')).toBe('after\n');
        await expect(lstat(path.join(snap.dir, 'snap/leak'))).rejects.toMatchObject({ code: 'ENOENT' });
        await expect(lstat(path.join(snap.dir, 'snap/big'))).rejects.toMatchObject({ code: 'ENOENT' });
        expect(snap.skipped).toEqual(
          expect.arrayContaining(['snap/big: 1 GiB, larger than the 64 MiB file limit', 'snap/leak: symlink to an absolute path (/etc/shadow)']),
        );
        expect(snap.stats.bytesWritten).toBeLessThan(1024 * 1024);
        // Bound by the engine's streaming rate (3-9 s per GiB on a busy 2-core host).
        expect(fullMs).toBeLessThan(45_000);
      } finally {
        await snap.dispose();
      }

      started = Date.now();
      const error = await takeSnapshot(await driver.archive(ref), { limits: { maxArchiveBytes: 32 * 1024 * 1024 } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'SANDBOX_FAILED', details: { limit: 'maxArchiveBytes' } });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await driver.exec(ref, ['rm', '-rf', 'snap']);
    }
  });

  // Last in this block: the bomb keeps the sandbox at its pids limit until it is removed.
  it('stops a fork bomb at the pids limit', async () => {
    const bomb = await driver.exec(ref, ['bash', '-c', 'b(){ b|b & }; b; sleep 3; echo survived'], { timeoutMs: 10_000 });
    expect(bomb.exitCode).not.toBe(-1);
    // The limit holds: processes never exceed it.
    const count = await driver.exec(ref, ['sh', '-c', 'ls /proc | grep -c "^[0-9]"'], { user: 'root', timeoutMs: 10_000 }).catch(() => null);
    if (count && count.exitCode === 0) expect(Number(count.stdout.trim())).toBeLessThanOrEqual(128 + 5);
  });
});
