/**
 * One HTTP request from the grader container, by the grader's own curl (never the
 * candidate's), for the `http` and `mlflow` checks. Only URLs on the sandbox itself are
 * allowed (the grader shares the candidate's network namespace, so 127.0.0.1 is the
 * sandbox); redirects are not followed; curl reads no config file and uses no proxy.
 *
 * The body comes back on stdout (bounded by `maxOutputBytes`); the status, time and
 * headers come on stderr after a per-request marker, so a body can never fake them.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { CheckContext } from '../types.js';

export const CURL = '/usr/bin/curl';
/**
 * A fixed environment: neither the image's ENV nor the workspace decides what runs (a
 * lab image might put a workspace virtualenv on its PATH). /opt/venv/bin is where the
 * shared Python image (labs/_images/python-ml) keeps its tools; it is part of the image,
 * read-only in the grader.
 */
export const GRADER_ENV: Record<string, string> = {
  PATH: '/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/tmp',
  LANG: 'C.UTF-8',
};

/** Hosts a check may call: the sandbox itself (`opslab` is the sandbox's hostname). */
export const SANDBOX_HOSTS: readonly string[] = ['127.0.0.1', 'localhost', '[::1]', 'opslab'];

/** Parses and normalises a sandbox URL, or says why it is refused. */
export function parseSandboxUrl(raw: string): { ok: true; url: URL } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: `only http and https, got ${url.protocol}` };
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'credentials in the URL are not allowed' };
  if (!SANDBOX_HOSTS.includes(url.hostname)) {
    return { ok: false, reason: `only the sandbox can be called (${SANDBOX_HOSTS.join(', ')}), got ${url.hostname || 'no host'}` };
  }
  return { ok: true, url };
}

export const sandboxUrlSchema = z
  .string()
  .min(1)
  .max(2000)
  .superRefine((s, ctx) => {
    const r = parseSandboxUrl(s);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: `URL refused: ${r.reason}` });
  });

export const headerNameSchema = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/, 'an HTTP header name');
export const headerValueSchema = z
  .string()
  .max(8000)
  .regex(/^[^\r\n\0]*$/, 'a header value on one line');

export interface CurlRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Whole request, connect included. */
  timeoutMs: number;
  /** Larger bodies are cut (and reported as such). */
  maxBodyBytes: number;
  signal?: AbortSignal;
}

export type CurlOutcome =
  | {
      kind: 'answered';
      status: number;
      timeMs: number;
      /** Response headers, names in lower case. */
      headers: Record<string, string[]>;
      body: string;
      /** Bytes the service sent (may exceed what was kept). */
      sizeBytes: number;
      bodyTruncated: boolean;
      /** Set when the service answered but the transfer then failed (reset, timeout mid-body). */
      transferError?: string;
    }
  /** Nothing answered: connection refused, no such host, timed out before any status. */
  | { kind: 'no-answer'; reason: string; curlExit: number }
  /** The checker's own trouble: curl missing or refusing its arguments, the exec hanging. */
  | { kind: 'broken'; reason: string };

/** curl exit codes that mean the grader's curl (or our use of it) is at fault. */
const BROKEN_EXITS = new Set([1, 2, 3, 4, 27, 43, 48, 126, 127]);
const MAX_FILESIZE_EXIT = 63;
const EXEC_GRACE_MS = 5_000;

export function curlArgs(req: CurlRequest, marker: string): string[] {
  const seconds = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));
  const args = [
    CURL,
    '-q', // first: read no .curlrc
    '-sS',
    '--globoff',
    '--proto',
    '=http,https',
    '--noproxy',
    '*',
    '--max-time',
    seconds(req.timeoutMs),
    '--connect-timeout',
    seconds(Math.min(req.timeoutMs, 10_000)),
    '--max-filesize',
    String(req.maxBodyBytes),
    '--user-agent',
    'opslab-grader',
    '-X',
    req.method,
    '-H',
    'Expect:',
  ];
  if (req.url.startsWith('https:')) args.push('--insecure'); // the sandbox's own certificate
  for (const [name, value] of Object.entries(req.headers ?? {})) args.push('-H', `${name}: ${value}`);
  if (req.body !== undefined) args.push('--data-binary', '@-');
  args.push('-o', '-', '-w', `%{stderr}\n${marker}%{http_code} %{time_total} %{size_download}\n%{header_json}`, req.url);
  return args;
}

/** Runs one request in the grader. Throws only when `signal` aborts. */
export async function curlRequest(ctx: CheckContext, req: CurlRequest): Promise<CurlOutcome> {
  const marker = `@@opslab-${randomBytes(8).toString('hex')}@@`;
  const result = await ctx.execGrader(curlArgs(req, marker), {
    env: GRADER_ENV,
    timeoutMs: req.timeoutMs + EXEC_GRACE_MS,
    // One byte over the limit tells a cut body apart; stderr gets the same room (headers).
    maxOutputBytes: Math.max(req.maxBodyBytes + 1, 512 * 1024),
    ...(req.body !== undefined ? { stdin: req.body } : {}),
    signal: req.signal ?? ctx.signal,
  });
  if (result.timedOut) return { kind: 'broken', reason: `the grader's curl did not finish within ${Math.ceil(req.timeoutMs / 1000) + 5} s` };

  const at = result.stderr.indexOf(marker);
  const curlMessage = lastLine(at >= 0 ? result.stderr.slice(0, at) : result.stderr);
  if (BROKEN_EXITS.has(result.exitCode)) {
    return { kind: 'broken', reason: `curl in the grader exited ${result.exitCode}${curlMessage ? `: ${curlMessage}` : ''}` };
  }
  if (at < 0) {
    return { kind: 'broken', reason: `curl in the grader printed no status (exit ${result.exitCode})${curlMessage ? `: ${curlMessage}` : ''}` };
  }
  const tail = result.stderr.slice(at + marker.length);
  const nl = tail.indexOf('\n');
  const [codeText = '', timeText = '', sizeText = ''] = (nl >= 0 ? tail.slice(0, nl) : tail).trim().split(/\s+/);
  const status = Number(codeText);
  const timeMs = Math.round(Number(timeText) * 1000);
  const sizeBytes = Number(sizeText);
  if (!Number.isInteger(status) || !Number.isFinite(timeMs)) {
    return { kind: 'broken', reason: `curl in the grader printed an unreadable status: ${JSON.stringify(tail.slice(0, 80))}` };
  }

  if (status === 0) {
    return { kind: 'no-answer', reason: curlMessage || `curl exited ${result.exitCode}`, curlExit: result.exitCode };
  }
  const headers = parseHeaderJson(nl >= 0 ? tail.slice(nl + 1) : '');
  const tooLarge = result.exitCode === MAX_FILESIZE_EXIT || sizeBytes > req.maxBodyBytes;
  let body = result.stdout;
  if (Buffer.byteLength(body) > req.maxBodyBytes) body = Buffer.from(body).subarray(0, req.maxBodyBytes).toString('utf8');
  const outcome: CurlOutcome = {
    kind: 'answered',
    status,
    timeMs,
    headers,
    body,
    sizeBytes: Number.isFinite(sizeBytes) ? sizeBytes : Buffer.byteLength(body),
    bodyTruncated: tooLarge,
  };
  if (result.exitCode !== 0 && !tooLarge) outcome.transferError = curlMessage || `curl exited ${result.exitCode}`;
  return outcome;
}

function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const line = lines[lines.length - 1] ?? '';
  return line.replace(/^curl: \(\d+\)\s*/, '').slice(0, 300);
}

function parseHeaderJson(text: string): Record<string, string[]> {
  try {
    const parsed = JSON.parse(text.trim() || '{}') as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    const out: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
      out[k.toLowerCase()] = Array.isArray(v) ? v.map(String) : [String(v)];
    }
    return out;
  } catch {
    return {};
  }
}

/** Waits `ms`, or less if `signal` aborts (then throws its reason). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
