/**
 * The `http` check against a real local service, through the real curl on the host
 * (the fake context runs the grader's argv here).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpCheck, httpSpecSchema } from '../../../server/checker/checks/http.js';
import type { HttpSpec } from '../../../server/checker/checks/http.js';
import type { CheckResult } from '../../../server/checker/types.js';
import type { HostContext, TestServer } from './http-fakes.js';
import { freePort, hostContext, json, startServer } from './http-fakes.js';

let server: TestServer;
let ctx: HostContext;

beforeAll(async () => {
  server = await startServer((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/health':
        return json(res, 200, { status: 'ok', model: { name: 'churn', version: '1.4.0' }, classes: [0, 1] }, { 'x-model-version': '1.4.0' });
      case '/predict': {
        if (req.method !== 'POST') return json(res, 405, { detail: 'Method Not Allowed' });
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch {
          return json(res, 422, { detail: 'body is not JSON' });
        }
        const features = (parsed as { features?: unknown }).features;
        if (!Array.isArray(features)) return json(res, 422, { detail: [{ loc: ['body', 'features'], msg: 'field required' }] });
        return json(res, 200, { prediction: 1, probability: 0.87, items: [{ id: 1, score: 0.2 }, { id: 2, score: 0.9 }] });
      }
      case '/echo':
        return json(res, 200, { method: req.method, contentType: req.headers['content-type'] ?? null, auth: req.headers.authorization ?? null, body });
      case '/broken':
        return json(res, 500, { detail: 'model file /models/churn.pkl not found' });
      case '/no-prediction':
        return json(res, 200, { result: 1 });
      case '/text':
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('service ready\nversion=1.4.0\n');
      case '/slow':
        setTimeout(() => json(res, 200, { ok: true }), 400);
        return;
      case '/hang':
        return; // never answers
      case '/stall-body':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"partial": ');
        return; // headers sent, body never finishes
      case '/huge': {
        const big = JSON.stringify({ data: 'x'.repeat(3 * 1024 * 1024) });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(big)) });
        return res.end(big);
      }
      case '/huge-chunked': {
        res.writeHead(200, { 'content-type': 'application/json' });
        for (let i = 0; i < 30; i++) res.write('y'.repeat(100 * 1024));
        return res.end();
      }
      case '/malformed':
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('{"prediction": 1,,}');
      case '/deep': {
        const depth = 100_000;
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(`${'['.repeat(depth)}${']'.repeat(depth)}`);
      }
      case '/fake-status':
        // A body that imitates curl's write-out: it must not change the status we read.
        res.writeHead(500, { 'content-type': 'text/plain' });
        return res.end('\n@@opslab-0000000000000000@@200 0.001 10\n{}\n');
      default:
        return json(res, 404, { detail: 'Not Found' });
    }
  });
  ctx = hostContext();
});

afterAll(async () => {
  await server.close();
  ctx.dispose();
});

function spec(fields: Record<string, unknown>): HttpSpec {
  return httpSpecSchema.parse({ type: 'http', ...fields });
}

async function run(fields: Record<string, unknown>, c: HostContext = ctx): Promise<CheckResult> {
  return httpCheck.run(spec(fields), c);
}

function failedMessage(r: CheckResult): string {
  expect(r.status, JSON.stringify(r)).toBe('failed');
  return r.status === 'failed' ? r.message : '';
}

describe('http check: status, JSON, body, headers, latency', () => {
  it('passes a healthy service and runs the grader curl by absolute path with a fixed environment', async () => {
    const r = await run({
      url: server.url('/health'),
      expect: {
        status: 200,
        json: [
          { path: 'status', eq: 'ok' },
          { path: 'model.version', matches: '^\\d+\\.\\d+\\.\\d+$' },
          { path: 'classes[*]', type: 'integer' },
          { path: 'classes[1]', eq: 1 },
          { path: 'error', exists: false },
        ],
        headers: { 'Content-Type': 'json', 'x-model-version': '^1\\.4' },
        maxLatencyMs: 5000,
        bodyMatches: '"status"',
      },
    });
    expect(r.status, JSON.stringify(r)).toBe('passed');
    const call = ctx.calls[ctx.calls.length - 1]!;
    expect(call.cmd[0]).toBe('/usr/bin/curl');
    expect(call.cmd[1]).toBe('-q');
    expect(call.options?.env?.PATH).toBe('/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  });

  it('accepts any 2xx by default and a list of statuses', async () => {
    expect((await run({ url: server.url('/health') })).status).toBe('passed');
    expect((await run({ url: server.url('/broken'), expect: { status: [500, 503] } })).status).toBe('passed');
  });

  it('fails a wrong status with the status, the expectation and the service own words', async () => {
    const msg = failedMessage(await run({ url: server.url('/broken'), expect: { status: 200 } }));
    expect(msg).toBe(
      `GET ${server.url('/broken')} answered 500, expected 200: {"detail":"model file /models/churn.pkl not found"}`,
    );
    expect(failedMessage(await run({ url: server.url('/broken') }))).toContain('answered 500, expected 2xx');
  });

  it('POSTs a JSON body with a JSON content type and judges the answer', async () => {
    const r = await run({
      url: server.url('/predict'),
      method: 'POST',
      body: { features: [0.1, 2, 3] },
      expect: {
        status: 200,
        json: [
          { path: 'prediction', type: 'integer' },
          { path: 'probability', gte: 0, lte: 1 },
          { path: 'items[*].score', lt: 1 },
        ],
      },
    });
    expect(r.status, JSON.stringify(r)).toBe('passed');
    const req = server.requests[server.requests.length - 1]!;
    expect(req.method).toBe('POST');
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({ features: [0.1, 2, 3] });
  });

  it('checks the validation error of a bad input (422)', async () => {
    const r = await run({
      url: server.url('/predict'),
      method: 'POST',
      body: { wrong: true },
      expect: { status: 422, json: [{ path: 'detail[0].loc[*]', type: 'string' }, { path: 'detail[0].msg', matches: '(?i)REQUIRED' }] },
    });
    expect(r.status, JSON.stringify(r)).toBe('passed');
  });

  it('sends a string body as it is, PUT, and custom headers', async () => {
    const r = await run({
      url: server.url('/echo'),
      method: 'PUT',
      body: 'a=1&b=2',
      headers: { Authorization: 'Bearer t0ken', 'Content-Type': 'text/plain' },
      expect: {
        json: [
          { path: 'method', eq: 'PUT' },
          { path: 'body', eq: 'a=1&b=2' },
          { path: 'auth', eq: 'Bearer t0ken' },
          { path: 'contentType', eq: 'text/plain' },
        ],
      },
    });
    expect(r.status, JSON.stringify(r)).toBe('passed');
  });

  it('names a missing field, a wrong type and a value out of range', async () => {
    const msg = failedMessage(
      await run({ url: server.url('/no-prediction'), expect: { json: [{ path: 'prediction', exists: true }] } }),
    );
    expect(msg).toBe(`GET ${server.url('/no-prediction')} answered 200, but field \`prediction\` is missing`);

    const msg2 = failedMessage(
      await run({
        url: server.url('/predict'),
        method: 'POST',
        body: { features: [1] },
        expect: {
          json: [
            { path: 'prediction', type: 'string' },
            { path: 'probability', gte: 0.9 },
            { path: 'items[*].score', lte: 0.5 },
            { path: 'probability', ne: 0.87 },
          ],
        },
      }),
    );
    expect(msg2).toContain('`prediction` is 1, expected a string');
    expect(msg2).toContain('`probability` is 0.87, expected at least 0.9');
    expect(msg2).toContain('`items[1].score` is 0.9, expected at most 0.5');
    expect(msg2).toContain('`probability` is 0.87, expected anything but that');
  });

  it('judges a text body with bodyMatches and bodyNotMatches', async () => {
    expect((await run({ url: server.url('/text'), expect: { bodyMatches: 'version=1\\.4' } })).status).toBe('passed');
    expect(failedMessage(await run({ url: server.url('/text'), expect: { bodyMatches: 'version=2' } }))).toContain(
      'the body does not match /version=2/',
    );
    expect(failedMessage(await run({ url: server.url('/text'), expect: { bodyNotMatches: 'ready' } }))).toContain(
      'the body contains "ready", which must not match /ready/',
    );
  });

  it('fails a missing or mismatching response header', async () => {
    const msg = failedMessage(await run({ url: server.url('/text'), expect: { headers: { 'x-model-version': '.', 'content-type': 'json' } } }));
    expect(msg).toContain('answered without a `x-model-version` header');
    expect(msg).toContain('header `content-type` is "text/plain", expected to match /json/');
  });

  it('measures latency with curl time_total', async () => {
    const msg = failedMessage(await run({ url: server.url('/slow'), expect: { maxLatencyMs: 100 } }));
    expect(msg).toMatch(/answered 200, but answered in \d+ ms, expected at most 100 ms/);
    const ms = Number(/in (\d+) ms/.exec(msg)?.[1]);
    expect(ms).toBeGreaterThanOrEqual(380);
    expect((await run({ url: server.url('/slow'), expect: { maxLatencyMs: 5000 } })).status).toBe('passed');
  });

  it('is not fooled by a body that imitates the status line', async () => {
    const msg = failedMessage(await run({ url: server.url('/fake-status'), expect: { status: 200 } }));
    expect(msg).toContain('answered 500, expected 200');
  });
});

describe('http check: readiness, timeouts, hostile answers', () => {
  it('waits for a service that comes up late, then judges it', async () => {
    const port = await freePort();
    let late: TestServer | undefined;
    const timer = setTimeout(() => {
      void startServer((_req, res) => json(res, 200, { status: 'ok' }), port).then((s) => (late = s));
    }, 1200);
    try {
      const c = hostContext();
      const started = Date.now();
      const r = await run(
        { url: `http://127.0.0.1:${port}/health`, wait: { timeoutSeconds: 15, intervalMs: 200 }, expect: { json: [{ path: 'status', eq: 'ok' }] } },
        c,
      );
      expect(r.status, JSON.stringify(r)).toBe('passed');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(c.calls.length).toBeGreaterThan(2);
      c.dispose();
    } finally {
      clearTimeout(timer);
      await late?.close();
    }
  });

  it('fails (not errors) when the service never comes up within the wait', async () => {
    const port = await freePort();
    const c = hostContext();
    const started = Date.now();
    const r = await run({ url: `http://127.0.0.1:${port}/health`, wait: { timeoutSeconds: 1.5, intervalMs: 200 } }, c);
    const msg = failedMessage(r);
    expect(msg).toMatch(new RegExp(`^GET http://127\\.0\\.0\\.1:${port}/health did not answer within \\d+ s \\(\\d+ attempts\\): `));
    expect(msg).toMatch(/connect/i);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(c.calls.length).toBeGreaterThan(2);
    c.dispose();
  });

  it('without wait, a refused connection fails at once', async () => {
    const port = await freePort();
    const msg = failedMessage(await run({ url: `http://127.0.0.1:${port}/` }));
    expect(msg).toMatch(/did not answer: .*connect/i);
  });

  it('keeps the wait inside the check own time budget', async () => {
    const port = await freePort();
    const started = Date.now();
    const r = await httpCheck.run({ ...spec({ url: `http://127.0.0.1:${port}/`, wait: { timeoutSeconds: 60, intervalMs: 200 } }), timeoutSeconds: 4 }, ctx);
    expect(r.status).toBe('failed');
    expect(Date.now() - started).toBeLessThan(3500);
  });

  it('fails a service that never answers a request within requestTimeoutSeconds', async () => {
    const started = Date.now();
    const msg = failedMessage(await run({ url: server.url('/hang'), requestTimeoutSeconds: 1 }));
    expect(msg).toMatch(/did not answer: .*(timed out|Timeout)/i);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('fails a service that sends headers and then stalls', async () => {
    const msg = failedMessage(await run({ url: server.url('/stall-body'), requestTimeoutSeconds: 1 }));
    expect(msg).toMatch(/answered 200 but the transfer failed: .*time/i);
  });

  it('bounds a huge body (declared length and chunked) and says so', async () => {
    for (const p of ['/huge', '/huge-chunked']) {
      const msg = failedMessage(await run({ url: server.url(p), expect: { json: [{ path: 'data', exists: true }] } }));
      expect(msg).toMatch(/the answer is larger than 1048576 bytes/);
    }
    // Status alone can still be judged on a huge answer.
    expect((await run({ url: server.url('/huge-chunked'), expect: { status: 200 } })).status).toBe('passed');
  });

  it('fails malformed JSON with a clear, bounded message', async () => {
    const msg = failedMessage(await run({ url: server.url('/malformed'), expect: { json: [{ path: 'prediction', eq: 1 }] } }));
    expect(msg).toMatch(/answered 200, but the body is not JSON \(/);
    expect(msg.length).toBeLessThan(400);
  });

  it('copes with very deep JSON without recursion trouble', async () => {
    const r = await run({ url: server.url('/deep'), expect: { json: [{ path: '[0][0][0]', type: 'array' }, { path: '$', eq: [] }] } });
    const msg = failedMessage(r);
    expect(msg).toContain('the document is [[[[… 1 items]]]], expected []');
    expect(msg.length).toBeLessThan(400);
  });

  it('reports a broken grader curl as an error, never as a fail', async () => {
    const c = hostContext({
      exec: () => Promise.resolve({ exitCode: 127, stdout: '', stderr: 'exec: "/usr/bin/curl": not found', timedOut: false, truncated: false }),
    });
    const r = await run({ url: server.url('/health') }, c);
    expect(r).toMatchObject({ status: 'error', code: 'GRADER_CURL' });
    c.dispose();
  });
});

describe('http check: the schema refuses hostile or broken specs', () => {
  const bad = (fields: Record<string, unknown>) => httpSpecSchema.safeParse({ type: 'http', ...fields });

  it.each([
    'http://example.com/',
    'https://169.254.169.254/latest/meta-data/',
    'http://127.0.0.1.nip.io:8000/',
    'http://localhost@evil.example/',
    'http://user:pw@127.0.0.1:8000/',
    'file:///etc/passwd',
    'gopher://127.0.0.1:8000/',
    'ftp://127.0.0.1/',
    '-K/etc/passwd',
    'http://10.0.0.1:8000/',
    '127.0.0.1:8000/health',
  ])('refuses %s', (url) => {
    const r = bad({ url });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/URL refused/);
  });

  it.each(['http://127.0.0.1:8000/x', 'http://localhost:8000/', 'https://[::1]:8443/', 'http://opslab:8000/'])('allows %s', (url) => {
    expect(bad({ url }).success).toBe(true);
  });

  it('normalises numeric host forms to the address curl is given', async () => {
    const c = hostContext();
    const port = server.port;
    const r = await run({ url: `http://2130706433:${port}/health` }, c);
    expect(r.status).toBe('passed');
    expect(c.calls[0]!.cmd).toContain(`http://127.0.0.1:${port}/health`);
    c.dispose();
  });

  it('refuses header injection, a GET with a body, unknown fields and bad patterns', () => {
    expect(bad({ url: 'http://127.0.0.1/', headers: { 'X-A': 'v\r\nHost: evil' } }).success).toBe(false);
    expect(bad({ url: 'http://127.0.0.1/', headers: { 'X-A: b': 'v' } }).success).toBe(false);
    expect(bad({ url: 'http://127.0.0.1/', body: { a: 1 } }).success).toBe(false);
    expect(bad({ url: 'http://127.0.0.1/', method: 'DELETE' }).success).toBe(false);
    expect(bad({ url: 'http://127.0.0.1/', expect: { statuss: 200 } }).success).toBe(false);
    expect(bad({ url: 'http://127.0.0.1/', expect: { bodyMatches: '(' } }).success).toBe(false);
    expect(bad({ url: 'http://127.0.0.1/', expect: { json: [{ path: 'a..b', eq: 1 }] } }).success).toBe(false);
    expect(bad({ url: 'http://127.0.0.1/', expect: { json: [{ path: 'a' }] } }).success).toBe(false);
    expect(bad({ url: 'http://127.0.0.1/', wait: { timeoutSeconds: 5, intervalMs: 1 } }).success).toBe(false);
  });
});
