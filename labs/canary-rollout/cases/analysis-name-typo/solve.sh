#!/usr/bin/env bash
# The reference solution with one mistake: both analysis steps name success-rate, but the AnalysisTemplate is churn-api-success-rate, losing analysis-referenced
set -euo pipefail
mkdir -p k8s
cat > k8s/rollout.yaml <<'YAML'
# churn-api as an Argo Rollout: 1.5.0 ships as a canary, gated by the success rate.
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: churn-api
  labels:
    app: churn-api
spec:
  replicas: 4
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      app: churn-api
  template:
    metadata:
      labels:
        app: churn-api
    spec:
      containers:
        - name: churn-api
          image: registry.example.com/ml/churn-api:1.5.0
          ports:
            - name: http
              containerPort: 8080
          readinessProbe:
            httpGet:
              path: /health
              port: 8080
            initialDelaySeconds: 5
            periodSeconds: 10
          resources:
            requests:
              cpu: 250m
              memory: 512Mi
            limits:
              cpu: "1"
              memory: 1Gi
  strategy:
    canary:
      steps:
        - setWeight: 10
        - pause: { duration: 5m }
        - analysis:
            templates:
              - templateName: success-rate
        - setWeight: 25
        - pause: { duration: 10m }
        - setWeight: 50
        - pause: { duration: 10m }
        - analysis:
            templates:
              - templateName: success-rate
        - setWeight: 100
YAML
cat > k8s/analysis.yaml <<'YAML'
# Success rate of churn-api over the last 5 minutes: non-5xx responses / all responses.
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: churn-api-success-rate
spec:
  metrics:
    - name: success-rate
      interval: 1m
      count: 5
      failureLimit: 1
      successCondition: result[0] >= 0.99
      provider:
        prometheus:
          address: http://prometheus.monitoring.svc.cluster.local:9090
          query: |
            sum(rate(http_requests_total{app="churn-api",code!~"5.."}[5m]))
            /
            sum(rate(http_requests_total{app="churn-api"}[5m]))
YAML
git rm -q k8s/deployment.yaml
git add -A k8s
git commit -q -m "Ship churn-api 1.5.0 as a canary"
