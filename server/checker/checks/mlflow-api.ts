/**
 * A small MLflow REST client for the `mlflow` check: every request is one curl in the
 * grader (http-curl.ts), every answer size-capped and parsed as JSON on the server, and
 * pagination (`next_page_token`) followed up to a cap.
 *
 * Endpoints used (MLflow REST API 2.0, https://mlflow.org/docs/latest/rest-api.html):
 *   GET  experiments/get-by-name   ?experiment_name=          -> { experiment }
 *   GET  experiments/search        ?max_results=              -> { experiments, next_page_token }
 *   POST runs/search               { experiment_ids, filter, run_view_type, max_results, page_token } -> { runs, next_page_token }
 *   GET  runs/get                  ?run_id=                   -> { run }
 *   GET  artifacts/list            ?run_id=&path=&page_token= -> { root_uri, files: [{ path, is_dir, file_size }], next_page_token }
 *   GET  registered-models/get     ?name=                     -> { registered_model }
 *   GET  registered-models/search  ?max_results=              -> { registered_models }
 *   GET  model-versions/search     ?filter=name='x'&max_results=&page_token= -> { model_versions, next_page_token }
 * and, from MLflow 3 (models logged as "logged models" outside the run's artifacts):
 *   POST logged-models/search      { experiment_ids, max_results, page_token } -> { models: [{ info }], next_page_token }
 *   GET  logged-models/{id}/artifacts/directories ?artifact_directory_path= -> { files, next_page_token }
 * Errors come as `{ error_code, message }` with a 4xx/5xx status (404 RESOURCE_DOES_NOT_EXIST).
 */
import { clipText, parseJsonBounded, preview } from '../json-expect.js';
import type { CheckContext } from '../types.js';
import { curlRequest } from './http-curl.js';

const MIB = 1024 * 1024;

export type MlflowFaultCode = 'MLFLOW_UNREACHABLE' | 'MLFLOW_BAD_ANSWER' | 'GRADER_CURL' | 'TOO_MANY' | 'BAD_SPEC';

/** The check cannot decide: reported as `error`, never as a fail. */
export class MlflowFault extends Error {
  constructor(
    readonly code: MlflowFaultCode,
    message: string,
  ) {
    super(message);
    this.name = 'MlflowFault';
  }
}

export interface MlflowAnswer {
  status: number;
  json: Record<string, unknown>;
  /** `error_code` of an error answer. */
  errorCode?: string;
}

export interface MlflowApiOptions {
  /** Per request. */
  timeoutMs?: number;
  /** Per answer (one page). */
  maxBodyBytes?: number;
}

export class MlflowApi {
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;
  /** Requests made (for evidence and tests). */
  requests = 0;

  constructor(
    private readonly ctx: CheckContext,
    /** The tracking server, e.g. `http://127.0.0.1:5000` (no trailing slash). */
    readonly base: string,
    options: MlflowApiOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 8 * MIB;
  }

  /** One request. Answers of any status come back; only transport and format problems throw. */
  async call(method: 'GET' | 'POST', endpoint: string, params: Record<string, unknown> = {}): Promise<MlflowAnswer> {
    let url = `${this.base}/api/2.0/mlflow/${endpoint}`;
    let body: string | undefined;
    if (method === 'GET') {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
      const qs = q.toString();
      if (qs) url += `?${qs}`;
    } else {
      body = JSON.stringify(params);
    }
    this.requests += 1;
    const r = await curlRequest(this.ctx, {
      method,
      url,
      ...(body !== undefined ? { body, headers: { 'Content-Type': 'application/json' } } : {}),
      timeoutMs: this.timeoutMs,
      maxBodyBytes: this.maxBodyBytes,
      signal: this.ctx.signal,
    });
    const what = `${method} ${endpoint}`;
    if (r.kind === 'broken') throw new MlflowFault('GRADER_CURL', r.reason);
    if (r.kind === 'no-answer') throw new MlflowFault('MLFLOW_UNREACHABLE', `no MLflow tracking server answered at ${this.base}: ${r.reason}`);
    if (r.transferError) throw new MlflowFault('MLFLOW_BAD_ANSWER', `${what}: the answer broke off: ${r.transferError}`);
    if (r.bodyTruncated) {
      throw new MlflowFault('MLFLOW_BAD_ANSWER', `${what}: the answer is larger than ${this.maxBodyBytes} bytes (${r.sizeBytes})`);
    }
    const parsed = parseJsonBounded(r.body, this.maxBodyBytes);
    const json = parsed.ok ? parsed.value : undefined;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      // A route the server does not have (an older MLflow) answers 404 with HTML.
      if (r.status === 404) return { status: 404, json: {}, errorCode: 'ENDPOINT_NOT_FOUND' };
      throw new MlflowFault(
        'MLFLOW_BAD_ANSWER',
        `${what} answered ${r.status} with ${parsed.ok ? 'JSON that is not an object' : `a body that ${parsed.error ?? 'is not JSON'}`}: ${preview(r.body, 200)}`,
      );
    }
    const obj = json as Record<string, unknown>;
    const errorCode = typeof obj.error_code === 'string' ? obj.error_code : undefined;
    return { status: r.status, json: obj, ...(errorCode ? { errorCode } : {}) };
  }

  /** Like `call`, but anything but 200 is a fault. */
  async ok(method: 'GET' | 'POST', endpoint: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const a = await this.call(method, endpoint, params);
    if (a.status !== 200) throw this.faultOf(method, endpoint, a);
    return a.json;
  }

  faultOf(method: string, endpoint: string, a: MlflowAnswer): MlflowFault {
    const message = typeof a.json.message === 'string' ? a.json.message : '';
    const code = a.status === 400 ? 'BAD_SPEC' : 'MLFLOW_BAD_ANSWER';
    return new MlflowFault(code, `${method} ${endpoint} answered ${a.status}${a.errorCode ? ` ${a.errorCode}` : ''}${message ? `: ${clipText(message, 300)}` : ''}`);
  }

  /**
   * Follows `next_page_token` and collects `listKey` from every page. Stops with
   * `TOO_MANY` past `maxItems`. `missingOk`: a 404 (an endpoint this server lacks) gives `undefined`.
   */
  async all(
    method: 'GET' | 'POST',
    endpoint: string,
    params: Record<string, unknown>,
    listKey: string,
    options: { maxItems: number; maxPages?: number; missingOk?: boolean },
  ): Promise<unknown[] | undefined> {
    const items: unknown[] = [];
    let token: string | undefined;
    const maxPages = options.maxPages ?? 50;
    for (let page = 0; ; page++) {
      if (page >= maxPages) throw new MlflowFault('TOO_MANY', `${endpoint}: more than ${maxPages} pages`);
      const a = await this.call(method, endpoint, token ? { ...params, page_token: token } : params);
      if (a.status === 404 && options.missingOk) return undefined;
      if (a.status !== 200) throw this.faultOf(method, endpoint, a);
      const list = a.json[listKey];
      if (list !== undefined && !Array.isArray(list)) throw new MlflowFault('MLFLOW_BAD_ANSWER', `${endpoint}: \`${listKey}\` is not a list`);
      if (list) items.push(...(list as unknown[]));
      if (items.length > options.maxItems) {
        throw new MlflowFault('TOO_MANY', `${endpoint}: more than ${options.maxItems} ${listKey.replace(/_/g, ' ')}`);
      }
      const next = a.json.next_page_token;
      if (typeof next !== 'string' || next === '' || next === token) return items;
      token = next;
    }
  }
}

/** Runs `fn` over `items`, at most `limit` at a time, keeping order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
