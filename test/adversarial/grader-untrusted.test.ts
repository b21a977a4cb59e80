/**
 * The candidate's code as a lab's grader runs it (their CLI on hidden data, their pipeline):
 * through /opt/opslab/untrusted.py it cannot read /grader, reach a listener in the
 * candidate's shell, or signal the grader, while the lab's own trusted code, in the same
 * container, can do all three (the controls).
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { ServerProcess } from '../helpers/server-process.js';
import { createSession, oneLabDir, openTerminal, PROMPT, waitForState, type CreatedSession } from '../helpers/session-flow.js';
import type { TerminalClient } from '../helpers/terminal-client.js';
import { attack } from './row.js';

const PORT = 9999;

const LAB = `id: confined
title: Confined candidate code
summary: A grader that runs the candidate's code on hidden data.
difficulty: easy
durationMinutes: 15
image: python-ml
checks:
  - id: control
    title: the grader itself reads /grader and reaches the candidate's listener
    points: 1
    type: command
    run: [/opt/venv/bin/python3, /grader/control.py]
  - id: answer
    title: solve.py finds the hidden answer
    points: 1
    type: command
    run: [/opt/venv/bin/python3, /grader/run_candidate.py]
`;

/** The lab's trusted grader: the hidden answer, and how it runs the candidate's code. */
const GRADER: Record<string, string> = {
  'secret.txt': 'the-hidden-answer-31337\n',
  'control.py': `import socket, time
secret = open("/grader/secret.txt").read().strip()
with socket.create_connection(("127.0.0.1", ${PORT}), 5) as s:
    s.sendall(b"control-tcp:" + secret[:3].encode() + b"\\n")
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
    u.sendto(b"control-udp\\n", ("127.0.0.1", ${PORT}))
with socket.socket(socket.AF_UNIX) as x:
    x.connect("/workspace/exfil.sock")
    x.sendall(b"control-unix\\n")
time.sleep(0.5)
print("read /grader and reached the listeners")
`,
  'run_candidate.py': `import json, os, subprocess, sys, tempfile
tmp = tempfile.mkdtemp()
r = subprocess.run([sys.executable, "/opt/opslab/untrusted.py", "--rw", tmp, "--", sys.executable, "/workspace/solve.py"],
                   cwd=tmp, capture_output=True, text=True, timeout=60, env={"HOME": tmp, "PATH": os.environ["PATH"]})
print(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "no output")
secret = open("/grader/secret.txt").read().strip()
sys.exit(0 if secret in r.stdout else 1)
`,
};

/** The candidate's listeners: every message that arrives, from anywhere, goes to /tmp/heard. */
const LISTENERS = `import os, socket, threading
def keep(data):
    with open("/tmp/heard", "ab") as f:
        f.write(data)
def stream(s):
    s.listen()
    while True:
        c, _ = s.accept()
        keep(c.recv(100))
        c.close()
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("127.0.0.1", ${PORT}))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", ${PORT}))
if os.path.exists("/workspace/exfil.sock"): os.unlink("/workspace/exfil.sock")
x = socket.socket(socket.AF_UNIX); x.bind("/workspace/exfil.sock"); os.chmod("/workspace/exfil.sock", 0o777)
threading.Thread(target=stream, args=(t,), daemon=True).start()
threading.Thread(target=stream, args=(x,), daemon=True).start()
while True:
    keep(u.recv(100))
`;

/** What a hostile candidate commits: try everything, print what happened as one JSON line. */
const HOSTILE = `import json, os, signal, socket
seen = {}
try:
    seen["grader"] = open("/grader/secret.txt").read().strip()
except Exception as e:
    seen["grader"] = type(e).__name__
try:
    with socket.create_connection(("127.0.0.1", ${PORT}), 3) as s:
        s.sendall(b"stolen\\n")
    seen["listener"] = "sent"
except Exception as e:
    seen["listener"] = type(e).__name__
try:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"stolen-udp\\n", ("127.0.0.1", ${PORT}))
    seen["udp"] = "sent"
except Exception as e:
    seen["udp"] = type(e).__name__
try:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect("/workspace/exfil.sock")
    seen["unix"] = "connected"
except Exception as e:
    seen["unix"] = type(e).__name__
try:
    os.kill(os.getppid(), signal.SIGSTOP)
    seen["signal"] = "stopped the grader"
except Exception as e:
    seen["signal"] = type(e).__name__
print(json.dumps(seen))
`;

describe('the candidate’s code run by a grader', () => {
  let server: ServerProcess;
  let labsDir: string;
  let session: CreatedSession;
  let term: TerminalClient;

  beforeAll(async () => {
    labsDir = await oneLabDir('confined', {
      'lab.yaml': LAB,
      'brief.md': '# Confined\n',
      'solution/solve.py': 'print("the-hidden-answer-31337")\n',
      ...Object.fromEntries(Object.entries(GRADER).map(([name, text]) => [`grader/${name}`, text])),
    });
    server = await ServerProcess.start({ OPSLAB_LABS_DIR: labsDir });
    session = await createSession(server, 'confined');
    await waitForState(server, session.id, 'ready', 120_000);
    term = await openTerminal(server, session.id, session.candidateToken);
    await term.waitForText(PROMPT);
  }, 180_000);

  afterAll(async () => {
    await term?.close();
    if (session) await server.api('POST', `/api/sessions/${session.id}/end`).catch(() => undefined);
    await server?.stop();
    if (labsDir) await fs.promises.rm(labsDir, { recursive: true, force: true });
  });

  attack(
    'grader',
    'the candidate’s code, run by the grader: reads /grader, calls a listener in the candidate’s shell (TCP, UDP, a unix socket in the workspace), signals the grader',
    'each refused (while the grader itself can); the answer is not found; the listeners hear only the controls',
    async () => {
      // Listeners in the candidate's shell (TCP, UDP, a unix socket in the workspace) that write down whatever reaches them.
      const listen = Buffer.from(LISTENERS).toString('base64');
      term.type(`echo ${listen} | base64 -d > /tmp/listen.py && (python3 /tmp/listen.py >/dev/null 2>&1 &)\r`);
      const solve = Buffer.from(HOSTILE).toString('base64');
      term.type(`sleep 1; echo ${solve} | base64 -d > solve.py && echo "written-$((6*7))"\r`);
      await term.waitForText('written-42');

      const r = await server.api<{ checks: { id: string; status: string; message: string }[] }>('POST', `/api/sessions/${session.id}/grade`);
      expect(r.status).toBe(200);
      const byId = Object.fromEntries(r.body.checks.map((c) => [c.id, c]));
      expect(byId.control?.status, `control: ${byId.control?.message}`).toBe('passed');
      expect(byId.answer?.status).toBe('failed');
      const seen = /\{.*\}/.exec(byId.answer?.message ?? '')?.[0];
      expect(seen, `the candidate's code printed what it saw: ${byId.answer?.message}`).toBeDefined();
      expect(JSON.parse(seen!)).toEqual({
        grader: 'PermissionError',
        listener: 'PermissionError',
        udp: 'PermissionError',
        unix: 'PermissionError',
        signal: 'PermissionError',
      });

      term.type('echo "heard:[$(tr "\\n" " " < /tmp/heard)]-$((6*7))"\r');
      await term.waitForText(/heard:\[[^\]]*\]-42/);
      const heard = /heard:\[([^\]]*)\]-42/.exec(term.plain())?.[1]?.trim();
      expect(heard?.split(' ').sort()).toEqual(['control-tcp:the', 'control-udp', 'control-unix']);
      return `control passed; the candidate's code saw ${seen}; the listeners heard only "${heard}"`;
    },
    120_000,
  );
});
