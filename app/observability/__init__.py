"""What the service tells operators: request ids, JSON logs and Prometheus metrics."""
