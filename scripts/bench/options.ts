/** Command-line flags of `npm run bench` (documented in main.ts's header). */

export const SECTIONS = ['cold', 'warm', 'echo', 'throughput', 'concurrent', 'idle', 'grading', 'wetty'] as const;
export type Section = (typeof SECTIONS)[number];

const args = process.argv.slice(2);

/** A bad flag: say so and stop before anything starts. */
function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

const VALUE_FLAGS = [
  'only', 'lab', 'sessions', 'warm-samples', 'pool-size', 'pool-refill-wait-ms', 'echo-samples', 'warmup', 'block',
  'throughput-mb', 'throughput-runs', 'typists', 'typing-samples', 'typing-interval-ms', 'idle', 'idle-window-s',
  'idle-settle-s', 'idle-viewers', 'sandbox-memory-mb', 'create-concurrency', 'grade-labs', 'grade-runs',
  'grade-attempt', 'wetty-version',
];
const BOOLEAN_FLAGS = ['no-wetty'];
for (let i = 0; i < args.length; i++) {
  const a = args[i] ?? '';
  const name = a.replace(/^--/, '').split('=')[0] ?? '';
  if (!a.startsWith('--') || !(VALUE_FLAGS.includes(name) || BOOLEAN_FLAGS.includes(name))) {
    fail(`unknown argument ${a} (flags: ${[...VALUE_FLAGS, ...BOOLEAN_FLAGS].map((f) => `--${f}`).join(' ')}; see scripts/bench/main.ts)`);
  }
  if (VALUE_FLAGS.includes(name) && !a.includes('=')) i++;
}

function rawFlag(name: string): string | undefined {
  let value: string | undefined;
  args.forEach((a, i) => {
    if (a === `--${name}`) value = args[i + 1];
    else if (a.startsWith(`--${name}=`)) value = a.slice(name.length + 3);
  });
  return value;
}

function hasFlag(name: string): boolean {
  return args.includes(`--${name}`);
}

function intFlag(name: string, fallback: number, min = 0): number {
  const raw = rawFlag(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) fail(`--${name}: expected an integer >= ${min}, got ${raw}`);
  return n;
}

function listFlag(name: string): string[] | undefined {
  const raw = rawFlag(name);
  if (raw === undefined) return undefined;
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

function intListFlag(name: string, fallback: number[]): number[] {
  const list = listFlag(name);
  if (!list) return fallback;
  return list.map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) fail(`--${name}: expected non-negative integers, got ${s}`);
    return n;
  });
}

function sectionsFlag(): Set<Section> {
  const only = listFlag('only');
  if (!only) return new Set(hasFlag('no-wetty') ? SECTIONS.filter((s) => s !== 'wetty') : SECTIONS);
  const bad = only.filter((s) => !(SECTIONS as readonly string[]).includes(s));
  if (bad.length) fail(`--only: unknown section(s) ${bad.join(', ')}; known: ${SECTIONS.join(', ')}`);
  const set = new Set(only as Section[]);
  // The peer is measured inside the echo and throughput sections: `--only wetty` means both.
  if (set.has('wetty') && !set.has('echo') && !set.has('throughput')) {
    set.add('echo');
    set.add('throughput');
  }
  if (hasFlag('no-wetty')) set.delete('wetty');
  return set;
}

const gradeAttempt = rawFlag('grade-attempt') ?? 'solution';
if (gradeAttempt !== 'solution' && gradeAttempt !== 'starter') {
  fail(`--grade-attempt: expected solution or starter, got ${gradeAttempt}`);
}

const sandboxMemory = rawFlag('sandbox-memory-mb');

export const OPTS = {
  sections: sectionsFlag(),
  lab: rawFlag('lab') ?? 'hello',
  /** Session start (cold). */
  sessions: intFlag('sessions', 20, 1),
  /** Session start from a warm pool. */
  warmSamples: intFlag('warm-samples', 20, 1),
  poolSize: intFlag('pool-size', 3, 1),
  /** When the server's health does not say how full the pool is: wait this long between warm samples. */
  poolRefillWaitMs: intFlag('pool-refill-wait-ms', 5_000),
  /** Keystroke echo, one session. */
  echoSamples: intFlag('echo-samples', 500, 1),
  warmup: intFlag('warmup', 50),
  block: intFlag('block', 100, 1),
  /** Output throughput. */
  throughputMiB: intFlag('throughput-mb', 40, 1),
  throughputRuns: intFlag('throughput-runs', 3, 1),
  /** Echo with many sessions typing at once. */
  typists: intFlag('typists', 20, 1),
  typingSamples: intFlag('typing-samples', 100, 1),
  typingIntervalMs: intFlag('typing-interval-ms', 100, 1),
  /** Idle sessions: counts to measure at, the sampling window, and whether each has a candidate WebSocket open. */
  idleCounts: intListFlag('idle', [50, 100]),
  idleWindowS: intFlag('idle-window-s', 10, 1),
  idleSettleS: intFlag('idle-settle-s', 5),
  idleViewers: intFlag('idle-viewers', 1) > 0,
  /** Grading. */
  gradeLabs: listFlag('grade-labs'),
  gradeRuns: intFlag('grade-runs', 3, 1),
  gradeAttempt: gradeAttempt as 'solution' | 'starter',
  /** Sessions created at once when the concurrent and idle sections fill up. */
  createConcurrency: intFlag('create-concurrency', 4, 1),
  sandboxMemoryMb: sandboxMemory === undefined ? undefined : intFlag('sandbox-memory-mb', 1024, 64),
  wettyVersion: rawFlag('wetty-version') ?? '3.2',
  pollMs: 25,
  /** After an echo's first frame, wait until the terminal is quiet this long before the next key. */
  quietMs: 3,
};

export type Options = typeof OPTS;

export function runs(section: Section): boolean {
  return OPTS.sections.has(section);
}
