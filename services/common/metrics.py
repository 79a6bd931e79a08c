"""Prometheus helpers: each service declares its metric names in its own `metrics.py`."""

from __future__ import annotations

from prometheus_client import start_http_server


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Expose /metrics on `port` (0 = disabled, e.g. in tests); containers pass host 0.0.0.0."""
    if port:
        start_http_server(port, addr=host)
