"""How the operations routes are introduced in the API docs."""

TAG = {
    "name": "operations",
    "description": (
        "For load balancers and monitoring: liveness (`/healthz`), readiness (`/readyz`) "
        "and Prometheus metrics (`/metrics`)."
    ),
}
