/**
 * `npm run bench:labs`: how long each lab takes from "create session" to "ready" (the
 * candidate can start: sandbox up, starter committed, every setup step ready, such as
 * the MLflow server), and how big its sandbox image is. Against a real opslab server on
 * the Docker driver, one session at a time, each ended before the next.
 *
 * Flags: --runs N (3 per lab), --lab ID (repeatable; default every valid lab).
 * Prints a table and writes bench-results/labs-<timestamp>.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { REPO_ROOT, ServerProcess } from '../../test/helpers/server-process.js';
import type { CreatedSession } from '../../test/helpers/session-flow.js';
import { fmtMs, summarize, table, type Summary } from './stats.js';

const args = process.argv.slice(2);
function flagValues(name: string): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    if (a === `--${name}` && args[i + 1]) out.push(args[i + 1] ?? '');
    else if (a.startsWith(`--${name}=`)) out.push(a.slice(name.length + 3));
  });
  return out;
}
const runsRaw = flagValues('runs').at(-1) ?? '3';
const RUNS = Number(runsRaw);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs: expected a positive integer, got ${runsRaw}`);
const ONLY = flagValues('lab');
const POLL_MS = 25;

interface LabRow {
  lab: string;
  image: string;
  imageBytes: number;
  readyMs: Summary;
  samples: number[];
}

async function readyTime(server: ServerProcess, lab: string): Promise<{ ms: number; sessionId: string }> {
  const t0 = performance.now();
  const created = await server.api<CreatedSession>('POST', '/api/sessions', { body: { lab, candidate: { name: 'Bench' } } });
  if (created.status !== 201) throw new Error(`create ${lab}: ${created.status} ${JSON.stringify(created.body)}`);
  const id = created.body.id;
  for (;;) {
    const r = await server.api<{ state: string; error: string | null }>('GET', `/api/sessions/${id}`);
    if (r.body.state === 'ready') return { ms: performance.now() - t0, sessionId: id };
    if (r.body.state !== 'starting') throw new Error(`${lab}: session ${id} became ${r.body.state}: ${r.body.error ?? ''}`);
    if (performance.now() - t0 > 300_000) throw new Error(`${lab}: not ready after 300 s`);
    await new Promise((res) => setTimeout(res, POLL_MS));
  }
}

async function imageOf(docker: Docker, sessionId: string): Promise<{ image: string; bytes: number }> {
  const [c] = await docker.listContainers({
    all: true,
    filters: { label: [`opslab.session=${sessionId}`, 'opslab.role=workspace'] },
  });
  if (!c) throw new Error(`no workspace container for ${sessionId}`);
  const info = await docker.getImage(c.Image).inspect();
  return { image: c.Image, bytes: info.Size };
}

async function main(): Promise<void> {
  const docker = new Docker();
  const server = await ServerProcess.start();
  const rows: LabRow[] = [];
  try {
    const catalog = await server.api<{ labs: { id: string }[] }>('GET', '/api/labs');
    const labs = catalog.body.labs.map((l) => l.id).filter((id) => ONLY.length === 0 || ONLY.includes(id));
    if (labs.length === 0) throw new Error(`no lab to measure (asked for ${ONLY.join(', ') || 'all'})`);
    for (const lab of labs) {
      const samples: number[] = [];
      let image = { image: '', bytes: 0 };
      for (let i = 0; i < RUNS; i++) {
        const { ms, sessionId } = await readyTime(server, lab);
        samples.push(ms);
        if (i === 0) image = await imageOf(docker, sessionId);
        const end = await server.api('POST', `/api/sessions/${sessionId}/end`);
        if (end.status !== 200) throw new Error(`end ${sessionId}: ${end.status}`);
        process.stderr.write(`  ${lab} ${i + 1}/${RUNS}: ready in ${fmtMs(ms, 0)} ms\n`);
      }
      rows.push({ lab, image: image.image, imageBytes: image.bytes, readyMs: summarize(samples), samples });
    }
  } finally {
    await server.stop();
  }

  const report = table(
    ['lab', 'image', 'size MB', 'ready min ms', 'median ms', 'max ms'],
    rows.map((r) => [
      r.lab,
      r.image,
      (r.imageBytes / 1e6).toFixed(0),
      fmtMs(r.readyMs.min, 0),
      fmtMs(r.readyMs.median, 0),
      fmtMs(r.readyMs.max, 0),
    ]),
  );
  const header = `Session start -> ready, ${RUNS} run(s) per lab, one session at a time (${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? 'unknown CPU'})`;
  process.stdout.write(`\n${header}\n${report}\n`);
  const outDir = path.join(REPO_ROOT, 'bench-results');
  await fs.promises.mkdir(outDir, { recursive: true });
  const file = path.join(outDir, `labs-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await fs.promises.writeFile(file, JSON.stringify({ at: new Date().toISOString(), runs: RUNS, rows }, null, 2));
  process.stdout.write(`written to ${path.relative(REPO_ROOT, file)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:labs failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
