/**
 * When sandboxes cannot get size-limited disks (server/sandbox/docker-disk.ts), the
 * reason is reported plainly and nothing is made on the host; and the memory-backed
 * scratch mounts are shares of the memory limit. The working path (root, loop devices)
 * is exercised against the real engine in test/contract/docker.test.ts.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DISK_TOOLS, probeHostDisks } from '../../../server/sandbox/docker-disk.js';
import { scratchMounts } from '../../../server/sandbox/hardening.js';

const root = mkdtempSync(path.join(tmpdir(), 'opslab-disk-probe-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('probeHostDisks', () => {
  const UNLIMITED = /workspaces are plain volumes without a size limit \(a candidate can fill the host's disk\)$/;

  it('is off, saying so, when the server is not root, and makes nothing', async () => {
    const dir = path.join(root, 'not-root');
    const { status, disks } = await probeHostDisks({ dir, localEngine: true, uid: 1000 });
    expect(status.enabled).toBe(false);
    expect(status.detail).toMatch(/^not running as root: cannot attach loop devices; /);
    expect(status.detail).toMatch(UNLIMITED);
    expect(disks).toBeUndefined();
    expect(existsSync(dir)).toBe(false);
  });

  it('is off for a remote engine, whose host would not have our loop devices', async () => {
    const { status } = await probeHostDisks({ dir: path.join(root, 'remote'), localEngine: false, uid: 0 });
    expect(status).toEqual({ enabled: false, detail: expect.stringMatching(/^the Docker engine is remote: /) });
    expect(status.detail).toMatch(UNLIMITED);
  });

  it('is off without a directory for the images', async () => {
    const { status } = await probeHostDisks({ dir: undefined, localEngine: true, uid: 0 });
    expect(status.enabled).toBe(false);
    expect(status.detail).toMatch(/^no directory for disk images was given; /);
  });

  it('names the missing tools and the package to install', async () => {
    const dir = path.join(root, 'no-tools');
    const empty = mkdtempSync(path.join(root, 'bin-'));
    const { status } = await probeHostDisks({ dir, localEngine: true, uid: 0, searchPath: [empty] });
    expect(status.enabled).toBe(false);
    expect(status.detail).toContain(`missing ${DISK_TOOLS.join(', ')} (Debian: apt-get install coreutils e2fsprogs mount)`);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('scratchMounts', () => {
  it('sizes /tmp, /var/tmp and /dev/shm as shares of the memory limit, executable but never suid or devices', () => {
    expect(scratchMounts(1024)).toEqual({
      Tmpfs: {
        '/tmp': 'rw,exec,nosuid,nodev,mode=1777,size=256m',
        '/var/tmp': 'rw,exec,nosuid,nodev,mode=1777,size=128m',
        '/run': 'rw,nosuid,nodev,mode=755,size=64m',
        '/var/log': 'rw,nosuid,nodev,mode=755,size=128m',
      },
      ShmSize: 64 * 1024 * 1024,
    });
    const big = scratchMounts(16_384);
    expect(big.Tmpfs['/tmp']).toMatch(/size=512m$/);
    expect(big.Tmpfs['/var/tmp']).toMatch(/size=128m$/);
    expect(big.ShmSize).toBe(64 * 1024 * 1024);
    const small = scratchMounts(64);
    expect(small.Tmpfs['/tmp']).toMatch(/size=16m$/);
    expect(small.Tmpfs['/var/tmp']).toMatch(/size=8m$/);
    expect(small.ShmSize).toBe(8 * 1024 * 1024);
  });

  it("adds the lab's own tmpfs directories, root-owned and bounded by the sizes the lab gives", () => {
    const m = scratchMounts(1024, { '/srv/mlflow': 256 });
    expect(m.Tmpfs['/srv/mlflow']).toBe('rw,nosuid,nodev,mode=755,size=256m');
    expect(m.Tmpfs['/tmp']).toBe('rw,exec,nosuid,nodev,mode=1777,size=256m');
  });
});
