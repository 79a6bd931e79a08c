"""Deployment: the local runtime (`deploy.local.runtime`), the Dockerfile, Prometheus. Not shipped."""
