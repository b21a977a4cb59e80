#!/usr/bin/env bash
# A correct alternative: keep the Deployment as the pod template and point a Rollout at
# it with workloadRef; the analysis runs in the background from the first step; all the
# objects live in one multi-document file, k8s/churn-api.yaml.
set -euo pipefail
git rm -q k8s/deployment.yaml k8s/service.yaml
mkdir -p k8s
cat > k8s/churn-api.yaml <<'YAML'
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: churn-api
  labels:
    app: churn-api
spec:
  replicas: 4
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
          image: "registry.example.com/ml/churn-api:1.5.0"
          ports:
            - name: http
              containerPort: 8080
          resources:
            requests: { cpu: 200m, memory: 384Mi }
            limits: { cpu: 500m, memory: 768Mi }
          readinessProbe:
            httpGet: { path: /health, port: http }
            periodSeconds: 5
---
apiVersion: v1
kind: Service
metadata:
  name: churn-api
spec:
  selector:
    app: churn-api
  ports:
    - name: http
      port: 80
      targetPort: http
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: http-success-rate
spec:
  args:
    - name: app
  metrics:
    - name: success-rate
      interval: 2m
      failureLimit: 2
      successCondition: len(result) == 0 || result[0] > 0.995
      provider:
        prometheus:
          address: http://prometheus.monitoring.svc.cluster.local:9090
          query: >-
            sum(rate(http_requests_total{app="{{args.app}}",code!~"5.."}[2m])) /
            sum(rate(http_requests_total{app="{{args.app}}"}[2m]))
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: churn-api
spec:
  replicas: 4
  selector:
    matchLabels:
      app: churn-api
  workloadRef:
    apiVersion: apps/v1
    kind: Deployment
    name: churn-api
    scaleDown: progressively
  strategy:
    canary:
      analysis:
        startingStep: 1
        templates:
          - templateName: http-success-rate
        args:
          - name: app
            value: churn-api
      steps:
        - setWeight: 5
        - pause: {duration: 10m}
        - setWeight: 20
        - pause: {duration: 10m}
        - setWeight: 50
        - pause: {}
YAML
git add -A k8s
git commit -q -m "churn-api 1.5.0: canary via Rollout workloadRef with background analysis"
