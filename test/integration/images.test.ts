/**
 * The lab images that scripts/setup/lab-images.sh builds (setup has run: the test
 * command runs it first): the tag rule (the server's, which lab-images.sh follows) names
 * the python-ml image that exists; a second setup run is a
 * no-op; the tools import as the candidate (uid 1000); and MLflow's server starts and
 * answers /health as uid 1000 in a container locked down like a sandbox, with no network.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { imageHash, imageTag } from '../../server/labs/images.js';

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LABS = path.join(REPO, 'labs');
const SCRIPT = path.join(REPO, 'scripts/setup/lab-images.sh');

// The tag rule is the server's own (server/labs/images.ts); image-tags.test.ts checks that
// the setup script computes the same tags.
const tagOf = imageTag;

// ---- helpers ---------------------------------------------------------------------------

async function docker(args: string[], timeoutMs = 120_000): Promise<string> {
  const { stdout } = await run('docker', args, { timeout: timeoutMs, maxBuffer: 16 << 20 });
  return stdout;
}

async function labImages(args: string[], env: NodeJS.ProcessEnv = {}) {
  const t0 = Date.now();
  const { stdout, stderr } = await run('bash', [SCRIPT, ...args], {
    env: { ...process.env, ...env },
    timeout: 120_000,
    maxBuffer: 16 << 20,
  });
  return { stdout, stderr, ms: Date.now() - t0 };
}

/** "name tag state" lines of `lab-images.sh --tags`. */
function parseTags(out: string): Map<string, { tag: string; state: string }> {
  const m = new Map<string, { tag: string; state: string }>();
  for (const line of out.trim().split('\n')) {
    const [name, tag, state] = line.split(' ');
    if (name && tag && state) m.set(name, { tag, state });
  }
  return m;
}

const PINNED = Object.fromEntries(
  fs
    .readFileSync(path.join(LABS, '_images/python-ml/requirements.in'), 'utf8')
    .split('\n')
    .map((l) => /^([A-Za-z0-9._-]+)==(\S+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1]!.toLowerCase(), m[2]!]),
);

// Like the workspace container of a session: no network, no capabilities, no new
// privileges, pids and memory limits; the candidate's uid.
const SANDBOX_LIKE = ['--network', 'none', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--pids-limit', '256', '--memory', '1g', '--user', '1000'];

describe('lab images', () => {
  const TAG = tagOf(LABS, 'python-ml');
  const containers: string[] = [];
  const tmpDirs: string[] = [];

  afterAll(async () => {
    for (const c of containers) await docker(['rm', '-f', c]).catch(() => undefined);
    for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('python-ml exists under the tag the rule gives, labelled with the full hash', async () => {
    expect(TAG).toMatch(/^opslab\/python-ml:[0-9a-f]{12}$/);
    const labels = JSON.parse(await docker(['image', 'inspect', '--format', '{{json .Config.Labels}}', TAG])) as Record<string, string>;
    expect(labels['opslab.image']).toBe('python-ml');
    expect(labels['opslab.inputs-hash']).toBe(imageHash(LABS, 'python-ml'));
    expect(labels['opslab.parent']).toBe('opslab/base:bookworm');
    // The base it was built on is the base this checkout describes.
    const base = await docker(['image', 'inspect', '--format', '{{ index .Config.Labels "opslab.inputs-hash" }}', 'opslab/base:bookworm']);
    expect(base.trim()).toBe(imageHash(LABS, 'base'));
    // The script agrees, for every image it knows.
    const tags = parseTags((await labImages(['--tags'])).stdout);
    expect(tags.get('python-ml')).toEqual({ tag: TAG, state: 'up-to-date' });
    for (const [name, { tag }] of tags) expect(tag).toBe(tagOf(LABS, name));
  });

  it('the rule: the script and this test agree on changed folders and on lab images; any change moves the tag', async () => {
    const labs = fs.mkdtempSync(path.join(os.tmpdir(), 'opslab-images-test-'));
    tmpDirs.push(labs);
    fs.cpSync(path.join(LABS, '_images'), path.join(labs, '_images'), { recursive: true });
    fs.mkdirSync(path.join(labs, 'demo/image/data'), { recursive: true });
    fs.writeFileSync(path.join(labs, 'demo/image/Dockerfile'), 'ARG BASE=opslab/python-ml\nFROM ${BASE}\nCOPY data/ /opt/demo/\n');
    fs.writeFileSync(path.join(labs, 'demo/image/data/a b.txt'), 'a file name with a space\n');
    fs.writeFileSync(path.join(labs, 'demo/image/data/run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o644 });
    const tags = async () => parseTags((await labImages(['--tags'], { OPSLAB_LABS_DIR: labs })).stdout);

    const first = await tags();
    expect(first.get('python-ml')?.tag).toBe(TAG); // a copy of the folder hashes the same
    expect(first.get('lab-demo')?.tag).toBe(tagOf(labs, 'lab-demo'));
    expect(first.get('lab-demo')?.state).toBe('missing');

    // The execute bit counts.
    fs.chmodSync(path.join(labs, 'demo/image/data/run.sh'), 0o755);
    const second = await tags();
    expect(second.get('lab-demo')?.tag).toBe(tagOf(labs, 'lab-demo'));
    expect(second.get('lab-demo')?.tag).not.toBe(first.get('lab-demo')?.tag);

    // A change in the parent's folder moves the parent's tag and the child's.
    fs.appendFileSync(path.join(labs, '_images/python-ml/smoke-test.sh'), '\n# changed\n');
    const third = await tags();
    expect(third.get('python-ml')?.tag).toBe(tagOf(labs, 'python-ml'));
    expect(third.get('python-ml')?.tag).not.toBe(TAG);
    expect(third.get('lab-demo')?.tag).toBe(tagOf(labs, 'lab-demo'));
    expect(third.get('lab-demo')?.tag).not.toBe(second.get('lab-demo')?.tag);
  });

  it('a second run of lab-images.sh builds nothing and takes seconds', async () => {
    const { stdout, ms } = await labImages([]);
    expect(stdout).toContain(`${TAG} is up to date`);
    expect(stdout).not.toMatch(/building|docker build/);
    expect(ms).toBeLessThan(10_000);
    // :latest follows the tag this checkout set up.
    const [a, b] = await Promise.all([TAG, 'opslab/python-ml:latest'].map((t) => docker(['image', 'inspect', '--format', '{{.Id}}', t])));
    expect(b).toBe(a);
  });

  it('has the tools a candidate expects in the shell, each answering --version', async () => {
    const tools = ['git', 'vim', 'nano', 'curl', 'jq', 'less', 'python3', 'pytest', 'ruff', 'hadolint', 'promtool', 'check-jsonschema', 'dvc', 'mlflow'];
    const out = await docker([
      'run', '--rm', '--network', 'none', '--user', '1000', TAG,
      'bash', '-lc',
      `for t in ${tools.join(' ')}; do if $t --version >/dev/null 2>&1; then echo "$t ok"; else echo "$t MISSING"; fi; done`,
    ]);
    expect(out.trim().split('\n')).toEqual(tools.map((t) => `${t} ok`));
  });

  it('the tools import as uid 1000, at the pinned versions, and login shells find the venv first', async () => {
    const out = await docker([
      'run', '--rm', '--network', 'none', '--user', '1000', TAG,
      'bash', '-lc',
      'command -v python mlflow dvc pytest uvicorn; python -c \'import sys, mlflow, sklearn, pandas, numpy, fastapi, uvicorn, prometheus_client, dvc, requests, pytest; print(sys.version.split()[0], mlflow.__version__, sklearn.__version__, pandas.__version__, numpy.__version__, fastapi.__version__, dvc.__version__)\'',
    ]);
    const lines = out.trim().split('\n');
    expect(lines.slice(0, 5)).toEqual(['python', 'mlflow', 'dvc', 'pytest', 'uvicorn'].map((t) => `/opt/venv/bin/${t}`));
    const [py, mlflow, sklearn, pandas, numpy, fastapi, dvc] = (lines[5] ?? '').split(' ');
    expect(py).toMatch(/^3\.11\./);
    expect({ mlflow, sklearn, pandas, numpy, fastapi, dvc }).toEqual({
      mlflow: PINNED['mlflow'],
      sklearn: PINNED['scikit-learn'],
      pandas: PINNED['pandas'],
      numpy: PINNED['numpy'],
      fastapi: PINNED['fastapi'],
      dvc: PINNED['dvc'],
    });
  });

  it('the MLflow server starts and answers /health as uid 1000 in a sandbox-like container with no network', async () => {
    const name = `opslab-images-test-${randomUUID().slice(0, 8)}`;
    containers.push(name);
    // Starts the server, waits for /health (up to 150 s on a busy machine), then uses
    // the tracking API once. Prints the start time for the log.
    const script = String.raw`
      set -u
      t0=$(date +%s%N)
      mlflow server --host 127.0.0.1 --port 5000 --workers 1 \
        --backend-store-uri sqlite:////tmp/mlflow.db --artifacts-destination /tmp/mlartifacts >/tmp/mlflow.log 2>&1 &
      for _ in $(seq 1 1500); do
        if curl -fsS -m 2 http://127.0.0.1:5000/health >/dev/null 2>&1; then
          echo "health-ms=$(( ($(date +%s%N) - t0) / 1000000 ))"
          curl -fsS -m 10 -X POST -H 'Content-Type: application/json' -d '{"name":"images-test"}' \
            http://127.0.0.1:5000/api/2.0/mlflow/experiments/create
          echo
          exit 0
        fi
        sleep 0.1
      done
      echo "no /health answer; server log:"; tail -n 40 /tmp/mlflow.log; exit 1
    `;
    const out = await docker(['run', '--rm', '--name', name, ...SANDBOX_LIKE, TAG, 'bash', '-c', script], 170_000);
    const ms = Number(/health-ms=(\d+)/.exec(out)?.[1]);
    console.info(`images.test: mlflow server answered /health after ${ms} ms`);
    expect(ms).toBeGreaterThan(0);
    expect(out).toMatch(/"experiment_id":\s*"\d+"/);
  }, 180_000);
});
