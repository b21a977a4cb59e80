/**
 * Host firewall rules that keep sandboxes away from what they must never reach. Docker's
 * own rules do not: from a session network (even an `--internal` one) a container can
 * open any port on the host through the network's gateway, the host's own addresses or
 * docker0's (the opslab server included), and an egress network reaches the cloud
 * metadata address and the private networks around the host.
 *
 * Rules, keyed on the sandbox subnet pool (every session network is carved from it):
 *   INPUT        -i br-+ -s POOL -j DROP                  no port on the host, any address
 *   DOCKER-USER  -i br-+ -s POOL -d 169.254.0.0/16 DROP   link-local: cloud metadata
 *   DOCKER-USER  -i br-+ -s POOL -d <private ranges> DROP other sandboxes, the host's LAN
 * Traffic inside a sandbox (the grader calling the candidate's service on 127.0.0.1)
 * and Docker's embedded DNS stay inside the container's namespace and are not touched.
 *
 * Applied with iptables (Debian's docker.io depends on it) when the server starts, each
 * rule only if it is missing, under a lock so two servers starting at once do not add it
 * twice, and checked again every few seconds after that: a program that rewrites the
 * host's filter table (a firewall reload, kube-router's iptables-save/-restore) can drop
 * rules it did not write, and they are put back (logged as an error). Rules in INPUT and DOCKER-USER survive a dockerd restart. Needs root and a local
 * engine; otherwise the guard is reported off (GET /api/health) and logged as an error.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

const COMMENT = 'opslab sandbox guard';
/** Destinations a sandbox on an egress network must not reach besides the host itself. */
const BLOCKED_DESTINATIONS = ['169.254.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'];
const LOCK_FILE = '/run/opslab-network-guard.lock';

export interface NetworkGuardStatus {
  enabled: boolean;
  /** What is guarded, or why the guard is off. */
  detail: string;
  /** How many rules were missing and added by this call. */
  added?: number;
}

export function guardRules(pool: string): { chain: string; rule: string[] }[] {
  const tag = ['-m', 'comment', '--comment', COMMENT];
  // Only what arrives from a user-defined Docker bridge (br-<id>, where every session
  // network lives): a LAN that happens to use the pool's range reaches the host as before.
  const fromBridge = ['-i', 'br-+', '-s', pool];
  return [
    { chain: 'INPUT', rule: [...fromBridge, ...tag, '-j', 'DROP'] },
    ...BLOCKED_DESTINATIONS.map((d) => ({ chain: 'DOCKER-USER', rule: [...fromBridge, '-d', d, ...tag, '-j', 'DROP'] })),
  ];
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Adds the missing rules; never throws (the status says what happened). */
export async function applyNetworkGuard(pool: string, options: { localEngine: boolean }): Promise<NetworkGuardStatus> {
  if (!options.localEngine) {
    return { enabled: false, detail: 'the Docker engine is remote: its host needs these firewall rules (see docs/architecture.md)' };
  }
  if (process.getuid?.() !== 0) {
    return { enabled: false, detail: 'not running as root: cannot add the firewall rules that keep sandboxes off the host' };
  }
  // One shell under one lock: check each rule, insert it when missing (at the top, so it
  // comes before Docker's own ACCEPT and DOCKER-USER's final RETURN).
  const script = guardRules(pool)
    .map(({ chain, rule }) => {
      const r = rule.map(shellQuote).join(' ');
      return `if ! iptables -w 10 -C ${chain} ${r} 2>/dev/null; then iptables -w 10 -I ${chain} 1 ${r}; echo added; fi`;
    })
    .join('\n');
  try {
    const { stdout } = await run('flock', ['-w', '30', LOCK_FILE, 'sh', '-ec', script], { timeout: 60_000 });
    return {
      enabled: true,
      detail: `sandboxes in ${pool} cannot reach the host, link-local addresses (cloud metadata) or private networks`,
      added: stdout.split('\n').filter((l) => l === 'added').length,
    };
  } catch (e) {
    const err = e as { stderr?: string; message?: string };
    return { enabled: false, detail: `could not add the firewall rules: ${(err.stderr || err.message || String(e)).trim().slice(0, 500)}` };
  }
}
