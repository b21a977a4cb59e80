"""Prometheus metrics of churn-api, and the ASGI middleware that records them."""
import time

from prometheus_client import Counter, Histogram

# prometheus_client adds the _total suffix of counters itself.
REQUESTS = Counter("churn_api_requests", "Requests answered, by route and HTTP status.", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "churn_api_request_duration_seconds",
    "Request latency in seconds, by route.",
    ["endpoint", "method"],
    buckets=(0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5),
)
PREDICTIONS = Counter("churn_api_predictions", "Predictions returned, by class.", ["prediction"])
PROBABILITY = Histogram(
    "churn_api_prediction_probability",
    "Predicted churn probability.",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)
PREDICTIONS.labels("0")
PREDICTIONS.labels("1")


class PrometheusMiddleware:
    """Pure ASGI: sees the status of every response, the 422s of validation included."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_and_record(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            if route is not None:
                endpoint = route.path
            elif scope["path"].rstrip("/") == "/metrics":
                endpoint = "/metrics"
            else:
                endpoint = "unmatched"
            method = scope["method"]
            LATENCY.labels(endpoint, method).observe(time.perf_counter() - start)
            REQUESTS.labels(endpoint, method, str(status["code"])).inc()
