/**
 * `http`: a service running in the sandbox answers as it should. One request by the
 * grader's curl (see http-curl.ts), judged on status, JSON fields, body, headers and
 * latency (curl's `time_total`, measured inside the sandbox's network).
 *
 * With `wait`, the check first retries until the service answers at all (any status),
 * then judges that answer once; a service that never comes up fails with a clear message.
 *
 *   - id: predict-works
 *     type: http
 *     url: http://127.0.0.1:8000/predict
 *     method: POST
 *     body: { features: [0.1, 2, 3] }
 *     wait: { timeoutSeconds: 30 }
 *     expect:
 *       status: 200
 *       json: [{ path: prediction, type: integer }]
 *       maxLatencyMs: 500
 */
import { z } from 'zod';
import { checkJson, clipText, compilePattern, compileTextPattern, jsonExpectationSchema, parseJsonBounded, patternSchema, preview } from '../json-expect.js';
import type { CheckContext, CheckResult, CheckType } from '../types.js';
import { checkError, clip, fail, pass } from '../types.js';
import type { CurlOutcome } from './http-curl.js';
import { curlRequest, headerNameSchema, headerValueSchema, parseSandboxUrl, sandboxUrlSchema, sleep } from './http-curl.js';

const MIB = 1024 * 1024;
const statusCode = z.number().int().min(100).max(599);

const expectSchema = z.strictObject({
  /** Status or statuses accepted; default: any 2xx. */
  status: z.union([statusCode, z.array(statusCode).min(1).max(50)]).optional(),
  /** Expectations on the JSON body (the body must then be JSON). */
  json: z.array(jsonExpectationSchema).min(1).max(100).optional(),
  bodyMatches: patternSchema.optional(),
  bodyNotMatches: patternSchema.optional(),
  /** Response headers (name, case-insensitive) whose value must match a pattern. */
  headers: z.record(headerNameSchema, patternSchema).optional(),
  /** curl's time_total for the judged request. */
  maxLatencyMs: z.number().positive().max(600_000).optional(),
});

export const httpSpecSchema = z
  .strictObject({
    type: z.literal('http'),
    /** http(s) on the sandbox only: 127.0.0.1, localhost, [::1] or opslab. */
    url: sandboxUrlSchema,
    method: z.enum(['GET', 'POST', 'PUT']).default('GET'),
    headers: z.record(headerNameSchema, headerValueSchema).optional(),
    /** A string is sent as it is; anything else as JSON (with `Content-Type: application/json` unless set). */
    body: z.json().optional(),
    /** Limit for one request. */
    requestTimeoutSeconds: z.number().positive().max(120).default(10),
    /** Larger answers are cut; JSON expectations on a cut body fail. */
    maxBodyBytes: z.number().int().positive().max(16 * MIB).default(MIB),
    /** Retry until the service answers at all, then judge that answer. */
    wait: z
      .strictObject({
        timeoutSeconds: z.number().positive().max(600).default(30),
        intervalMs: z.number().int().min(100).max(10_000).default(500),
      })
      .optional(),
    expect: expectSchema.default({}),
  })
  .refine((s) => !(s.method === 'GET' && s.body !== undefined), { message: 'a GET request has no body', path: ['body'] });

export type HttpSpec = z.output<typeof httpSpecSchema> & {
  /** The check's own time budget (the common `timeoutSeconds` field), when run by the runner. */
  timeoutSeconds?: number;
};

/** Kept free of the runner's timeout so the check fails with its own message first. */
const BUDGET_MARGIN_MS = 3_000;

export const httpCheck: CheckType<HttpSpec> = {
  type: 'http',
  schema: httpSpecSchema as z.ZodType<HttpSpec>,
  run: runHttpCheck,
};

async function runHttpCheck(spec: HttpSpec, ctx: CheckContext): Promise<CheckResult> {
  const parsed = parseSandboxUrl(spec.url);
  if (!parsed.ok) return checkError('BAD_SPEC', `url refused: ${parsed.reason}`);
  const url = parsed.url.href;
  const what = `${spec.method} ${url}`;
  const headers: Record<string, string> = { ...spec.headers };
  let body: string | undefined;
  if (spec.body !== undefined) {
    if (typeof spec.body === 'string') body = spec.body;
    else {
      body = JSON.stringify(spec.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
    }
  }

  const started = Date.now();
  const budgetMs = spec.timeoutSeconds !== undefined ? spec.timeoutSeconds * 1000 - BUDGET_MARGIN_MS : Infinity;
  const waitMs = spec.wait ? Math.min(spec.wait.timeoutSeconds * 1000, budgetMs) : 0;
  const deadline = started + waitMs;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    const outcome = await curlRequest(ctx, {
      method: spec.method,
      url,
      headers,
      ...(body !== undefined ? { body } : {}),
      timeoutMs: Math.max(1000, Math.min(spec.requestTimeoutSeconds * 1000, budgetMs)),
      maxBodyBytes: spec.maxBodyBytes,
      signal: ctx.signal,
    });
    if (outcome.kind === 'broken') return checkError('GRADER_CURL', outcome.reason);
    if (outcome.kind === 'answered') return judge(spec, what, outcome);
    const interval = spec.wait?.intervalMs ?? 0;
    if (!spec.wait || Date.now() + interval >= deadline) {
      const waited = spec.wait ? ` within ${Math.round((Date.now() - started) / 1000)} s (${attempts} attempts)` : '';
      return fail(`${what} did not answer${waited}: ${outcome.reason}`, `curl exit ${outcome.curlExit}: ${outcome.reason}`);
    }
    await sleep(interval, ctx.signal);
  }
}

function judge(spec: HttpSpec, what: string, r: Extract<CurlOutcome, { kind: 'answered' }>): CheckResult {
  const problems: string[] = [];
  const expect = spec.expect;
  const evidence = clip(
    `HTTP ${r.status} in ${r.timeMs} ms, ${r.sizeBytes} bytes${r.bodyTruncated ? ` (cut at ${spec.maxBodyBytes})` : ''}\n${r.body}`,
    1500,
  );

  if (r.transferError) return fail(`${what} answered ${r.status} but the transfer failed: ${r.transferError}`, evidence);

  const accepted = expect.status === undefined ? undefined : Array.isArray(expect.status) ? expect.status : [expect.status];
  const statusOk = accepted ? accepted.includes(r.status) : r.status >= 200 && r.status < 300;
  if (!statusOk) {
    const wanted = accepted ? accepted.join(' or ') : '2xx';
    const detail = r.body.trim() ? `: ${clipText(r.body, 200)}` : '';
    // A wrong status usually makes the other expectations moot: report it alone.
    return fail(`${what} answered ${r.status}, expected ${wanted}${detail}`, evidence);
  }

  if (expect.maxLatencyMs !== undefined && r.timeMs > expect.maxLatencyMs) {
    problems.push(`answered in ${r.timeMs} ms, expected at most ${expect.maxLatencyMs} ms`);
  }
  for (const [name, pattern] of Object.entries(expect.headers ?? {})) {
    const values = r.headers[name.toLowerCase()];
    if (!values || values.length === 0) problems.push(`answered without a \`${name}\` header`);
    else if (!values.some((v) => compilePattern(pattern).test(v))) {
      problems.push(`header \`${name}\` is ${preview(values.join(', '))}, expected to match /${pattern}/`);
    }
  }
  if (expect.bodyMatches !== undefined || expect.bodyNotMatches !== undefined || expect.json) {
    if (r.bodyTruncated) {
      problems.push(`the answer is larger than ${spec.maxBodyBytes} bytes (${r.sizeBytes}), too large to judge`);
      return fail(`${what}: ${problems.join('; ')}`, evidence);
    }
  }
  if (expect.bodyMatches !== undefined && !compileTextPattern(expect.bodyMatches).test(r.body)) {
    problems.push(`the body does not match /${expect.bodyMatches}/`);
  }
  if (expect.bodyNotMatches !== undefined) {
    const m = compileTextPattern(expect.bodyNotMatches).exec(r.body);
    if (m) problems.push(`the body contains ${preview(m[0])}, which must not match /${expect.bodyNotMatches}/`);
  }
  if (expect.json) {
    const doc = parseJsonBounded(r.body, spec.maxBodyBytes);
    if (!doc.ok) problems.push(`the body ${doc.error ?? 'is not JSON'}`);
    else {
      for (const e of expect.json) {
        const why = checkJson(doc.value, e);
        if (why) problems.push(why);
      }
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; and ${problems.length - 5} more` : '');
    return fail(`${what} answered ${r.status}, but ${shown}`, evidence);
  }
  return pass(evidence);
}
