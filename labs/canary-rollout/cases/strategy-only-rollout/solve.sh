#!/usr/bin/env bash
# A common misreading: the Rollout "wraps" the Deployment by sharing its labels. Without
# spec.template or spec.workloadRef, Argo Rollouts runs nothing and the Deployment keeps
# serving every request: no canary at all.
set -euo pipefail
sed -i -e 's/churn-api:1\.4\.0/churn-api:1.5.0/' \
  -e 's|^          readinessProbe:$|          resources:\n            requests: { cpu: 250m, memory: 512Mi }\n            limits: { cpu: "1", memory: 1Gi }\n          readinessProbe:|' k8s/deployment.yaml
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
  strategy:
    canary:
      steps:
        - setWeight: 10
        - pause: { duration: 5m }
        - analysis:
            templates:
              - templateName: churn-api-success-rate
        - setWeight: 25
        - pause: { duration: 10m }
        - setWeight: 50
        - pause: { duration: 10m }
        - analysis:
            templates:
              - templateName: churn-api-success-rate
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
git add -A k8s
git commit -q -m "Canary churn-api 1.5.0 with Argo Rollouts"
