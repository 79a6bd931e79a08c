"""Prometheus helpers: each service declares its metric names in its own `metrics.py`."""

from __future__ import annotations

from prometheus_client import start_http_server


def serve_metrics(port: int) -> None:
    """Expose /metrics on `port` (0 = disabled, e.g. in tests)."""
    if port:
        start_http_server(port, addr="127.0.0.1")
