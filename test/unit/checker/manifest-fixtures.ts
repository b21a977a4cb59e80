/**
 * Shared fixtures of the manifest check tests: a temp workspace standing in for the
 * snapshot, a fake CheckContext (no engine), and a valid set of canary manifests.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { manifestCheck } from '../../../server/checker/checks/manifest.js';
import type { CheckContext, CheckResult } from '../../../server/checker/types.js';

export interface Workspace {
  root: string;
  ws: string;
  put(rel: string, content: string | Buffer): string;
  ctx(): CheckContext;
  check(raw: Record<string, unknown>): Promise<CheckResult>;
  dispose(): void;
}

export function makeWorkspace(): Workspace {
  const root = mkdtempSync(path.join(tmpdir(), 'opslab-manifest-'));
  const ws = path.join(root, 'ws');
  mkdirSync(ws);
  const ctx = (): CheckContext => {
    // A new snapshot object per context, as a new grading would have (the parse cache is per snapshot).
    const snapshot = { dir: ws, skipped: [] };
    return {
      snapshot: () => Promise.resolve(snapshot),
      execGrader: () => Promise.reject(new Error('no grader in unit tests')),
      labDir: root,
      startRef: '0'.repeat(40),
      signal: new AbortController().signal,
      logger: pino({ level: 'silent' }),
    };
  };
  return {
    root,
    ws,
    put(rel, content) {
      const p = path.join(ws, rel);
      mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, content);
      return p;
    },
    ctx,
    async check(raw) {
      const spec = manifestCheck.schema.parse({ type: 'manifest', ...raw });
      return manifestCheck.run(spec, ctx());
    },
    dispose: () => rmSync(root, { recursive: true, force: true }),
  };
}

export function message(r: CheckResult): string {
  if (r.status === 'failed') return r.message;
  if (r.status === 'error') return `ERROR ${r.code}: ${r.message}`;
  return '';
}

export const DEPLOYMENT = `# the stable version, before the migration
apiVersion: apps/v1
kind: Deployment
metadata:
  name: churn-api-v1
  labels:
    app: churn-api
    app.kubernetes.io/part-of: churn
  annotations:
    prometheus.io/scrape: "true"
spec:
  replicas: 2
  selector:
    matchLabels:
      app: churn-api
  template:
    metadata:
      labels:
        app: churn-api
    spec:
      containers:
        - name: api
          image: churn-api:1.4.0
          ports:
            - containerPort: 8080
              name: http
          resources:
            limits: { cpu: 500m, memory: 256Mi }
          env:
            - name: MODEL_URI
              value: models:/churn/Production
`;

export const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: churn-api
spec:
  selector:
    app: churn-api
  ports:
    - port: 80
      targetPort: http
`;

export const ROLLOUT = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: churn-api
  labels: { app: churn-api }
spec:
  replicas: 3
  selector:
    matchLabels:
      app: churn-api
  template:
    metadata:
      labels:
        app: churn-api
    spec:
      containers:
        - name: api
          image: churn-api:2.1.0
          ports:
            - containerPort: 8080
              name: http
  strategy:
    canary:
      analysis:
        templates:
          - templateName: success-rate
        startingStep: 2
        args:
          - name: service
            value: churn-api
      steps:
        - setWeight: 10
        - pause: { duration: 1m }
        - setWeight: 30
        - analysis:
            templates:
              - templateName: success-rate
        - setWeight: 60
        - pause: {}
`;

export const ANALYSIS = `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
    - name: service
  metrics:
    - name: success-rate
      interval: 1m
      count: 5
      successCondition: result[0] >= 0.95
      failureLimit: 1
      provider:
        prometheus:
          address: http://prometheus.monitoring:9090
          query: |
            sum(rate(http_requests_total{service="{{args.service}}",code!~"5.."}[2m]))
            /
            sum(rate(http_requests_total{service="{{args.service}}"}[2m]))
    - name: smoke
      provider:
        web:
          url: http://churn-api/predict
          method: POST
          jsonPath: "{$.ok}"
          jsonBody:
            features: { tenure: 3, plan: basic }
            anything: [goes, here]
`;

export const VIRTUAL_SERVICE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: churn-api
spec:
  hosts: [churn-api]
  http:
    - name: primary
      route:
        - destination: { host: churn-api, subset: stable }
          weight: 90
        - destination: { host: churn-api, subset: canary }
          weight: 10
      timeout: 5s
`;

export const SERVICE_MONITOR = `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: churn-api
  labels: { release: prometheus }
spec:
  selector:
    matchLabels: { app: churn-api }
  endpoints:
    - port: http
      path: /metrics
      interval: 15s
`;

/** Writes the four canary manifests under k8s/. */
export function putCanary(w: Workspace): void {
  w.put('k8s/deployment.yaml', DEPLOYMENT);
  w.put('k8s/service.yaml', SERVICE);
  w.put('k8s/rollout.yaml', ROLLOUT);
  w.put('k8s/analysis.yaml', ANALYSIS);
}

/** 1-based line of the first line containing `needle`. */
export function lineOf(text: string, needle: string): number {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`${needle} not in fixture`);
  return text.slice(0, i).split('\n').length;
}
